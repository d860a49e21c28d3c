package pipeline

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pcapDir holds the committed captures the tests read.
const pcapDir = "../../testdata/pcaps"

// version is the build version the tests give the metrics server.
const version = "dev"

// committedCaptures lists the captures in pcapDir, each as the paths that make it up:
// one file, or the pieces of a rotated set (NAME.pcap0, NAME.pcap1, ...) in order.
// Its report is the first path's NAME.expected.json.
func committedCaptures(t testing.TB) [][]string {
	t.Helper()
	entries, err := os.ReadDir(pcapDir)
	if err != nil {
		t.Fatal(err)
	}
	var sets [][]string
	rotated := map[string]int{} // set name: its index in sets
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.Contains(n, ".expected.") || strings.HasSuffix(n, ".txt") || strings.HasSuffix(n, ".md") {
			continue
		}
		path := filepath.Join(pcapDir, n)
		base := strings.TrimRight(n, "0123456789")
		if base == n {
			sets = append(sets, []string{path})
			continue
		}
		if i, ok := rotated[base]; ok {
			sets[i] = append(sets[i], path)
			continue
		}
		rotated[base] = len(sets)
		sets = append(sets, []string{path})
	}
	for _, i := range rotated {
		// Numerically: NAME.pcap10 comes after NAME.pcap9.
		slices.SortFunc(sets[i], func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
	}
	return sets
}

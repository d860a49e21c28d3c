package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CaptureSets lists the captures committed in dir (testdata/pcaps), each as the
// files that make it: a rotated set NAME.pcap0, NAME.pcap1, ... is one capture, its
// pieces in numeric order (NAME.pcap10 after NAME.pcap9). Every file but the expected
// reports, the ss(8) records (.txt) and the README is a capture, so a test reading
// them all fails on one finack cannot read. Sets are ordered by their first file.
func CaptureSets(dir string) ([][]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var sets [][]string
	rotated := map[string]int{} // set name: its index in sets
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.Contains(n, ".expected.") || strings.HasSuffix(n, ".txt") || strings.HasSuffix(n, ".md") {
			continue
		}
		path := filepath.Join(dir, n)
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
		slices.SortFunc(sets[i], func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
	}
	slices.SortFunc(sets, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	if len(sets) == 0 {
		return nil, fmt.Errorf("no captures in %s", dir)
	}
	return sets, nil
}

package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/capture/synth"
)

var update = flag.Bool("update", false, "rewrite the expected reports in testdata/pcaps")

// captureSets lists the captures in testdata/pcaps (synth.CaptureSets: a rotated set
// NAME.pcap0, NAME.pcap1, ... is one capture, named by its first piece), each as
// the -r arguments that read it from there (runIn(t, pcapDir, ...)): file names
// without the directory, as the expected reports name them.
func captureSets(t *testing.T) [][]string {
	t.Helper()
	sets, err := synth.CaptureSets(pcapDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		for i, f := range set {
			set[i] = filepath.Base(f)
		}
	}
	return sets
}

// TestExpectedReports compares finack's report of every capture in testdata/pcaps with
// the expected reports beside it, in JSON, in text with --connections and as a
// Zeek-style log (-o tsv).
func TestExpectedReports(t *testing.T) {
	sets := captureSets(t)
	if len(sets) == 0 {
		t.Fatal("no captures in testdata/pcaps")
	}
	for _, set := range sets {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			for _, form := range []struct {
				ext  string
				args []string
			}{
				{".expected.json", []string{"-o", "json"}},
				{".expected.txt", []string{"--connections"}},
				{".expected.tsv", []string{"-o", "tsv"}},
			} {
				out, errOut, code := runIn(t, pcapDir, append(args, form.args...)...)
				if code != pipeline.ExitOK {
					t.Fatalf("finack %v: exit %d: %s", args, code, errOut)
				}
				again, _, _ := runIn(t, pcapDir, append(args, form.args...)...)
				if again != out {
					t.Fatalf("finack %v: two runs gave different output", args)
				}
				path := filepath.Join(pcapDir, set[0]+form.ext)
				if *update {
					if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("no expected report (run go test ./cmd/finack -update and review it): %v", err)
				}
				if string(want) != out {
					t.Errorf("report differs from %s (go test ./cmd/finack -update rewrites it):\n%s", path, lineDiff(string(want), out))
				}
			}
		})
	}
}

// lineDiff shows the first lines that differ, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
			shown++
		}
	}
	return b.String()
}

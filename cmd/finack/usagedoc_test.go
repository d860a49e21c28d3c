package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestDocBlocks checks that the documentation shows what finack prints: each block
// between a pair of markers in a file is the output of the command line the marker
// names, run from the repository root, so the documented flags (docs/usage.md) and
// the README's sample report cannot drift from the real ones. -update rewrites the
// blocks.
func TestDocBlocks(t *testing.T) {
	t.Chdir("../..") // the repository root: the paths below, and the sample's file name
	for _, c := range []struct {
		file, marker string
		args         []string
	}{
		{"docs/usage.md", "finack --help", []string{"--help"}},
		{"README.md", "finack -r testdata/pcaps/final-ack-dropped.pcap",
			[]string{"-r", "testdata/pcaps/final-ack-dropped.pcap"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(c.args, &out, &errOut); code != pipeline.ExitOK {
				t.Fatalf("%s: exit %d, stderr %q", c.marker, code, errOut.String())
			}
			checkDocBlock(t, c.file, c.marker, "```text\n"+out.String()+"```\n")
		})
	}
}

// checkDocBlock compares the text between "<!-- MARKER: begin -->" and
// "<!-- MARKER: end -->" lines of file with want, or, with -update, writes want there.
func checkDocBlock(t *testing.T, file, marker, want string) {
	t.Helper()
	begin, end := "<!-- "+marker+": begin -->\n", "<!-- "+marker+": end -->\n"
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s: want the lines %q and %q, in that order", file, begin, end)
	}
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(file, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := range max(len(gl), len(wl)) {
		var g, w string
		if k < len(gl) {
			g = gl[k]
		}
		if k < len(wl) {
			w = wl[k]
		}
		if g != w {
			t.Fatalf("%s: the block of %q differs from what finack prints, at its line %d:\n doc:    %q\n finack: %q\nrun go test ./cmd/finack -run TestDocBlocks -update", file, marker, k+1, g, w)
		}
	}
}

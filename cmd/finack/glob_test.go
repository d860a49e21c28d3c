package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// globDir is a directory as a user's captures often are: rotated pieces (pcap, one
// gzip-compressed) with notes and expected reports beside them.
func globDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	pcap, err := os.ReadFile(filepath.Join(pcapDir, "client-close.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(pcap); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"a.pcap":          pcap,
		"b.pcap":          pcap,
		"c.pcap.gz":       gz.Bytes(),
		"a.expected.json": []byte("{}\n"),
		"notes.txt":       []byte("captured on the gateway\n"),
		"empty":           nil,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestGlobInputs: what -r does with patterns, quoted or expanded by the shell.
func TestGlobInputs(t *testing.T) {
	dir := globDir(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // each in the one line of stderr ("" none expected)
		files  string   // the report's file line
	}{
		// The shell expanded -r *.pcap: b.pcap became the filter. The hint
		// names the quoted pattern.
		{"unquoted pattern", []string{"-r", "a.pcap", "b.pcap"}, pipeline.ExitError,
			[]string{`filter "b.pcap"`, "b.pcap is a file", "-r '*.pcap'"}, ""},
		{"unquoted pattern, several", []string{"-r", "a.pcap", "b.pcap", "c.pcap.gz"}, pipeline.ExitError,
			[]string{"b.pcap is a file", "-r '*'"}, ""},
		{"unquoted pattern, --separate", []string{"--separate", "-r", "a.pcap", "b.pcap"}, pipeline.ExitError,
			[]string{"b.pcap is a file", "-r '*.pcap'"}, ""},
		// A filter that fails without naming a file gets no hint.
		{"bad filter", []string{"-r", "a.pcap", "tcp", "port", "banana"}, pipeline.ExitError,
			[]string{`filter "tcp port banana"`}, ""},
		// A quoted pattern: the files that are not captures are skipped, with
		// one warning.
		{"pattern with other files", []string{"-r", "*"}, pipeline.ExitOK,
			[]string{"skipped 3 files", "such as a.expected.json"}, "a.pcap, b.pcap, c.pcap.gz"},
		{"pattern with one other file", []string{"-r", "a*"}, pipeline.ExitOK,
			[]string{"skipped a.expected.json"}, "a.pcap"},
		{"pattern of captures only", []string{"-r", "*.pcap"}, pipeline.ExitOK, nil, "a.pcap, b.pcap"},
		{"pattern of no capture", []string{"-r", "*.txt"}, pipeline.ExitError,
			[]string{`no capture file matches "*.txt"`}, ""},
		// A file named on its own is read, whatever it holds.
		{"named file not a capture", []string{"-r", "a.pcap", "-r", "notes.txt"}, pipeline.ExitError,
			[]string{"notes.txt: not a pcap or pcapng file"}, "a.pcap, notes.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runIn(t, dir, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(tc.stderr) == 0 && errOut != "" || len(tc.stderr) > 0 && len(lines) != 1 {
				t.Errorf("stderr %q: want %d line(s)", errOut, min(len(tc.stderr), 1))
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q: want %q in it", errOut, w)
				}
			}
			if tc.files != "" && !strings.Contains(out, "file         "+tc.files+"\n") {
				t.Errorf("report does not read %s:\n%s", tc.files, out)
			}
		})
	}
}

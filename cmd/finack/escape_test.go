package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJSONControlCharacters: a capture's file name carrying DEL and C1 controls (CSI,
// U+009B, would clear a terminal) reaches -o json and ndjson escaped.
func TestJSONControlCharacters(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "gen-vlan-one-direction.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	name := "x\x7f\u009b2J\u0085.pcap"
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Skipf("file system refuses the name: %v", err)
	}
	for _, out := range []string{"json", "ndjson"} {
		stdout, stderr, code := runIn(t, dir, "-r", name, "-o", out)
		if code != 0 {
			t.Fatalf("-o %s: exit %d: %s", out, code, stderr)
		}
		if !strings.Contains(stdout, `x\u007f\u009b2J\u0085.pcap`) || strings.ContainsAny(stdout, "\x7f\u0080\u0085\u009b") {
			t.Errorf("-o %s: name not escaped:\n%s", out, stdout)
		}
	}
}

package main

import (
	"strings"
	"testing"
)

// TestRecordAgain re-records a set of scenarios from the real Linux TCP stack (two
// network namespaces, a veth pair, nftables drops, tcpdump) with the script that
// recorded testdata/pcaps, and checks that the fresh captures mean what the committed
// ones mean: the recordings are reproducible and finack reads a live kernel's closes,
// not only files it was tuned on. It needs root (CI runs as root) and skips without.
func TestRecordAgain(t *testing.T) {
	needNetns(t)
	names := []string{"client-close", "server-close", "final-ack-dropped", "final-ack-dropped-after-tap",
		"reuse-server-timewait", "reuse-refused", "simultaneous-close", "half-close", "rst-close", "client-close-v6"}
	dir := t.TempDir()
	recordScenarios(t, dir, nil, names...)
	want := map[string]scenario{}
	for _, sc := range scenarios {
		want[sc.file] = sc
	}
	for _, n := range names {
		sc, ok := want[n+".pcap"]
		if !ok {
			t.Fatalf("%s has no scenario in TestScenarios", n)
		}
		t.Run(n, func(t *testing.T) { checkScenario(t, dir, sc) })
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

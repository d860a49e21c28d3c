package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRecordAgain re-records a set of scenarios from the real Linux TCP stack (two
// network namespaces, a veth pair, nftables drops, tcpdump) with the script that
// recorded testdata/pcaps, and checks that the fresh captures mean what the committed
// ones mean: the recordings are reproducible and finack reads a live kernel's closes,
// not only files it was tuned on. It needs root (CI runs as root) and skips without.
func TestRecordAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: recording takes about 20 s")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces (CI runs as root; run the tests with sudo to include it)")
	}
	for _, tool := range []string{"ip", "nft", "tcpdump", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/deps --test installs it)", tool)
		}
	}
	names := []string{"client-close", "server-close", "final-ack-dropped", "final-ack-dropped-after-tap",
		"reuse-server-timewait", "reuse-refused", "simultaneous-close", "half-close", "rst-close", "client-close-v6"}
	dir := t.TempDir()
	script, err := filepath.Abs("../../testdata/record/record.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, names...)
	// Namespaces of its own, so a recording running at the same time (another
	// test run, a developer re-recording) cannot collide with this one.
	suffix := strconv.Itoa(os.Getpid())
	cmd.Env = append(os.Environ(), "FINACK_PCAPS="+dir, "FINACK_NS_A=finack-a-"+suffix, "FINACK_NS_B=finack-b-"+suffix)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("record.sh: %v\n%s", err, tail(string(out), 30))
	}
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

package gate

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
)

func TestParseTolerances(t *testing.T) {
	m, err := ParseTolerances([]string{"fin_retransmit+2", "any+10%", "reuse_in_2msl+0"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[analyzer.Kind]uint64{analyzer.FinRetransmit: 2, analyzer.MissingFinalAck: 3, analyzer.ReuseIn2MSL: 0} {
		if got := m[k].allowed(35); got != want {
			t.Errorf("%s: allowed %d over 35, want %d", k, got, want)
		}
	}
}

// TestFindingChanges pairs findings with the baseline's: by connection and side,
// then by the same with another client port; the rest are new or gone.
func TestFindingChanges(t *testing.T) {
	n := func(v uint64) *uint64 { return &v }
	f := func(client string, inc int, sender string, count uint64, frame uint64) analyzer.Finding {
		return analyzer.Finding{Kind: analyzer.FinRetransmit, Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort("10.0.0.2:80"), Incarnation: inc,
			Sender: sender, Count: n(count), Frames: []uint64{frame}}
	}
	old := []analyzer.Finding{
		f("10.0.0.1:1000", 1, "server", 2, 10), // same, count 2 → 3
		f("10.0.0.1:2000", 1, "client", 1, 20), // port 2000 → 3000
		f("10.0.0.1:4000", 1, "client", 1, 40), // gone
		f("10.0.0.1:5000", 1, "client", 1, 50), // unchanged
		{Kind: analyzer.ReuseIn2MSL, Client: netip.MustParseAddrPort("10.0.0.1:6000"), Server: netip.MustParseAddrPort("10.0.0.2:80"), Incarnation: 2, Frames: []uint64{60}},
	}
	cur := []analyzer.Finding{
		f("10.0.0.1:1000", 1, "server", 3, 11),
		f("10.0.0.1:3000", 1, "client", 1, 21),
		f("10.0.0.9:1000", 1, "server", 4, 90), // another host: new
		f("10.0.0.1:5000", 1, "client", 1, 50),
	}
	want := []string{
		"  ~ 10.0.0.1:1000 → 10.0.0.2:80 #1 (server) frame 11  count 2 → 3",
		"  ~ 10.0.0.1:3000 → 10.0.0.2:80 #1 (client) frame 21  count 1  (was 10.0.0.1:2000)",
		"  + 10.0.0.9:1000 → 10.0.0.2:80 #1 (server) frame 90  new  count 4",
		"  - 10.0.0.1:4000 → 10.0.0.2:80 #1 (client)  gone  count 1",
	}
	if got := FindingChanges(analyzer.FinRetransmit, old, cur); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := FindingChanges(analyzer.ReuseIn2MSL, old, cur); len(got) != 1 || got[0] != "  - 10.0.0.1:6000 → 10.0.0.2:80 #2  gone" {
		t.Errorf("reuse_in_2msl: %q", got)
	}
}

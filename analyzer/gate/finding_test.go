package gate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/finack/finack/analyzer"
)

// randomFindings draws findings of every kind (and two finack does not know) with what a comparison reads of them
// varied: ends, zero to three VLAN tags (tag 0 among them), tunnels, incarnations,
// senders, counts or none, frames (nil, empty, some), causes, outcomes and verdicts,
// and times with many ties (the same instant, first frame and kind), in UTC and
// elsewhere.
func randomFindings(rng *rand.Rand, n int) []analyzer.Finding {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	tags := [][]uint16{nil, {}, {0}, {7}, {7, 0}, {7, 9}, {1, 2, 3}}
	fs := make([]analyzer.Finding, n)
	for i := range fs {
		kinds := append(slices.Clone(analyzer.Kinds), "zz_unknown", "aa_unknown") // (a newer finack's)
		f := analyzer.Finding{Kind: kinds[rng.IntN(len(kinds))],
			Client:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + rng.IntN(3))}), uint16(1000+rng.IntN(4))),
			Server:      netip.MustParseAddrPort(pick("10.0.0.9:80", "[2001:db8::1]:443")),
			VLAN:        tags[rng.IntN(len(tags))],
			Tunnel:      pick("", "", "vxlan vni 7", "gre"),
			Incarnation: 1 + rng.IntN(3), Sender: pick("", "client", "server"),
			Cause:   analyzer.Cause(pick("", "on_ack", "no_ack")),
			Outcome: analyzer.Outcome(pick("", "accepted", "refused")),
			Verdict: analyzer.Verdict(pick("", "safe_by_sequence", "unsafe")),
			Time:    time.Unix(1700000000+int64(rng.IntN(3)), int64(rng.IntN(2))*500),
			Message: fmt.Sprintf("finding %d", i)}
		if rng.IntN(2) == 0 {
			f.ServerVLAN = tags[rng.IntN(len(tags))]
		}
		if rng.IntN(3) > 0 {
			c := uint64(rng.IntN(4))
			f.Count = &c
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			f.Frames = []uint64{}
		default:
			for range 1 + rng.IntN(3) {
				f.Frames = append(f.Frames, uint64(1+rng.IntN(3)))
			}
		}
		if rng.IntN(5) == 0 {
			f.Time = f.Time.In(time.FixedZone("x", 3600))
		}
		fs[i] = f
	}
	return fs
}

// TestFindingOf: what a comparison keeps of a finding names it as the finding
// itself does (its connection, place and side), counts for what the finding counts
// for in its kind's totals, and the findings kept by the parts of a run come in the
// order analyzer.Merge gives the findings themselves (report order, ties in the
// order of the parts, then of each part).
func TestFindingOf(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	for round := range 50 {
		fs := randomFindings(rng, rng.IntN(300)+round%5*1000) // (past a chunk)
		kept := FindingsOf(fs)
		for i := range fs {
			f := &fs[i]
			want := fmt.Sprintf("%s → %s #%d%s", analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, analyzer.PlaceText(f.VLAN, f.Tunnel))
			if f.Sender != "" {
				want += " (" + f.Sender + ")"
			}
			if got := kept[i].text(); got != want {
				t.Fatalf("round %d, finding %d: named %q, want %q", round, i, got, want)
			}
			if kept[i].ID != f.ID() || kept[i].firstFrame() != firstFrameOf(f) {
				t.Fatalf("round %d, finding %d: identity %+v, first frame %d", round, i, kept[i].ID, kept[i].firstFrame())
			}
		}
		if got, want := totalsOf(kept), KindTotals(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: totals\n%+v\nwant\n%+v", round, got, want)
		}
		// The parts: fs cut in up to four, each part's findings in the order
		// added, a few at a time.
		var reps []analyzer.Report
		var parts []*FindingList
		for rest := fs; len(rest) > 0 || len(reps) == 0; {
			n := rng.IntN(len(rest) + 1)
			if len(reps) == 3 {
				n = len(rest)
			}
			reps = append(reps, analyzer.Report{Findings: slices.Clone(rest[:n])})
			l := new(FindingList)
			for part := rest[:n]; len(part) > 0; {
				k := min(len(part), 1+rng.IntN(300))
				l.Append(part[:k])
				part = part[k:]
			}
			parts = append(parts, l)
			rest = rest[n:]
		}
		merged := analyzer.Merge(reps)
		if len(reps) == 1 {
			analyzer.SortFindings(merged.Findings) // (Merge of one returns it as it is)
		}
		if got, want := MergeFindings(parts), FindingsOf(merged.Findings); !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (%d parts): merged out of report order", round, len(parts))
		}
	}
}

func firstFrameOf(f *analyzer.Finding) uint64 {
	if len(f.Frames) == 0 {
		return 0
	}
	return f.Frames[0]
}

// TestFindingOfCopiesTunnel: FindingOf keeps its own copy of the tunnel's text,
// which the analysis writes in memory it reuses for the next connection.
func TestFindingOfCopiesTunnel(t *testing.T) {
	b := []byte("vxlan vni 42")
	f := analyzer.Finding{Kind: analyzer.FinRetransmit, Tunnel: unsafe.String(&b[0], len(b))}
	kept := FindingOf(&f)
	copy(b, "gre key 1234")
	if kept.ID.Tunnel != "vxlan vni 42" || kept.placeText() != " vxlan vni 42" {
		t.Errorf("tunnel %q after the analysis reused its memory", kept.ID.Tunnel)
	}
}

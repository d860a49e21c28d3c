package reassembly

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestSelectOldest: the quickselect picks exactly the n oldest, as a full sort would.
func TestSelectOldest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 3, 10, 97, 1000} {
		for _, n := range []int{1, size / 10, size / 2, size - 1, size} {
			c := make([]evictCand, size)
			for i := range c {
				c[i].last = Instant(r.IntN(size/3 + 1)) // many ties: the key decides
				c[i].f = &flow{key: FlowKey{LoPort: uint16(i)}}
			}
			sorted := append([]evictCand(nil), c...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i].older(sorted[j]) })
			selectOldest(c, n)
			if n <= 0 {
				continue
			}
			got := append([]evictCand(nil), c[:n]...)
			sort.Slice(got, func(i, j int) bool { return got[i].older(got[j]) })
			for i := range got {
				if got[i] != sorted[i] {
					t.Fatalf("size %d n %d: position %d is %+v, want %+v", size, n, i, got[i], sorted[i])
				}
			}
		}
	}
}

// TestEvictKeepsReplacementTime: an eviction ends the incarnations it takes at its
// time, except one already replaced by a newer incarnation on its 4-tuple, which
// ended when it was replaced (as a sweep leaves it): its EndAt bounds what the
// analysis counts as its own (idle time before its end, TIME_WAIT intervals).
func TestEvictKeepsReplacementTime(t *testing.T) {
	type ended struct {
		port  uint16
		index int
		end   EndReason
		endAt Instant
	}
	var got []ended
	tr := NewPoisonedTracker(Config{MaxConnections: 2, Done: func(inc *Incarnation) {
		got = append(got, ended{inc.Client().Port(), inc.Index, inc.End, inc.EndAt})
	}})
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	cli := func(port uint16) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)
	}
	base := time.Unix(1_700_000_000, 0)
	frame := uint64(0)
	add := func(sec float64, s capture.Segment) {
		frame++
		s.Frame, s.Time = frame, base.Add(time.Duration(sec*float64(time.Second)))
		tr.Add(&s)
	}
	a := cli(1000)
	// A whole connection on a, closed by the client: a is in TIME_WAIT.
	add(0, capture.Segment{Src: a, Dst: srv, Flags: capture.SYN, Seq: 100})
	add(0.001, capture.Segment{Src: srv, Dst: a, Flags: capture.SYN | capture.ACK, Seq: 500, Ack: 101})
	add(0.002, capture.Segment{Src: a, Dst: srv, Flags: capture.ACK, Seq: 101, Ack: 501})
	add(0.010, capture.Segment{Src: a, Dst: srv, Flags: capture.FIN | capture.ACK, Seq: 101, Ack: 501})
	add(0.011, capture.Segment{Src: srv, Dst: a, Flags: capture.FIN | capture.ACK, Seq: 501, Ack: 102})
	add(0.012, capture.Segment{Src: a, Dst: srv, Flags: capture.ACK, Seq: 102, Ack: 502})
	// Reused at 1 s: the first incarnation is replaced then.
	add(1, capture.Segment{Src: a, Dst: srv, Flags: capture.SYN, Seq: 90000})
	// A connection on another port at 2 s: three incarnations held, over the cap of
	// two: a's flow, the least recently active, is evicted at 2 s.
	add(2, capture.Segment{Src: cli(1001), Dst: srv, Flags: capture.SYN, Seq: 100})
	replacedAt, evictedAt := InstantOf(base.Add(time.Second)), InstantOf(base.Add(2*time.Second))
	want := []ended{{1000, 1, EndReplaced, replacedAt}, {1000, 2, EndEvicted, evictedAt}}
	if len(got) < 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("handed out at the eviction: %+v, want %+v", got, want)
	}
	if tr.Stats().Evicted != 2 {
		t.Errorf("Evicted %d, want 2", tr.Stats().Evicted)
	}
}

// TestEvictCands: the candidates evictCands reads in blocks are those a visit of
// every flow in the table's order gives (flowTable.each), in that order: which
// 4-tuples an eviction takes among equals, and the order their counts are kept in,
// depend on it. Every committed capture, with connections packed at once, whole
// ones and packed earlier incarnations among them.
func TestEvictCands(t *testing.T) {
	compared, most := 0, 0
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		tr := packingTracker(Config{Done: func(*Incarnation) {}, ManualSweep: true, TimeWait: 20 * time.Second}, false)
		for i := range segs {
			tr.Sweep(InstantOf(segs[i].Time))
			tr.Add(&segs[i])
			if i%3 != 2 && i != len(segs)-1 {
				continue
			}
			var want []evictCand
			tr.flows.each(func(f *flow) {
				if last, ok := tr.lastActive(f); ok {
					want = append(want, evictCand{last, f})
				}
			})
			got := tr.evictCands()
			if !slices.Equal(got, want) {
				t.Fatalf("%s, segment %d: evictCands gave %d candidates %v, want %d %v", filepath.Base(file), i, len(got), got, len(want), want)
			}
			unmapSlice(tr.arena, got)
			compared += len(want)
			most = max(most, len(want))
		}
	}
	if most <= evictBlock {
		t.Fatalf("at most %d flows at once: no capture fills more than one block of %d", most, evictBlock)
	}
	t.Logf("%d candidates compared, up to %d at once", compared, most)
}

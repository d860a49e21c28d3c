package reassembly

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestKeepCountsNumbersAsBatch: a streaming tracker with KeepCounts numbers the
// incarnations of a 4-tuple it had forgotten as a batch tracker does (the third
// connection on a 4-tuple is #3 even when the first two were finished and dropped).
func TestKeepCountsNumbersAsBatch(t *testing.T) {
	for _, file := range []string{"gen-reuse-timestamps.pcap", "many-connections.pcap", "gen-reuse-by-holder.pcap"} {
		segs, err := readSegments(t, "../testdata/pcaps/"+file)
		if err != nil {
			t.Fatal(err)
		}
		index := func(stream bool, tw time.Duration) map[uint64]int {
			got := map[uint64]int{}
			cfg := Config{TimeWait: tw}
			if stream {
				cfg.Done = func(inc *Incarnation) { got[inc.First.Frame] = inc.Index }
				cfg.KeepCounts = true
			}
			tr := NewPoisonedTracker(cfg)
			for i := range segs {
				tr.Add(&segs[i])
			}
			tr.Finish(InstantOf(segs[len(segs)-1].Time))
			for _, inc := range tr.Incarnations() {
				got[inc.First.Frame] = inc.Index
			}
			return got
		}
		for _, tw := range []time.Duration{time.Millisecond, time.Second, DefaultTimeWait} {
			b, st := index(false, tw), index(true, tw)
			if len(b) != len(st) {
				t.Errorf("%s, TIME_WAIT %v: %d incarnations batch, %d streaming", file, tw, len(b), len(st))
			}
			for f, i := range b {
				if st[f] != i {
					t.Errorf("%s, TIME_WAIT %v: incarnation at frame %d: #%d batch, #%d streaming", file, tw, f, i, st[f])
				}
			}
		}
	}
}

// TestKeepCountsBounded: the counts of forgotten 4-tuples are kept for the last two
// generations only; a 4-tuple that comes back after more were forgotten is numbered
// from 1 again (and counted in CountsDropped), a recent one keeps its number.
func TestKeepCountsBounded(t *testing.T) {
	got := map[uint16][]int{} // client port → indices in order
	tr := NewPoisonedTracker(Config{TimeWait: time.Millisecond, KeepCounts: true,
		Done: func(inc *Incarnation) { got[inc.Client().Port()] = append(got[inc.Client().Port()], inc.Index) }})
	tr.countsGen = 2
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	at := time.Unix(1_700_000_000, 0)
	frame := uint64(0)
	conn := func(port uint16) { // SYN, RST: over at once
		cli := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port)
		for _, s := range []capture.Segment{
			{Src: cli, Dst: srv, Flags: capture.SYN, Seq: 100},
			{Src: srv, Dst: cli, Flags: capture.RST | capture.ACK, Ack: 101},
		} {
			frame++
			s.Frame, s.Time = frame, at
			tr.Add(&s)
		}
		at = at.Add(10 * time.Second) // the next connection's first segment sweeps this one away
	}
	// Ports 1..6 once each: 6 forgotten, generations of 2 keep the last 3 or 4.
	for p := uint16(1); p <= 6; p++ {
		conn(p)
	}
	conn(1) // long forgotten: numbered from 1
	conn(5) // recent: #2
	tr.Finish(InstantOf(at))
	if want := []int{1, 1}; !slices.Equal(got[1], want) {
		t.Errorf("port 1 (count dropped): indices %v, want %v", got[1], want)
	}
	if want := []int{1, 2}; !slices.Equal(got[5], want) {
		t.Errorf("port 5 (count kept): indices %v, want %v", got[5], want)
	}
	if tr.Stats().CountsDropped == 0 {
		t.Error("CountsDropped is 0")
	}
}

package analyzer

import (
	"testing"
	"time"

	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestStateUntil checks, on every incarnation of the committed captures, that
// StateAt of both ends holds from any instant to the StateUntil it gives: at the
// instants every segment, FIN, ACK and deadline of the incarnation fall on, and a
// nanosecond either side, under three TIME_WAIT lengths.
func TestStateUntil(t *testing.T) {
	sets, err := synth.CaptureSets("../testdata/pcaps")
	if err != nil || len(sets) < 50 {
		t.Fatalf("%d captures in testdata/pcaps (%v)", len(sets), err)
	}
	incs, checked := 0, 0
	for _, set := range sets {
		tr := reassembly.NewTracker(reassembly.Config{})
		feedFiles(t, set, tr)
		for _, inc := range tr.Incarnations() {
			incs++
			for _, twLen := range []time.Duration{time.Second, reassembly.DefaultTimeWait, 240 * time.Second} {
				checked += checkStateUntil(t, set[0], inc, twLen)
			}
		}
	}
	t.Logf("%d captures, %d incarnations, %d instants checked", len(sets), incs, checked)
	if incs < 200 || checked == 0 {
		t.Fatalf("%d incarnations, %d instants checked", incs, checked)
	}
}

// checkStateUntil checks StateUntil at every instant of inc's that StateAt could
// turn on; it returns how many it checked.
func checkStateUntil(t *testing.T, file string, inc *reassembly.Incarnation, twLen time.Duration) int {
	t.Helper()
	var marks []reassembly.Instant
	mark := func(at reassembly.Instant) {
		if at != 0 {
			marks = append(marks, at-1, at, at+1)
		}
	}
	mark(inc.First.At)
	mark(inc.EndAt)
	for r := range inc.Half {
		h := &inc.Half[r]
		for _, tx := range []reassembly.Tx{h.Syn, h.Last, h.FinAcked} {
			mark(tx.At)
		}
		mark(h.FinAcked.At.Add(reassembly.FinTimeout))
		for _, f := range h.FinTxs {
			mark(f.At)
			mark(f.At.Add(2 * time.Second))
		}
		mark(h.Syn.At.Add(h.TapRTT))
		mark(h.Syn.At.Add(inc.Half[1-r].TapRTT))
	}
	for _, evs := range []reassembly.Events{inc.Injected, inc.Stale, inc.Late} {
		for _, e := range evs.List {
			mark(e.At)
		}
	}
	if rst, ok := inc.EndingRst(); ok {
		mark(rst)
	}
	tw := inc.TimeWait(twLen)
	mark(tw.Since)
	mark(tw.Until)
	state := func(at reassembly.Instant) [2]string {
		return [2]string{StateAt(inc, reassembly.Client, at.Time(), twLen), StateAt(inc, reassembly.Server, at.Time(), twLen)}
	}
	n := 0
	for _, from := range marks {
		until := StateUntil(inc, from, twLen)
		if until <= from {
			t.Fatalf("%s #%d: StateUntil(%d) = %d, not after", file, inc.Index, from, until)
		}
		want := state(from)
		for _, at := range marks {
			if at > from && at < until {
				if got := state(at); got != want {
					t.Fatalf("%s #%d (TIME_WAIT %v): states %v at %d, %v at %d, before StateUntil %d",
						file, inc.Index, twLen, want, from, got, at, until)
				}
				n++
			}
		}
		if until != Never {
			if got := state(until - 1); got != want {
				t.Fatalf("%s #%d: states %v at %d, %v a nanosecond before StateUntil %d", file, inc.Index, want, from, got, until)
			}
		}
	}
	return n
}

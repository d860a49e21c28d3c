package reassembly

import (
	"testing"
	"time"
)

// TestTouchedNotReused: a tracker that reuses the incarnations it hands out
// (DoneKeepsNothing) does not reuse one the touched list holds: TakeTouched returns
// each incarnation touched since the call before as it was when handed out, if it
// was, not as a later connection that took its memory.
func TestTouchedNotReused(t *testing.T) {
	segs, _ := readSegments(t, "../testdata/pcaps/many-connections.pcap")
	// handed: the incarnations handed out while in the touched list, since the last
	// TakeTouched.
	handed := map[*Incarnation]IncarnationID{}
	tr := NewTracker(Config{
		Done: func(inc *Incarnation) {
			if inc.touched {
				handed[inc] = inc.ID()
			}
		},
		DoneKeepsNothing: true, Touched: true, ManualSweep: true, TimeWait: time.Millisecond,
	})
	checked, reused := 0, 0
	var touched []*Incarnation
	seen := map[*Incarnation]bool{}
	for i := range segs {
		at := InstantOf(segs[i].Time)
		tr.Sweep(at)
		tr.Add(&segs[i])
		if i%100 != 99 {
			continue
		}
		touched = tr.TakeTouched(touched[:0])
		for _, inc := range touched {
			if id, ok := handed[inc]; ok {
				delete(handed, inc)
				if inc.ID() != id {
					t.Fatalf("segment %d: an incarnation handed out as %v was reused as %v while in the touched list", i, id, inc.ID())
				}
				checked++
			}
			if seen[inc] {
				reused++ // a recycled one touched again: fine, once out of the list
			}
			seen[inc] = true
		}
		for _, id := range handed {
			t.Fatalf("segment %d: %v handed out while in the touched list, not returned by TakeTouched", i, id)
		}
	}
	if checked == 0 || reused == 0 {
		t.Fatalf("%d touched incarnations handed out before TakeTouched, %d reused after it: the case was not exercised", checked, reused)
	}
	t.Logf("%d touched incarnations handed out before TakeTouched, %d reused after it", checked, reused)
}

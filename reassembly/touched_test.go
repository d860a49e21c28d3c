package reassembly

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestTouchedNotReused: a tracker that reuses the incarnations it packs and hands
// out (DoneKeepsNothing) reuses none that its touched list holds. At every
// TakeTouched, it returns the same incarnations (by identity) as a tracker that
// reuses nothing and packs nothing, those handed out since among them as they were
// when handed out, not as later connections that took their memory; with every
// connection whole, and packed once quiet.
func TestTouchedNotReused(t *testing.T) {
	segs, _ := readSegments(t, "../testdata/pcaps/many-connections.pcap")
	for _, tc := range []struct {
		name    string
		packing bool
		tw      time.Duration
	}{{"whole", false, time.Millisecond}, {"packing", true, 300 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			in := segs
			if tc.packing {
				in = slower(segs, 100)
			}
			touchedNotReused(t, in, tc.packing, tc.tw)
		})
	}
}

// slower returns segs with the time between them k times as long (the 34 ms of
// many-connections.pcap become seconds: its connections go quiet and are packed).
func slower(segs []capture.Segment, k time.Duration) []capture.Segment {
	out := slices.Clone(segs)
	for i := range out {
		out[i].Time = segs[0].Time.Add(segs[i].Time.Sub(segs[0].Time) * k)
	}
	return out
}

// touchedNotReused runs TestTouchedNotReused's check on segs.
func touchedNotReused(t *testing.T, segs []capture.Segment, packing bool, tw time.Duration) {
	// handed: the incarnations handed out while in the touched list, since the last
	// TakeTouched.
	handed := map[*Incarnation]IncarnationID{}
	tr := NewTracker(Config{
		Done: func(inc *Incarnation) {
			if inc.touched {
				handed[inc] = inc.ID()
			}
		},
		DoneKeepsNothing: true, Touched: true, ManualSweep: true, TimeWait: tw,
	})
	ref := NewTracker(Config{Done: func(*Incarnation) {}, Touched: true, ManualSweep: true, TimeWait: tw})
	ref.hooks.noPack = true
	if packing {
		tr.hooks.packAbove, tr.hooks.packEvery = 0, 1
	}
	ids := func(incs []*Incarnation) []string {
		var s []string
		for _, inc := range incs {
			s = append(s, fmt.Sprint(inc.ID()))
		}
		slices.Sort(s)
		return s
	}
	checked, reused := 0, 0
	var touched, want []*Incarnation
	seen := map[*Incarnation]bool{}
	for i := range segs {
		at := InstantOf(segs[i].Time)
		for _, x := range []*Tracker{tr, ref} {
			x.Sweep(at)
			x.Add(&segs[i])
		}
		if i%100 != 99 {
			continue
		}
		touched, want = tr.TakeTouched(touched[:0]), ref.TakeTouched(want[:0])
		if got, w := ids(touched), ids(want); !slices.Equal(got, w) {
			t.Fatalf("segment %d: TakeTouched returned\n%v\nwhere a tracker that reuses nothing returns\n%v", i, got, w)
		}
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
	if packing && tr.stats.Packed == 0 {
		t.Fatal("nothing was packed")
	}
	if checked == 0 || reused == 0 {
		t.Fatalf("%d touched incarnations handed out before TakeTouched, %d reused after it: the case was not exercised", checked, reused)
	}
	t.Logf("%d touched incarnations handed out before TakeTouched, %d reused after it, %d packed", checked, reused, tr.stats.Packed)
}

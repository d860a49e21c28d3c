package reassembly

import (
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// memoEval is a value of an incarnation that changes with time, as a socket's
// state does: the incarnation's whole record (pack: every field) with the number of
// its deadlines (10 ms, 100 ms, 1 s and 10 s after its first segment) passed by at.
// A value remembered for a record that has changed since, or past the deadline it
// was given, differs from it.
func memoEval(at Instant) func(*Incarnation) (uint32, Instant) {
	var buf []byte
	return func(inc *Incarnation) (uint32, Instant) {
		buf = pack(buf[:0], inc, packHeader{}, true)
		h := fnv.New64a()
		h.Write(buf)
		phase, until := uint32(0), Instant(math.MaxInt64)
		for _, d := range []time.Duration{10 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second} {
			if deadline := inc.First.At.Add(d); at >= deadline {
				phase++
			} else {
				until = min(until, deadline)
			}
		}
		return uint32(h.Sum64())<<3 | phase, until
	}
}

// TestEachMemo: on every committed capture, with the records in memory and on disk,
// a walk by EachMemo gives what Each gives with the same function at walks taken
// every few segments (and some at an earlier instant than the walk before), while
// records are packed, woken, changed, moved to disk and handed out in between; and
// it remembers values (hits) where records stay as they were.
func TestEachMemo(t *testing.T) {
	var hits, misses, walks int
	dir := t.TempDir()
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for _, cold := range []bool{false, true} {
			name := fmt.Sprintf("%s cold %v", filepath.Base(file), cold)
			tr := packingTracker(Config{Done: func(*Incarnation) {}, ManualSweep: true, TempDir: dir, TimeWait: 20 * time.Second}, cold)
			var m Memo
			walk := func(at Instant) {
				var want, got []string
				tr.Each(func(inc *Incarnation) {
					v, _ := memoEval(at)(inc)
					want = append(want, fmt.Sprint(inc.Key, v))
				})
				tr.EachMemo(&m, at, memoEval(at), func(k *FlowKey, v uint32) {
					got = append(got, fmt.Sprint(*k, v))
				})
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: walk at %d: EachMemo gave\n%v\nEach\n%v", name, at, got, want)
				}
				hits += m.Hits
				misses += m.Misses
				walks++
			}
			for i := range segs {
				at := InstantOf(segs[i].Time)
				tr.Sweep(at)
				tr.Add(&segs[i])
				if i%5 == 4 {
					walk(at)
					walk(at.Add(time.Second))
				}
				if i%11 == 10 {
					walk(at.Add(-5 * time.Millisecond))
				}
			}
			if err := tr.Err(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	if hits == 0 || misses == 0 {
		t.Fatalf("%d walks: %d values remembered, %d evaluated", walks, hits, misses)
	}
	t.Logf("%d walks: %d values remembered, %d evaluated", walks, hits, misses)
}

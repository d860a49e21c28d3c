package reassembly

import "testing"

// TestTrimIdleFree: at a sweep, the free incarnations no start needed since the last
// sweep go, but freeSlack; those used stay; never more than keepFree.
func TestTrimIdleFree(t *testing.T) {
	for _, tc := range []struct {
		name             string
		start, pop, push int
		want             int
	}{
		{"all idle", 5000, 0, 0, freeSlack},
		{"fewer than the slack", 300, 0, 0, 300},
		{"half used then returned", 5000, 2500, 2500, 5000 - (2500 - freeSlack)},
		{"all used", 5000, 5000, 5000, 5000},
		{"used beyond the list", 100, 300, 3000, 3000},
		{"capped", keepFree + 5000, keepFree + 5000, keepFree + 5000, keepFree},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewPoisonedTracker(Config{})
			for range tc.start {
				tr.recycle(new(Incarnation))
			}
			tr.freeLow = len(tr.free)      // as the last sweep left it
			top := tr.free[len(tr.free)-1] // the warmest: trimming takes from the bottom
			for range tc.pop {
				tr.newIncarnation()
			}
			for range tc.push {
				tr.recycle(new(Incarnation))
			}
			tr.trimIdleFree()
			if len(tr.free) != tc.want || tr.freeLow != len(tr.free) {
				t.Errorf("%d free, low-water %d; want %d", len(tr.free), tr.freeLow, tc.want)
			}
			for _, inc := range tr.free[len(tr.free):cap(tr.free)] {
				if inc != nil {
					t.Fatal("a dropped incarnation is still referenced by the list's array")
				}
			}
			if tc.pop == 0 && tc.push == 0 && tr.free[len(tr.free)-1] != top {
				t.Error("the incarnation on top of the list (the warmest) was dropped")
			}
		})
	}
}

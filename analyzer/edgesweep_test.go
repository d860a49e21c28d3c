package analyzer

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/finack/finack/reassembly"
)

// TestEdgeSweep: an EdgeSweep fed spans in From order (ties in any order) measures
// what TimeWaitHostOf measures from the edges of all of them at once (edgesOf): on
// hand-made and random sets of spans with shared starts and ends, spans that touch,
// spans before, across and past the capture's ends, and charts of one to 60 slices.
// One sweep is reused (Reset) from set to set.
func TestEdgeSweep(t *testing.T) {
	iv := func(from, to int64) Interval { return Interval{reassembly.Instant(from), reassembly.Instant(to)} }
	type set struct {
		name       string
		spans      []Interval
		start, end int64
		n          int
	}
	sets := []set{
		{"none", nil, 0, 100, ChartBuckets},
		{"one", []Interval{iv(5, 9)}, 0, 100, ChartBuckets},
		{"touching", []Interval{iv(1, 5), iv(5, 9)}, 0, 10, 10},
		{"same start and end", []Interval{iv(3, 8), iv(3, 8), iv(8, 9)}, 0, 10, 3},
		{"past the end", []Interval{iv(3, 80), iv(5, 90), iv(60, 95)}, 0, 50, 7},
		{"before the start", []Interval{iv(-30, -10), iv(-5, 5), iv(2, 3)}, 0, 10, 4},
		{"after the end", []Interval{iv(20, 30), iv(25, 35)}, 0, 10, 4},
		{"empty spans", []Interval{iv(2, 2), iv(3, 1), iv(4, 6)}, 0, 10, 5},
		{"one slice", []Interval{iv(1, 4), iv(2, 3), iv(3, 9)}, 0, 10, 1},
	}
	r := rand.New(rand.NewPCG(7, 9))
	for i := range 400 {
		var spans []Interval
		length := int64(1 + r.IntN(200))
		for range r.IntN(60) {
			from := int64(r.IntN(int(length)+40)) - 20
			spans = append(spans, iv(from, from+1+int64(r.IntN(int(length)/2+1))))
		}
		sets = append(sets, set{"random", spans, 0, length, 1 + i%ChartBuckets})
	}
	var s EdgeSweep
	for i, c := range sets {
		spans := slices.Clone(c.spans)
		slices.SortStableFunc(spans, func(a, b Interval) int { return int(a.From - b.From) })
		if i%2 == 1 { // ties of starts in another order
			slices.SortStableFunc(spans, func(a, b Interval) int {
				if a.From != b.From {
					return int(a.From - b.From)
				}
				return int(b.To - a.To)
			})
		}
		start, end := reassembly.Instant(c.start), reassembly.Instant(c.end)
		var held []Interval
		for _, sp := range c.spans {
			if sp.To > sp.From {
				held = append(held, sp)
			}
		}
		want := TimeWaitHostOf("h", edgesOf(held), start, end, len(held))
		want.Chart = EdgeChart(edgesOf(held), start, end, c.n)
		s.Reset(start, end, c.n)
		for _, sp := range spans {
			s.Add(sp)
		}
		if got := s.Host("h"); !reflect.DeepEqual(got, want) {
			t.Fatalf("set %d (%s) %v [%d, %d]:\n got %+v\nwant %+v", i, c.name, c.spans, c.start, c.end, got, want)
		}
	}
}

package analyzer

import (
	"fmt"
	"testing"
)

// TestTimeWaitSteps: one host's TIME_WAIT intervals as the steps of a chart over
// [0, 100] ns of capture time.
func TestTimeWaitSteps(t *testing.T) {
	for _, tc := range []struct {
		name string
		ivs  []Interval
		max  int
		want string // "at:count ..."
	}{
		{"one inside", []Interval{{10, 20}}, 10, "0:0 10:1 20:0 100:0"},
		{"held from before the start", []Interval{{-5, 30}}, 10, "0:1 30:0 100:0"},
		{"held past the end", []Interval{{40, 500}}, 10, "0:0 40:1 100:1"},
		{"begins at the end", []Interval{{100, 160}}, 10, "0:0 100:1"},
		{"overlapping", []Interval{{10, 50}, {20, 60}, {20, 30}}, 10, "0:0 10:1 20:3 30:2 50:1 60:0 100:0"},
		{"one ends as another begins: no step", []Interval{{10, 20}, {20, 30}}, 10, "0:0 10:1 30:0 100:0"},
		{"more changes than steps: the peak per slice", []Interval{{10, 12}, {30, 32}, {31, 33}, {70, 90}}, 4,
			"0:1 25:2 50:1 75:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			for i, s := range steps(tc.ivs, 0, 100, tc.max) {
				if i > 0 {
					got += " "
				}
				got += fmt.Sprintf("%d:%d", s.At.UnixNano(), s.Count)
			}
			if got != tc.want {
				t.Errorf("steps %s, want %s", got, tc.want)
			}
		})
	}
}

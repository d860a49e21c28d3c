package reassembly

import (
	"testing"
	"time"
)

// TestInstant: an Instant names the same moment as the time.Time it came from, and
// Add and Sub are each other's inverse, across the Unix epoch too.
func TestInstant(t *testing.T) {
	for _, tc := range []struct {
		at time.Time
		d  time.Duration
	}{
		{time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC), 60 * time.Second},
		{time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC), -250 * time.Millisecond},
		{time.Unix(0, 1), -2},
		{time.Date(1969, 12, 31, 23, 59, 59, 999, time.UTC), time.Hour},
	} {
		i := InstantOf(tc.at)
		if !i.Time().Equal(tc.at) {
			t.Errorf("InstantOf(%v).Time() = %v", tc.at, i.Time())
		}
		j := i.Add(tc.d)
		if got := j.Sub(i); got != tc.d {
			t.Errorf("%v.Add(%v).Sub(%v) = %v", i, tc.d, i, got)
		}
		if !j.Time().Equal(tc.at.Add(tc.d)) || (tc.d > 0) != (i < j) {
			t.Errorf("%v.Add(%v) = %v, want %v", i, tc.d, j.Time(), tc.at.Add(tc.d))
		}
	}
}

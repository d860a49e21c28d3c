package analyzer

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/finack/finack/reassembly"
)

// portSpan is a span of a port, for AddPort.
type portSpan struct {
	port uint16
	iv   Interval
}

// sweepOf runs a PeakSweep over spans (in From order): with AddPort when ports.
func sweepOf(s *PeakSweep, spans []portSpan, ports bool) (int, reassembly.Instant) {
	s.Reset()
	for _, sp := range spans {
		if ports {
			s.AddPort(sp.port, sp.iv)
		} else {
			s.Add(sp.iv)
		}
	}
	return s.Peak()
}

// TestPeakSweep: a PeakSweep fed spans in From order (ties in any order) finds the
// peak and its time PeakOf and Peak find, on hand-made and random sets of spans:
// ties of starts, spans that touch, one port's spans overlapping or touching, empty
// spans. One sweep is reused (Reset) from set to set.
func TestPeakSweep(t *testing.T) {
	iv := func(from, to int64) Interval { return Interval{reassembly.Instant(from), reassembly.Instant(to)} }
	hand := []struct {
		name  string
		spans []portSpan
		peak  int
		at    int64
		ports int // Peak's, when it differs
		at2   int64
	}{
		{"none", nil, 0, 0, 0, 0},
		{"one", []portSpan{{1, iv(5, 9)}}, 1, 5, 1, 5},
		{"empty only", []portSpan{{1, iv(5, 5)}}, 0, 0, 0, 0},
		{"touching", []portSpan{{1, iv(1, 5)}, {2, iv(5, 9)}}, 1, 1, 1, 1},
		{"later peak", []portSpan{{1, iv(1, 5)}, {2, iv(5, 9)}, {3, iv(6, 7)}}, 2, 6, 2, 6},
		{"same start", []portSpan{{1, iv(3, 4)}, {2, iv(3, 8)}, {3, iv(3, 5)}}, 3, 3, 3, 3},
		{"one port overlapping", []portSpan{{1, iv(1, 5)}, {1, iv(2, 9)}, {2, iv(4, 6)}}, 3, 4, 2, 4},
		{"one port touching", []portSpan{{1, iv(1, 5)}, {1, iv(5, 9)}, {2, iv(5, 6)}}, 2, 5, 2, 5},
		{"stale end", []portSpan{{1, iv(1, 3)}, {1, iv(2, 10)}, {2, iv(4, 5)}, {3, iv(5, 6)}}, 2, 2, 2, 4},
		{"empty in a span", []portSpan{{1, iv(1, 3)}, {2, iv(2, 2)}, {3, iv(2, 4)}}, 2, 2, 2, 2},
	}
	var s PeakSweep
	for _, c := range hand {
		ivs, byPort := split(c.spans)
		wantN, wantAt := PeakOf(ivs)
		if wantN != c.peak || wantAt != reassembly.Instant(c.at) {
			t.Errorf("%s: PeakOf = %d at %d, the case says %d at %d", c.name, wantN, wantAt, c.peak, c.at)
		}
		if n, at := sweepOf(&s, c.spans, false); n != wantN || at != wantAt {
			t.Errorf("%s: Add: %d at %d, PeakOf %d at %d", c.name, n, at, wantN, wantAt)
		}
		wantN, wantAt = Peak(byPort)
		if wantN != c.ports || wantAt != reassembly.Instant(c.at2) {
			t.Errorf("%s: Peak = %d at %d, the case says %d at %d", c.name, wantN, wantAt, c.ports, c.at2)
		}
		if n, at := sweepOf(&s, c.spans, true); n != wantN || at != wantAt {
			t.Errorf("%s: AddPort: %d at %d, Peak %d at %d", c.name, n, at, wantN, wantAt)
		}
	}

	random := []struct {
		name           string
		spans, horizon int // spans per set, starts in [0, horizon)
		length         int // lengths in [0, length]
		ports          int
	}{
		{"dense ties", 12, 6, 4, 3},
		{"one port", 10, 20, 8, 1},
		{"short", 40, 50, 3, 8},
		{"long", 40, 100, 80, 16},
		{"many ports", 200, 1000, 60, 500},
		{"wide", 300, 1 << 20, 1 << 14, 40},
	}
	rng := rand.New(rand.NewPCG(20, 1))
	for _, c := range random {
		differ := 0 // sets where merging a port's spans changes the peak: the union is tested
		for set := range 400 {
			spans := make([]portSpan, rng.IntN(c.spans+1))
			for i := range spans {
				from := int64(rng.IntN(c.horizon))
				spans[i] = portSpan{uint16(rng.IntN(c.ports)), iv(from, from+int64(rng.IntN(c.length+1)))}
			}
			// In From order, ties shuffled.
			rng.Shuffle(len(spans), func(i, j int) { spans[i], spans[j] = spans[j], spans[i] })
			slices.SortStableFunc(spans, func(a, b portSpan) int { return int(a.iv.From - b.iv.From) })
			ivs, byPort := split(spans)
			wantN, wantAt := PeakOf(ivs)
			if n, at := sweepOf(&s, spans, false); n != wantN || at != wantAt {
				t.Fatalf("%s #%d: Add: %d at %d, PeakOf %d at %d: %v", c.name, set, n, at, wantN, wantAt, spans)
			}
			portsN, portsAt := Peak(byPort)
			if n, at := sweepOf(&s, spans, true); n != portsN || at != portsAt {
				t.Fatalf("%s #%d: AddPort: %d at %d, Peak %d at %d: %v", c.name, set, n, at, portsN, portsAt, spans)
			}
			if portsN != wantN || portsAt != wantAt {
				differ++
			}
		}
		if c.ports < c.spans && differ == 0 {
			t.Errorf("%s: no set where a port's spans overlap at the peak", c.name)
		}
	}
}

// split returns the spans, and the spans per port.
func split(spans []portSpan) ([]Interval, map[uint16][]Interval) {
	var ivs []Interval
	byPort := map[uint16][]Interval{}
	for _, sp := range spans {
		ivs = append(ivs, sp.iv)
		byPort[sp.port] = append(byPort[sp.port], sp.iv)
	}
	return ivs, byPort
}

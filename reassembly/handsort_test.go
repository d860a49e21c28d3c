package reassembly

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortByFirst: sortByFirst gives what a stable sort by key gives, for keys
// close together and far apart (frames, handKeys of records on disk, both),
// with equal keys, already sorted, reversed, short, and reusing its scratch.
func TestSortByFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tmp []handOrder
	for _, tc := range []struct {
		name string
		n    int
		key  func(i int) uint64
	}{
		{"empty", 0, nil},
		{"one", 1, func(int) uint64 { return 5 }},
		{"short", 20, func(int) uint64 { return rng.Uint64N(10) }},
		{"frames", 5000, func(int) uint64 { return 1 + rng.Uint64N(4_000_000) }},
		{"few distinct", 5000, func(int) uint64 { return 1e6 + rng.Uint64N(3) }},
		{"all equal", 300, func(int) uint64 { return 42 }},
		{"sorted", 3000, func(i int) uint64 { return uint64(i) * 7 }},
		{"reversed", 3000, func(i int) uint64 { return uint64(1e9 - i) }},
		{"cold and not", 5000, func(int) uint64 {
			if rng.IntN(2) == 0 {
				return rng.Uint64N(1 << 40)
			}
			return coldKeys | rng.Uint64N(1<<31)<<32 | rng.Uint64N(1<<32)
		}},
		{"extremes", 100, func(int) uint64 { return []uint64{0, ^uint64(0), 1 << 63}[rng.IntN(3)] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := make([]handOrder, tc.n)
			for i := range x {
				x[i] = handOrder{tc.key(i), i}
			}
			want := slices.Clone(x)
			slices.SortStableFunc(want, func(a, b handOrder) int { return cmp.Compare(a.first, b.first) })
			tmp = sortByFirst(x, tmp)
			if !slices.Equal(x, want) {
				t.Errorf("not a stable sort by key")
			}
			// packedFinal, through the same code: its flows follow their keys.
			flows := make([]flow, tc.n)
			p := make([]packedFinal, tc.n)
			for i := range p {
				p[i] = packedFinal{x[len(x)-1-i].first, &flows[x[len(x)-1-i].i]}
			}
			sortByFirst(p, nil)
			for i := range p {
				if i > 0 && p[i].first < p[i-1].first {
					t.Fatalf("packedFinal %d out of order", i)
				}
			}
		})
	}
}

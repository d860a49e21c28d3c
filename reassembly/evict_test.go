package reassembly

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// TestSelectOldest: the quickselect picks exactly the n oldest, as a full sort would.
func TestSelectOldest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 3, 10, 97, 1000} {
		for _, n := range []int{1, size / 10, size / 2, size - 1, size} {
			c := make([]evictCand, size)
			for i := range c {
				c[i].last = int64(r.IntN(size/3 + 1)) // many ties: the key decides
				c[i].f = &flow{key: FlowKey{LoPort: uint16(i)}}
			}
			sorted := append([]evictCand(nil), c...)
			sort.Slice(sorted, func(i, j int) bool { return sorted[i].older(sorted[j]) })
			selectOldest(c, n)
			if n <= 0 {
				continue
			}
			got := append([]evictCand(nil), c[:n]...)
			sort.Slice(got, func(i, j int) bool { return got[i].older(got[j]) })
			for i := range got {
				if got[i] != sorted[i] {
					t.Fatalf("size %d n %d: position %d is %+v, want %+v", size, n, i, got[i], sorted[i])
				}
			}
		}
	}
}

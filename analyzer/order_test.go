package analyzer

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/finack/finack/reassembly"
)

func fmtCounts(r Report) string {
	b, _ := json.Marshal([]any{r.Closes, r.Counts})
	return string(b)
}

// TestFindingKeyOrder: the key (FindingKey) and the order (OrderOf) of a finding sort
// as CompareFindings does (time, even before 1970, first frame, kind name).
func TestFindingKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var fs []Finding
	for range 2000 {
		fs = append(fs, Finding{
			Time:   utc(reassembly.Instant(rng.IntN(7)-3) * (1 << 62 / 3)),
			Frames: []uint64{uint64(rng.IntN(3)), 9},
			Kind:   Kinds[rng.IntN(len(Kinds))],
		})
	}
	for i := range fs {
		for j := range fs {
			x, y := &fs[i], &fs[j]
			var want int
			switch {
			case !x.Time.Equal(y.Time):
				want = cmpBool(x.Time.Before(y.Time))
			case x.Frames[0] != y.Frames[0]:
				want = cmpBool(x.Frames[0] < y.Frames[0])
			case x.Kind != y.Kind:
				want = cmpBool(x.Kind < y.Kind)
			}
			if c := CompareFindings(x, y); c != want {
				t.Fatalf("%+v vs %+v: CompareFindings %d, want %d", x, y, c, want)
			}
			if c := OrderOf(x).Compare(OrderOf(y)); c != want {
				t.Fatalf("%+v vs %+v: orders compare %d, want %d", x, y, c, want)
			}
			kx, ky := FindingKey(x), FindingKey(y)
			got := slices.Compare(kx[:], ky[:])
			if got != want {
				t.Fatalf("%+v vs %+v: keys compare %d, want %d", x, y, got, want)
			}
		}
	}
}

func cmpBool(less bool) int {
	if less {
		return -1
	}
	return 1
}

package analyzer

import (
	"bytes"
	"math"
	"math/rand"
	"slices"
	"strconv"
	"testing"
)

// TestAppendUint: AppendUint and AppendInt write what strconv writes, at each power
// of ten and either side of it, at the ends of the range and at random, after bytes
// already there and into a slice with no room left.
func TestAppendUint(t *testing.T) {
	us := []uint64{0, 1, 9, 10, 11, 99, 100, 101, math.MaxUint64, math.MaxUint64 - 1, 1<<63 - 1, 1 << 63}
	for p := uint64(10); p <= 1e19; p *= 10 {
		us = append(us, p-1, p, p+1)
		if p == 1e19 {
			break
		}
	}
	rng := rand.New(rand.NewSource(7))
	for range 10000 {
		us = append(us, rng.Uint64()>>rng.Intn(64))
	}
	for _, u := range us {
		for _, prefix := range [][]byte{nil, []byte("x"), make([]byte, 5)} {
			want := strconv.AppendUint(slices.Clone(prefix), u, 10)
			if got := AppendUint(slices.Clone(prefix), u); !bytes.Equal(got, want) {
				t.Fatalf("AppendUint(%q, %d) = %q, want %q", prefix, u, got, want)
			}
			i := int64(u)
			want = strconv.AppendInt(slices.Clone(prefix), i, 10)
			if got := AppendInt(slices.Clone(prefix), i); !bytes.Equal(got, want) {
				t.Fatalf("AppendInt(%q, %d) = %q, want %q", prefix, i, got, want)
			}
		}
	}
}

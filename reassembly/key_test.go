package reassembly

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestCompare16 checks the word-wise comparison against bytes.Compare: the order of
// flow keys (evictions, hand-out ties) depends on it.
func TestCompare16(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var a, b [16]byte
		for j := range a {
			a[j] = byte(r.IntN(3)) // few values: many ties, differences at every byte
			b[j] = byte(r.IntN(3))
		}
		if i%4 == 0 {
			b = a
			b[r.IntN(16)] ^= 0x80
		}
		if got, want := compare16(&a, &b), bytes.Compare(a[:], b[:]); got != want {
			t.Fatalf("compare16(%x, %x) = %d, want %d", a, b, got, want)
		}
	}
}

// TestKeyedShard: a segment's Keyed gives the worker Shard gives, in both directions.
func TestKeyedShard(t *testing.T) {
	segs, err := readSegments(t, "../testdata/pcaps/many-connections.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		s := &segs[i]
		rev := *s
		rev.Src, rev.Dst = s.Dst, s.Src
		for _, n := range []int{1, 2, 3, 7} {
			if a, b, c := Shard(s, n), KeyedOf(s).Shard(n), KeyedOf(&rev).Shard(n); a != b || b != c {
				t.Fatalf("frame %d, %d workers: Shard %d, Keyed.Shard %d, reversed %d", s.Frame, n, a, b, c)
			}
		}
	}
}

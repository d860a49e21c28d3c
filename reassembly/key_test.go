package reassembly

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/finack/finack/capture"
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
			k, kr := KeyedOf(s), KeyedOf(&rev)
			if a, b, c := Shard(s, n), k.Shard(n), kr.Shard(n); a != b || b != c {
				t.Fatalf("frame %d, %d workers: Shard %d, Keyed.Shard %d, reversed %d", s.Frame, n, a, b, c)
			}
		}
	}
}

// TestKeyOf: the key KeyOf writes word by word is the one its definition gives (the
// addresses' 16-byte forms, the lower endpoint first by bytes then port), for IPv4,
// IPv6 and IPv4-mapped addresses, equal addresses with ports either way, with tags
// and tunnels, and over a key that held another segment's (Keyed.Set writes in place).
func TestKeyOf(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	addr := func() netip.Addr {
		var b [16]byte
		for j := range b {
			b[j] = byte(r.IntN(3)) // few values: ties at every byte
		}
		switch r.IntN(3) {
		case 0:
			return netip.AddrFrom4([4]byte(b[:4]))
		case 1:
			b[10], b[11] = 0xff, 0xff // IPv4-mapped IPv6
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom16(b)
	}
	var kh Keyed
	for i := range 20000 {
		src, dst := addr(), addr()
		if i%5 == 0 {
			dst = src
		}
		s := capture.Segment{
			Src: netip.AddrPortFrom(src, uint16(r.IntN(3))), Dst: netip.AddrPortFrom(dst, uint16(r.IntN(3))),
			VLAN: [2]uint16{uint16(r.IntN(2)), 0}, Tunnel: capture.Tunnel{ID: uint32(r.IntN(2))},
		}
		var want FlowKey
		a, b := src.As16(), dst.As16()
		wantLo := bytes.Compare(a[:], b[:]) < 0 || a == b && s.Src.Port() <= s.Dst.Port()
		if wantLo {
			want.LoAddr, want.HiAddr, want.LoPort, want.HiPort = a, b, s.Src.Port(), s.Dst.Port()
		} else {
			want.LoAddr, want.HiAddr, want.LoPort, want.HiPort = b, a, s.Dst.Port(), s.Src.Port()
		}
		want.VLAN, want.Tunnel = s.VLAN, s.Tunnel
		want.Mapped6 = src.Is4In6() && dst.Is4In6()
		if got, lo := KeyOf(&s); got != want || lo != wantLo {
			t.Fatalf("KeyOf(%v -> %v) = %+v, %v; want %+v, %v", s.Src, s.Dst, got, lo, want, wantLo)
		}
		kh.Key.PeerEnd, kh.Key.PeerVLAN = 1, [2]uint16{7, 8} // (left by nothing: Set writes the whole key)
		if kh.Set(&s); kh.Key != want || kh.hash != keyHash(&want) {
			t.Fatalf("Keyed.Set(%v -> %v) = %+v, want %+v", s.Src, s.Dst, kh.Key, want)
		}
	}
}

package reassembly

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

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
			if a, b, c := Shard(s, n), KeyedOf(s).Shard(n), KeyedOf(&rev).Shard(n); a != b || b != c {
				t.Fatalf("frame %d, %d workers: Shard %d, Keyed.Shard %d, reversed %d", s.Frame, n, a, b, c)
			}
		}
	}
}

// TestMappedIPv6Key: an IPv6 packet written with IPv4-mapped addresses is not the
// IPv4 4-tuple it spells: two keys, two connections, each named as it was seen;
// VLAN tags read back without the marking bit.
func TestMappedIPv6Key(t *testing.T) {
	v4c, v4s := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.2:80")
	v6c := netip.AddrPortFrom(netip.AddrFrom16(v4c.Addr().As16()), v4c.Port())
	v6s := netip.AddrPortFrom(netip.AddrFrom16(v4s.Addr().As16()), v4s.Port())
	if !v6c.Addr().Is4In6() {
		t.Fatal("test address is not IPv4-mapped IPv6")
	}
	tags := [2]uint16{100, 4095}
	for _, tc := range []struct {
		name     string
		src, dst netip.AddrPort
		mapped   bool
	}{
		{"ipv4", v4c, v4s, false},
		{"ipv6 mapped", v6c, v6s, true},
		{"ipv6 mapped dst only", netip.MustParseAddrPort("[2001:db8::1]:40000"), v6s, true},
		{"ipv6 plain", netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::2]:80"), false},
	} {
		s := capture.Segment{Src: tc.src, Dst: tc.dst, VLAN: tags}
		k, _ := KeyOf(&s)
		if k.mapped6() != tc.mapped {
			t.Errorf("%s: mapped6 = %v, want %v", tc.name, k.mapped6(), tc.mapped)
		}
		if k.VLANs() != tags {
			t.Errorf("%s: VLANs() = %v, want %v", tc.name, k.VLANs(), tags)
		}
		lo, hi := k.Endpoints()
		if (lo != tc.src || hi != tc.dst) && (lo != tc.dst || hi != tc.src) {
			t.Errorf("%s: Endpoints() = %v %v, want %v %v", tc.name, lo, hi, tc.src, tc.dst)
		}
	}

	// The same 4-tuple over IPv4 and as mapped IPv6, interleaved: two connections.
	tr := NewTracker(Config{})
	for i, x := range []struct {
		c, s   netip.AddrPort
		from   byte
		flags  capture.Flags
		seq, a uint32
	}{
		{v4c, v4s, 'c', S, 100, 0},
		{v6c, v6s, 'c', S, 5000, 0},
		{v4c, v4s, 's', SA, 900, 101},
		{v6c, v6s, 's', SA, 7000, 5001},
		{v4c, v4s, 'c', A, 101, 901},
		{v6c, v6s, 'c', A, 5001, 7001},
	} {
		s := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond), Flags: x.flags, Seq: x.seq, Ack: x.a, Src: x.c, Dst: x.s}
		if x.from == 's' {
			s.Src, s.Dst = x.s, x.c
		}
		tr.Add(&s)
	}
	tr.Finish(t0.Add(time.Second).UnixNano())
	incs := tr.Incarnations()
	if len(incs) != 2 {
		t.Fatalf("%d incarnations, want 2 (IPv4 and mapped IPv6 apart)", len(incs))
	}
	for _, inc := range incs {
		c := inc.Half[Client].Endpoint
		want := v4c
		if c.Addr().Is4In6() {
			want = v6c
		}
		if c != want || inc.Packets != 3 || inc.Index != 1 {
			t.Errorf("incarnation of %v: client %v, %d packets, index %d; want %v, 3, 1", c, c, inc.Packets, inc.Index, want)
		}
	}
}

package reassembly

import (
	"net/netip"
	"testing"
	"unsafe"
)

// TestKeyIPv4MappedTwins: the IPv4 connection 10.0.0.1:40000 → 10.0.0.2:80, its IPv6
// twin between ::ffff:10.0.0.1 and ::ffff:10.0.0.2 (the same 16 bytes in a key) and
// an IPv6 connection with one end mapped are three keys, three hashes and three
// incarnation counts, and each key gives back its segments' endpoints as they were.
func TestKeyIPv4MappedTwins(t *testing.T) {
	if n := unsafe.Sizeof(FlowKey{}); n != 56 {
		t.Errorf("FlowKey is %d bytes, want 56", n)
	}
	segs, err := readSegments(t, "../testdata/pcaps/gen-ipv4-mapped-twins.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		lo, hi  string
		mapped6 bool
		n       int
	}{
		{"10.0.0.1:40000", "10.0.0.2:80", false, 11},
		{"[::ffff:10.0.0.1]:40000", "[::ffff:10.0.0.2]:80", true, 13},
		{"[::ffff:10.0.0.1]:40000", "[2001:db8::2]:80", false, 11},
	}
	count := map[FlowKey]int{}
	var order []FlowKey
	for i := range segs {
		s := &segs[i]
		k, fromLo := KeyOf(s)
		lo, hi := k.Endpoints()
		src, dst := s.Src, s.Dst
		if !fromLo {
			src, dst = dst, src
		}
		if lo != src || hi != dst {
			t.Errorf("frame %d: %v > %v: key endpoints %v %v", s.Frame, s.Src, s.Dst, lo, hi)
		}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	if len(order) != len(want) {
		t.Fatalf("%d keys, want %d: %v", len(order), len(want), order)
	}
	hashes, counts := map[uint64]bool{}, map[uint64]bool{}
	for i, w := range want {
		k := order[i]
		lo, hi := k.Endpoints()
		if lo != netip.MustParseAddrPort(w.lo) || hi != netip.MustParseAddrPort(w.hi) || k.Mapped6 != w.mapped6 || count[k] != w.n {
			t.Errorf("key %d: %v %v mapped6 %v, %d segments; want %s %s %v, %d", i, lo, hi, k.Mapped6, count[k], w.lo, w.hi, w.mapped6, w.n)
		}
		h := keyHash(&k)
		hashes[h], counts[countHash(&k, h)] = true, true
	}
	if len(hashes) != len(want) || len(counts) != len(want) {
		t.Errorf("%d hashes, %d count hashes for %d keys", len(hashes), len(counts), len(want))
	}
	if v4, v6 := order[0], order[1]; v4.LoAddr != v6.LoAddr || v4.HiAddr != v6.HiAddr || v4.sameTuple(&v6) || !v4.less(v6) || v6.less(v4) {
		t.Errorf("twins: %+v %+v: same addresses, not the same tuple, IPv4 first", v4, v6)
	}
}

package reassembly

import (
	"net/netip"

	"github.com/finack/finack/capture"
)

// FlowKey identifies a 4-tuple regardless of direction: Lo is the smaller endpoint
// (address, then port), Hi the larger. VLAN tags are part of the identity, because the
// same 4-tuple on two VLANs is two different connections.
type FlowKey struct {
	Lo, Hi netip.AddrPort
	VLAN   [2]uint16
}

// KeyOf returns the canonical key of s and whether s travels from Lo to Hi.
func KeyOf(s *capture.Segment) (k FlowKey, fromLo bool) {
	k.VLAN = s.VLAN
	if lessAddrPort(s.Src, s.Dst) {
		k.Lo, k.Hi = s.Src, s.Dst
		return k, true
	}
	k.Lo, k.Hi = s.Dst, s.Src
	return k, false
}

func lessAddrPort(a, b netip.AddrPort) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Port() < b.Port()
}

// SeqLess reports a < b in 32-bit serial arithmetic (RFC 1982): sequence numbers wrap.
func SeqLess(a, b uint32) bool { return int32(a-b) < 0 }

// SeqLEQ reports a <= b in serial arithmetic.
func SeqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

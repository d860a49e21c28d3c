package reassembly

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/finack/finack/capture"
)

// FlowKey identifies a 4-tuple regardless of direction: the lower endpoint (address,
// then port) first. VLAN tags and the tunnel (VXLAN VNI, GRE key) are part of the
// identity, because the same 4-tuple on two VLANs or in two overlays is two
// different connections. It is 56 bytes without pointers (IPv4
// addresses as IPv4-mapped IPv6), so the flow table compares it as plain memory and
// the garbage collector never scans it.
//
// VLAN is the tags of the segments that made the flow. When the two directions of
// one connection carry different tags (a mirror port that tags one way), the
// tracker joins them (Tracker.join): PeerEnd then names the endpoint whose segments
// carry PeerVLAN instead (1: the lower, 2: the higher). A segment's own key (KeyOf)
// has PeerEnd 0.
// An IPv6 packet's IPv4-mapped address (::ffff:a.b.c.d) is IPv6, never the IPv4
// address it maps: Mapped6 tells the key of IPv6 packets with IPv4-mapped addresses
// at both ends from the IPv4 key with the same bytes. With one end mapped the
// other is IPv6, which no IPv4 key has.
type FlowKey struct {
	LoAddr, HiAddr [16]byte
	LoPort, HiPort uint16
	VLAN           [2]uint16
	Tunnel         capture.Tunnel
	PeerVLAN       [2]uint16
	PeerEnd        uint8
	Mapped6        bool
}

// Joined reports whether the two directions carry different tags (PeerEnd).
func (k *FlowKey) Joined() bool { return k.PeerEnd != 0 }

// VLANOf returns the tags of the segments sent by ep, one of the key's endpoints.
func (k *FlowKey) VLANOf(ep netip.AddrPort) [2]uint16 {
	if k.PeerEnd != 0 && k.fromLo(ep) == (k.PeerEnd == 1) {
		return k.PeerVLAN
	}
	return k.VLAN
}

// fromLo reports whether ep is the lower endpoint.
func (k *FlowKey) fromLo(ep netip.AddrPort) bool {
	return ep.Port() == k.LoPort && ep.Addr().As16() == k.LoAddr
}

// sameTuple reports whether o (a segment's key) is the same 4-tuple in the same
// tunnel, whatever its tags.
func (k *FlowKey) sameTuple(o *FlowKey) bool {
	return k.LoAddr == o.LoAddr && k.HiAddr == o.HiAddr && k.LoPort == o.LoPort && k.HiPort == o.HiPort && k.Tunnel == o.Tunnel && k.Mapped6 == o.Mapped6
}

// KeyOf returns the canonical key of s and whether s travels from the lower endpoint.
func KeyOf(s *capture.Segment) (k FlowKey, fromLo bool) {
	fromLo = keyInto(&k, s)
	return k, fromLo
}

// keyInto writes the canonical key of s into k, whole, and reports whether s
// travels from the lower endpoint (KeyOf). The addresses are compared and stored as
// two 64-bit words each: a 16-byte copy of an address just built from two 8-byte
// halves (netip.Addr.As16) waits for both stores to complete (store forwarding
// fails), on the path of every packet.
func keyInto(k *FlowKey, s *capture.Segment) (fromLo bool) {
	sh, sl := addrWords(s.Src.Addr())
	dh, dl := addrWords(s.Dst.Addr())
	sp, dp := s.Src.Port(), s.Dst.Port()
	fromLo = sh < dh || sh == dh && (sl < dl || sl == dl && sp <= dp)
	if !fromLo {
		sh, sl, sp, dh, dl, dp = dh, dl, dp, sh, sl, sp
	}
	be := binary.BigEndian
	be.PutUint64(k.LoAddr[:8], sh)
	be.PutUint64(k.LoAddr[8:], sl)
	be.PutUint64(k.HiAddr[:8], dh)
	be.PutUint64(k.HiAddr[8:], dl)
	k.LoPort, k.HiPort = sp, dp
	k.VLAN, k.Tunnel = s.VLAN, s.Tunnel
	k.PeerVLAN, k.PeerEnd = [2]uint16{}, 0
	k.Mapped6 = s.Src.Addr().Is4In6() && s.Dst.Addr().Is4In6()
	return fromLo
}

// addrWords returns a's 16-byte form (IPv4 as IPv4-mapped) as two big-endian words:
// compared as numbers, they order addresses as compare16 orders the bytes. An IPv4
// address is read as its 4 bytes (As16's copy is the one that stalls).
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// Keyed is a segment's flow key with its hash (keyHash: the 4-tuple and tunnel
// without the tags, so that every tag set of a 4-tuple goes to the same tracker and
// the tracker finds them together), computed once (KeyedOf, Set): a caller
// that deals segments out to trackers by 4-tuple (Shard) passes it on to AddKeyed.
type Keyed struct {
	Key  FlowKey
	hash uint64
}

// KeyedOf returns the key of s and its hash.
func KeyedOf(s *capture.Segment) Keyed {
	var k Keyed
	k.Set(s)
	return k
}

// Set computes the key of s and its hash in place (KeyedOf's result is copied
// through temporaries: 48 bytes a segment on the path of every packet).
func (k *Keyed) Set(s *capture.Segment) {
	keyInto(&k.Key, s)
	k.hash = keyHash(&k.Key)
}

// Shard returns which of n trackers owns the 4-tuple (as Shard does for a segment).
// (A pointer: called on a copy of the key the reader has just written, it would wait
// for those stores to complete.)
func (k *Keyed) Shard(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(k.hash, uint64(n)) // the hash's high bits: no division for each segment
	return int(hi)
}

// Endpoints returns the two endpoints of the key, lower first, as the segments
// carried them: IPv4 addresses for an IPv4 key (both ends mapped in the key, not
// Mapped6), every other address as IPv6, IPv4-mapped ones included.
func (k FlowKey) Endpoints() (lo, hi netip.AddrPort) {
	a, b := netip.AddrFrom16(k.LoAddr), netip.AddrFrom16(k.HiAddr)
	if !k.Mapped6 && a.Is4In6() && b.Is4In6() {
		a, b = a.Unmap(), b.Unmap()
	}
	return netip.AddrPortFrom(a, k.LoPort), netip.AddrPortFrom(b, k.HiPort)
}

// less orders keys (for deterministic choices among equals).
func (k FlowKey) less(o FlowKey) bool {
	if c := compare16(&k.LoAddr, &o.LoAddr); c != 0 {
		return c < 0
	}
	if c := compare16(&k.HiAddr, &o.HiAddr); c != 0 {
		return c < 0
	}
	if k.LoPort != o.LoPort {
		return k.LoPort < o.LoPort
	}
	if k.HiPort != o.HiPort {
		return k.HiPort < o.HiPort
	}
	if k.VLAN[0] != o.VLAN[0] {
		return k.VLAN[0] < o.VLAN[0]
	}
	if k.VLAN[1] != o.VLAN[1] {
		return k.VLAN[1] < o.VLAN[1]
	}
	if k.Tunnel.Kind != o.Tunnel.Kind {
		return k.Tunnel.Kind < o.Tunnel.Kind
	}
	if k.Tunnel.ID != o.Tunnel.ID {
		return k.Tunnel.ID < o.Tunnel.ID
	}
	if k.PeerEnd != o.PeerEnd {
		return k.PeerEnd < o.PeerEnd
	}
	if k.PeerVLAN[0] != o.PeerVLAN[0] {
		return k.PeerVLAN[0] < o.PeerVLAN[0]
	}
	if k.PeerVLAN[1] != o.PeerVLAN[1] {
		return k.PeerVLAN[1] < o.PeerVLAN[1]
	}
	return !k.Mapped6 && o.Mapped6
}

// keyHash is a 64-bit hash of a key's 4-tuple, tunnel and Mapped6, the same in every run
// (wyhash-style mixing): two different 4-tuples share one with a probability of
// about n²/2^65 for n 4-tuples (3e-6 for ten million). The tags are left out: the
// same 4-tuple on several tag sets shares a hash, so one tracker (Shard) holds them
// all, next to each other in its flow table, and can join one connection's two
// directions tagged differently.
func keyHash(k *FlowKey) uint64 {
	le := binary.LittleEndian
	h := mix(le.Uint64(k.LoAddr[0:8]), le.Uint64(k.LoAddr[8:16]))
	h = mix(h, le.Uint64(k.HiAddr[0:8])^0x8ebc6af09c88c6e3)
	h = mix(h, le.Uint64(k.HiAddr[8:16]))
	h = mix(h, uint64(k.LoPort)|uint64(k.HiPort)<<16)
	if k.Tunnel != (capture.Tunnel{}) {
		h = mix(h, uint64(k.Tunnel.ID)|uint64(k.Tunnel.Kind)<<32)
	}
	if k.Mapped6 {
		h = mix(h, 6) // not the IPv4 twin's hash, nor its incarnation counts (countHash)
	}
	return h
}

// countHash is the hash of a key with its tags (h: its keyHash), which names a
// forgotten flow in the incarnation counts (Config.KeepCounts).
func countHash(k *FlowKey, h uint64) uint64 {
	return mix(h, uint64(k.VLAN[0])|uint64(k.VLAN[1])<<16|0x5bd1e995<<32)
}

func mix(a, b uint64) uint64 {
	const m1, m2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	hi, lo := bits.Mul64(a^m1, b^m2)
	return hi ^ lo
}

// compare16 compares two addresses as bytes (lexicographically): as two big-endian
// words, which is the same order.
func compare16(a, b *[16]byte) int {
	be := binary.BigEndian
	if x, y := be.Uint64(a[:8]), be.Uint64(b[:8]); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	if x, y := be.Uint64(a[8:]), be.Uint64(b[8:]); x != y {
		if x < y {
			return -1
		}
		return 1
	}
	return 0
}

// SeqLess reports a < b in 32-bit serial arithmetic (RFC 1982): sequence numbers wrap.
func SeqLess(a, b uint32) bool { return int32(a-b) < 0 }

// SeqLEQ reports a <= b in serial arithmetic.
func SeqLEQ(a, b uint32) bool { return int32(a-b) <= 0 }

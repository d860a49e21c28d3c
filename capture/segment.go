package capture

import (
	"net/netip"
	"strconv"
	"time"
)

// Flags are the TCP control bits of a segment, in header order (FIN is bit 0).
type Flags uint8

const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether every bit of want is set.
func (f Flags) Has(want Flags) bool { return f&want == want }

// String renders the flags as tcpdump does ("S.", "F.", "R", "P.", ...).
func (f Flags) String() string {
	var b [8]byte
	n := 0
	for _, x := range [...]struct {
		f Flags
		c byte
	}{{SYN, 'S'}, {FIN, 'F'}, {PSH, 'P'}, {RST, 'R'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}} {
		if f&x.f != 0 {
			b[n] = x.c
			n++
		}
	}
	if f&ACK != 0 {
		b[n] = '.'
		n++
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}

// Segment is one TCP segment as the capture saw it: the header fields the teardown
// analysis needs and nothing else. It is a small value that owns no packet buffer, so
// readers may reuse their buffers (zero-copy reads) once a Segment has been filled.
type Segment struct {
	// Frame is the 1-based frame number as Wireshark numbers it: every record of the
	// (merged) capture counts, TCP or not, decodable or not.
	Frame uint64
	// Time is the capture timestamp, in UTC.
	Time time.Time
	// Src and Dst are the IP endpoints: an IPv4 packet's are 4-byte addresses, an
	// IPv6 packet's 16-byte ones, IPv4-mapped (::ffff:a.b.c.d) included, so that
	// an IPv6 connection is never taken for the IPv4 one of the same addresses.
	Src, Dst netip.AddrPort
	// VLAN holds the 802.1Q tags the packet carried, outer first; 0 when untagged.
	// Part of the flow identity: the same 4-tuple on two VLANs is two connections.
	VLAN [2]uint16
	// Tunnel is the overlay the segment was carried in (VXLAN, GRE), innermost
	// first; zero when none. Part of the flow identity: the same 4-tuple in two
	// VXLAN segments (VNIs) or two GRE keys is two connections.
	Tunnel Tunnel
	Seq    uint32
	Ack    uint32 // meaningful only when Flags has ACK
	Flags
	Window uint16
	// PayloadLen is the TCP payload length on the wire, from the IP length fields, not
	// from what the snap length kept.
	PayloadLen uint32
	// HasTS reports a TCP timestamp option (RFC 7323); TSval and TSecr are its values.
	HasTS        bool
	TSval, TSecr uint32
	// IPID is the IPv4 identification field (0 for IPv6); TTL is the IPv4 TTL or IPv6
	// hop limit. Used as evidence that a reused 4-tuple is a different host (NAT).
	IPID uint16
	TTL  uint8
	// Truncated reports that the snap length cut the TCP header or its options: ports,
	// sequence numbers and flags are valid, options may be missing.
	Truncated bool
	// Interface is the pcapng interface index (0 for pcap), or the index of the input
	// file's interface table after a merge.
	Interface uint16
}

// SeqEnd returns the sequence number just past this segment: SYN and FIN each take one.
func (s *Segment) SeqEnd() uint32 {
	end := s.Seq + s.PayloadLen
	if s.Flags&SYN != 0 {
		end++
	}
	if s.Flags&FIN != 0 {
		end++
	}
	return end
}

// TunnelKind says which encapsulation carried a segment.
type TunnelKind uint8

const (
	NoTunnel TunnelKind = iota
	VXLAN               // VXLAN (RFC 7348) on UDP port 4789; ID is the VNI
	GRE                 // GRE (RFC 2784) without a key; ID is 0
	GREKey              // GRE with a key (RFC 2890); ID is the key
)

// Tunnel names the encapsulation of a segment and its identifier: a small value,
// comparable, part of the flow identity.
type Tunnel struct {
	ID   uint32
	Kind TunnelKind
}

// AppendText appends how reports name the tunnel: "vxlan vni N", "gre key N",
// "gre"; nothing for NoTunnel.
func (t Tunnel) AppendText(b []byte) []byte {
	switch t.Kind {
	case VXLAN:
		b = append(b, "vxlan vni "...)
	case GRE:
		return append(b, "gre"...)
	case GREKey:
		b = append(b, "gre key "...)
	default:
		return b
	}
	return strconv.AppendUint(b, uint64(t.ID), 10)
}

// String is AppendText as a string ("" for NoTunnel).
func (t Tunnel) String() string { return string(t.AppendText(nil)) }

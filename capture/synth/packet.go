package synth

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// IP protocol numbers Packet.Proto understands.
const (
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMP   = 1
	ProtoICMPv6 = 58
)

// IPv6 extension header types Packet.Ext6 understands (the fragment header is
// added by Packet.Frag).
const (
	ExtHopByHop    = 0
	ExtRouting     = 43
	ExtDestination = 60
)

// Packet describes one frame. The zero value of every optional field means "absent"
// or a plausible default, so a Packet literal names only what matters to a test.
type Packet struct {
	Time      time.Time // capture timestamp (the writer truncates to its resolution)
	Interface int       // pcapng interface index; PcapWriter ignores it

	Src, Dst netip.AddrPort // IPv4 or IPv6 (both the same family)
	Seq, Ack uint32
	Flags    capture.Flags
	Window   uint16
	Payload  int // payload bytes (zero-filled) after the transport header

	// TCP timestamp option (RFC 7323) when HasTS.
	HasTS        bool
	TSval, TSecr uint32
	// SYN options, written when set (typically on SYN and SYN/ACK).
	MSS       uint16 // 0 = no MSS option
	SACKPerm  bool
	HasWScale bool
	WScale    uint8

	IPID uint16 // IPv4 identification (also the IPv6 fragment identification)
	TTL  uint8  // IPv4 TTL or IPv6 hop limit; 0 = 64

	// Proto is the transport: 0 or ProtoTCP, ProtoUDP (ports from Src/Dst),
	// ProtoICMP / ProtoICMPv6 (an echo request).
	Proto uint8
	// Ext6 lists IPv6 extension headers (ExtHopByHop, ExtRouting, ExtDestination)
	// placed, in order, between the IPv6 header and the transport.
	Ext6 []uint8
	// Frag, when set, turns the packet into one IP fragment of the full transport
	// bytes (IPv4 MF/offset, or an IPv6 fragment header).
	Frag *Frag

	// VLAN tags, outer first (Ethernet only). One tag uses TPID 0x8100; with two,
	// the outer uses 0x88a8 unless VLANTPID says otherwise (e.g. 0x9100).
	VLAN     []uint16
	VLANTPID uint16
	// AF overrides the address family of Null/Loop headers (default 2 for IPv4;
	// IPv6: 30 (Darwin) on Null, 24 (BSD) on Loop).
	AF uint32
}

// Frag selects a slice of the transport bytes (TCP/UDP/ICMP header and payload).
type Frag struct {
	Offset int  // byte offset, a multiple of 8
	Len    int  // bytes in this fragment; 0 = up to the end
	More   bool // more fragments follow
}

func (p *Packet) ttl() uint8 {
	if p.TTL == 0 {
		return 64
	}
	return p.TTL
}

func (p *Packet) proto() uint8 {
	if p.Proto == 0 {
		return ProtoTCP
	}
	return p.Proto
}

// Encode returns the frame for p on the given link type (LINKTYPE_ value):
// Ethernet (1), Linux SLL (113) and SLL2 (276), Null (0), Loop (108), raw IP (101,
// 12, 14), IPv4 (228), IPv6 (229). Any other link type gets the bare IP packet.
func Encode(link layers.LinkType, p Packet) []byte {
	ip := encodeIP(&p)
	v6 := p.Src.Addr().Is6()
	etype := uint16(0x0800)
	if v6 {
		etype = 0x86dd
	}
	return frame(link, &p, etype, ip, v6)
}

// frame wraps a link-layer payload of the given EtherType.
func frame(link layers.LinkType, p *Packet, etype uint16, payload []byte, v6 bool) []byte {
	var b []byte
	switch link {
	case 1: // Ethernet
		b = append(b, mac(p.Dst.Addr())...)
		b = append(b, mac(p.Src.Addr())...)
		for i, id := range p.VLAN {
			tpid := uint16(0x8100)
			if i == 0 && len(p.VLAN) > 1 {
				tpid = 0x88a8
				if p.VLANTPID != 0 {
					tpid = p.VLANTPID
				}
			} else if i == 0 && p.VLANTPID != 0 {
				tpid = p.VLANTPID
			}
			b = be16(b, tpid)
			b = be16(b, id&0x0fff)
		}
		b = be16(b, etype)
		b = append(b, payload...)
		for len(b) < 60 { // minimum Ethernet frame without FCS
			b = append(b, 0)
		}
		return b
	case 113: // Linux SLL
		b = be16(b, 0) // packet type: to us
		b = be16(b, 1) // ARPHRD_ETHER
		b = be16(b, 6)
		b = append(b, mac(p.Src.Addr())...)
		b = append(b, 0, 0)
		b = be16(b, etype)
		return append(b, payload...)
	case 276: // Linux SLL2
		b = be16(b, etype)
		b = be16(b, 0)
		b = be32(b, uint32(p.Interface+1)) // ifindex
		b = be16(b, 1)                     // ARPHRD_ETHER
		b = append(b, 0, 6)                // packet type, address length
		b = append(b, mac(p.Src.Addr())...)
		b = append(b, 0, 0)
		return append(b, payload...)
	case 0, 108: // Null (host order, written little endian), Loop (network order)
		af := p.AF
		if af == 0 {
			af = 2
			if v6 {
				af = 30
				if link == 108 {
					af = 24
				}
			}
		}
		if link == 0 {
			b = binary.LittleEndian.AppendUint32(b, af)
		} else {
			b = be32(b, af)
		}
		return append(b, payload...)
	}
	return payload
}

// mac derives a locally administered MAC address from an IP address.
func mac(a netip.Addr) []byte {
	s := a.As16()
	return []byte{0x02, 0x00, s[12], s[13], s[14], s[15]}
}

// EncodeARP returns an ARP request from sender for target (IPv4) on Ethernet,
// Linux SLL or SLL2: a non-IP frame for skip-reason tests.
func EncodeARP(link layers.LinkType, sender, target netip.Addr) []byte {
	var a []byte
	a = be16(a, 1)      // hardware: Ethernet
	a = be16(a, 0x0800) // protocol: IPv4
	a = append(a, 6, 4)
	a = be16(a, 1) // request
	a = append(a, mac(sender)...)
	s4, t4 := sender.As4(), target.As4()
	a = append(a, s4[:]...)
	a = append(a, 0, 0, 0, 0, 0, 0)
	a = append(a, t4[:]...)
	p := Packet{Src: netip.AddrPortFrom(sender, 0), Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 0)}
	b := frame(link, &p, 0x0806, a, false)
	if link == 1 {
		copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	return b
}

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

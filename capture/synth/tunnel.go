package synth

import (
	"encoding/binary"
	"net/netip"
)

// outerIPv4 is an IPv4 packet from src to dst of protocol proto around payload
// (DF set, TTL 64, header checksum filled), as a tunnel endpoint sends it.
func outerIPv4(src, dst netip.Addr, proto uint8, id uint16, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	binary.BigEndian.PutUint16(h[6:], 0x4000)
	h[8], h[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], ^csum(0, h))
	return append(h, payload...)
}

// outerEthernet is the Ethernet frame between two tunnel endpoints.
func outerEthernet(src, dst netip.Addr, ip []byte) []byte {
	p := Packet{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0)}
	return frame(1, &p, 0x0800, ip, false)
}

// EncapVXLAN returns p's Ethernet frame inside VXLAN (RFC 7348) between the
// tunnel endpoints src and dst (IPv4), as Linux's vxlan driver sends it: UDP to
// port 4789 from a source port derived from the inner flow, checksum 0, the I flag
// and the VNI in the 8-byte header.
func EncapVXLAN(p Packet, src, dst netip.Addr, vni uint32) []byte {
	inner := Encode(1, p)
	sport := 49152 + (p.Src.Port()^p.Dst.Port())%16384
	u := make([]byte, 16, 16+len(inner))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], 4789)
	binary.BigEndian.PutUint16(u[4:], uint16(16+len(inner)))
	u[8] = 0x08 // I: the VNI is valid
	binary.BigEndian.PutUint32(u[12:], vni<<8)
	return outerEthernet(src, dst, outerIPv4(src, dst, ProtoUDP, p.IPID, append(u, inner...)))
}

// GREOptions shape a GRE header.
type GREOptions struct {
	Key    uint32 // written when HasKey (RFC 2890)
	HasKey bool
	// Bridge carries p's whole Ethernet frame (Transparent Ethernet Bridging,
	// 0x6558: Linux gretap) instead of its IP packet.
	Bridge bool
}

// EncapGRE returns p inside GRE version 0 between the tunnel endpoints src and
// dst (IPv4), as Linux's ip_gre sends it: the IP packet (EtherType 0x0800 or
// 0x86dd), or with Bridge the Ethernet frame, after a 4-byte header and the key.
func EncapGRE(p Packet, src, dst netip.Addr, o GREOptions) []byte {
	var inner []byte
	proto := uint16(0x6558)
	if o.Bridge {
		inner = Encode(1, p)
	} else {
		inner = encodeIP(&p)
		proto = 0x0800
		if p.Src.Addr().Is6() {
			proto = 0x86dd
		}
	}
	var g []byte
	if o.HasKey {
		g = append(g, 0x20, 0)
		g = be16(g, proto)
		g = be32(g, o.Key)
	} else {
		g = append(g, 0, 0)
		g = be16(g, proto)
	}
	return outerEthernet(src, dst, outerIPv4(src, dst, 47, p.IPID, append(g, inner...)))
}

// EncodeNFLOG returns p as a record of link type 239 (Linux NFLOG, tcpdump -i
// nflog:GROUP), as the kernel's nfnetlink_log builds it: a 4-byte header (address
// family, version 0, the group in network byte order), then attributes with a
// length and type in the host's byte order (bo): the packet header (hardware
// protocol and hook), the log prefix, and the payload, the IP packet.
func EncodeNFLOG(p Packet, group uint16, prefix string, bo binary.AppendByteOrder) []byte {
	ip := encodeIP(&p)
	family, proto := byte(2), uint16(0x0800)
	if p.Src.Addr().Is6() {
		family, proto = 10, 0x86dd
	}
	b := []byte{family, 0}
	b = be16(b, group)
	tlv := func(typ uint16, v []byte) {
		b = bo.AppendUint16(b, uint16(4+len(v)))
		b = bo.AppendUint16(b, typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	hdr := be16(nil, proto)
	hdr = append(hdr, 1, 0)            // hook NF_INET_LOCAL_IN, pad
	tlv(1, hdr)                        // NFULA_PACKET_HDR
	tlv(10, append([]byte(prefix), 0)) // NFULA_PREFIX
	tlv(9, ip)                         // NFULA_PAYLOAD
	return b
}

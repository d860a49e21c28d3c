package capture

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// vxlanPort is the UDP destination port of VXLAN (RFC 7348, IANA). Only it is
// followed, as Wireshark does by default: any other UDP port is UDP.
const vxlanPort = 4789

// udpLayer decodes a UDP header so that VXLAN inside it can be followed; every
// other UDP datagram stops decoding (NotTCP).
type udpLayer struct {
	layers.BaseLayer
	dst uint16
}

func (u *udpLayer) LayerType() gopacket.LayerType  { return layers.LayerTypeUDP }
func (u *udpLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeUDP }
func (u *udpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errShortUDP
	}
	u.dst = binary.BigEndian.Uint16(data[2:4])
	payload := data[8:]
	if n := int(binary.BigEndian.Uint16(data[4:6])) - 8; n >= 0 && n < len(payload) {
		payload = payload[:n] // Ethernet padding after a short datagram
	}
	u.BaseLayer = layers.BaseLayer{Contents: data[:8], Payload: payload}
	return nil
}
func (u *udpLayer) NextLayerType() gopacket.LayerType {
	if u.dst == vxlanPort {
		return layers.LayerTypeVXLAN
	}
	return gopacket.LayerTypeZero
}

// vxlanLayer decodes the 8-byte VXLAN header (RFC 7348); an Ethernet frame
// follows. A header without the I flag carries no valid VNI and stops decoding.
type vxlanLayer struct {
	layers.BaseLayer
	tun *Tunnel // the decoder's: the innermost encapsulation so far
	ok  bool
}

func (v *vxlanLayer) LayerType() gopacket.LayerType  { return layers.LayerTypeVXLAN }
func (v *vxlanLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeVXLAN }
func (v *vxlanLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errShortVXLAN
	}
	v.ok = data[0]&0x08 != 0
	if v.ok {
		*v.tun = Tunnel{Kind: VXLAN, ID: binary.BigEndian.Uint32(data[4:8]) >> 8}
	}
	v.BaseLayer = layers.BaseLayer{Contents: data[:8], Payload: data[8:]}
	return nil
}
func (v *vxlanLayer) NextLayerType() gopacket.LayerType {
	if v.ok {
		return layers.LayerTypeEthernet
	}
	return gopacket.LayerTypeZero
}

// greLayer decodes a GRE header of version 0 (RFC 2784, with the key and
// sequence number of RFC 2890) and what it carries: IPv4, IPv6, MPLS, an Ethernet
// frame (Transparent Ethernet Bridging, 0x6558), or a mirrored frame in ERSPAN
// (type I and II: 0x88be, type III: 0x22eb; the ERSPAN header is skipped and its
// session ID is not part of the identity). Version 1 (PPTP) and source routing
// stop decoding.
type greLayer struct {
	layers.BaseLayer
	tun  *Tunnel
	next gopacket.LayerType
}

func (g *greLayer) LayerType() gopacket.LayerType  { return layers.LayerTypeGRE }
func (g *greLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeGRE }
func (g *greLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	g.next = gopacket.LayerTypeZero
	if len(data) < 4 {
		df.SetTruncated()
		return errShortGRE
	}
	flags, proto := data[0], binary.BigEndian.Uint16(data[2:4])
	if data[1]&0x07 != 0 || flags&0x40 != 0 { // version 1 (PPTP), or routing present
		g.BaseLayer = layers.BaseLayer{Contents: data[:4], Payload: data[4:]}
		return nil
	}
	n := 4
	if flags&0x80 != 0 { // checksum and reserved
		n += 4
	}
	tun := Tunnel{Kind: GRE}
	if flags&0x20 != 0 { // key
		if len(data) < n+4 {
			df.SetTruncated()
			return errShortGRE
		}
		tun = Tunnel{Kind: GREKey, ID: binary.BigEndian.Uint32(data[n : n+4])}
		n += 4
	}
	seq := flags&0x10 != 0
	if seq {
		n += 4
	}
	if len(data) < n {
		df.SetTruncated()
		return errShortGRE
	}
	switch proto {
	case 0x0800:
		g.next = layers.LayerTypeIPv4
	case 0x86dd:
		g.next = layers.LayerTypeIPv6
	case 0x8847, 0x8848:
		g.next = layers.LayerTypeMPLS
	case 0x6558:
		g.next = layers.LayerTypeEthernet
	case 0x88be: // ERSPAN type II has a sequence number and an 8-byte header; type I neither
		if seq {
			n += 8
		}
		g.next = layers.LayerTypeEthernet
	case 0x22eb: // ERSPAN type III: 12 bytes, 8 more with the O flag (platform subheader)
		if len(data) >= n+12 && data[n+11]&0x01 != 0 {
			n += 8
		}
		n += 12
		g.next = layers.LayerTypeEthernet
	}
	if len(data) < n {
		df.SetTruncated()
		g.next = gopacket.LayerTypeZero
		return errShortGRE
	}
	*g.tun = tun
	g.BaseLayer = layers.BaseLayer{Contents: data[:n], Payload: data[n:]}
	return nil
}
func (g *greLayer) NextLayerType() gopacket.LayerType { return g.next }

var (
	errShortUDP   = errors.New("UDP header truncated")
	errShortVXLAN = errors.New("VXLAN header truncated")
	errShortGRE   = errors.New("GRE header truncated")
)

// nflogPayload returns the packet an NFLOG record (link type 239, Linux's
// iptables/nftables log target: tcpdump -i nflog) carries: the value of its
// NFULA_PAYLOAD attribute (type 9), an IP packet of the family in the header. The
// 4-byte header (family, version, resource ID) is followed by attributes of a
// 2-byte length (header included) and a 2-byte type, padded to 4 bytes; their
// length and type are in the byte order of the host that wrote the capture, which
// pcap does not record for NFLOG: little-endian is tried first, big-endian when
// the attributes do not walk to the end of the record that way. ok is false when
// there is no payload attribute.
func nflogPayload(data []byte) (payload []byte, ok bool) {
	if len(data) < 4 {
		return nil, false
	}
	for _, bo := range [2]binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		p, found, valid := nflogWalk(data, bo)
		if valid {
			return p, found
		}
	}
	return nil, false
}

// nflogWalk walks the attributes in byte order bo; valid is false when a length
// is impossible (shorter than its header, or past the record before the payload).
func nflogWalk(data []byte, bo binary.ByteOrder) (payload []byte, found, valid bool) {
	for o := 4; o < len(data); {
		if len(data)-o < 4 {
			return nil, false, false
		}
		l, t := int(bo.Uint16(data[o:o+2])), bo.Uint16(data[o+2:o+4])&0x3fff
		if l < 4 {
			return nil, false, false
		}
		if t == 9 { // NFULA_PAYLOAD; the snap length may have cut it
			return data[o+4 : min(o+l, len(data))], true, true
		}
		o += (l + 3) &^ 3
		if o > len(data) {
			return nil, false, false
		}
	}
	return nil, false, true
}

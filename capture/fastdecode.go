package capture

import (
	"encoding/binary"
	"net/netip"
)

// fast decodes the frames most captures are made of without gopacket: Ethernet
// (with up to two 802.1Q / 802.1ad tags), Linux SLL and SLL2, or raw IP, then IPv4 without
// options or fragmentation, or IPv6 without extension headers, carrying TCP (the
// segment whole, or cut by the snap length). It fills seg as decode
// does and reports true; for any other frame it reports false, and decode takes
// the general gopacket path, which gives the same Segment for the frames fast
// takes (TestFastDecodeAgrees).
func (d *decoder) fast(st start, data []byte, seg *Segment) bool {
	be := binary.BigEndian
	var vlan [2]uint16
	var et uint16
	switch st {
	case startEthernet:
		if len(data) < 14 {
			return false
		}
		et, data = be.Uint16(data[12:14]), data[14:]
		for i := 0; et == 0x8100 || et == 0x88a8 || et == 0x9100; i++ {
			if i == len(vlan) || len(data) < 4 {
				return false
			}
			vlan[i] = be.Uint16(data[0:2]) & 0x0fff
			et, data = be.Uint16(data[2:4]), data[4:]
		}
	case startSLL:
		if len(data) < 16 || be.Uint16(data[4:6]) > 8 {
			return false
		}
		et, data = be.Uint16(data[14:16]), data[16:]
	case startSLL2:
		// The protocol type is an EtherType unless the ARPHRD_ type says the
		// payload is something else: FRAD (770), IPGRE (778), radiotap (803).
		if len(data) < 20 {
			return false
		}
		switch be.Uint16(data[8:10]) {
		case 770, 778, 803:
			return false
		}
		et, data = be.Uint16(data[0:2]), data[20:]
	case startRaw, startIPv4, startIPv6:
		if len(data) == 0 {
			return false
		}
		switch v := data[0] >> 4; {
		case v == 4 && st != startIPv6:
			et = 0x0800
		case v == 6 && st != startIPv4:
			et = 0x86dd
		default:
			return false
		}
	default:
		return false
	}
	var payload []byte
	var tcpWire int
	switch et {
	case 0x0800:
		if len(data) < 20 || data[0] != 0x45 || data[9] != 6 || be.Uint16(data[6:8])&0x3fff != 0 {
			return false // options, not TCP, or a fragment
		}
		length := int(be.Uint16(data[2:4]))
		if length < 20 {
			return false // TSO's length 0, or damage
		}
		seg.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[12:16])), 0)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[16:20])), 0)
		seg.IPID, seg.TTL = be.Uint16(data[4:6]), data[8]
		// What the snap length kept of the segment (its length is the header's).
		payload, tcpWire = data[20:min(length, len(data))], length-20
	case 0x86dd:
		if len(data) < 40 || data[0]>>4 != 6 || data[6] != 6 {
			return false // extension headers, or not TCP
		}
		plen := int(be.Uint16(data[4:6]))
		if plen == 0 {
			return false // jumbogram
		}
		src, dst := netip.AddrFrom16([16]byte(data[8:24])), netip.AddrFrom16([16]byte(data[24:40]))
		seg.Src, seg.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		seg.IPID, seg.TTL = 0, data[7]
		payload, tcpWire = data[40:min(40+plen, len(data))], plen
	default:
		return false
	}
	seg.VLAN, seg.Tunnel = vlan, Tunnel{}
	return parseTCP(payload, tcpWire, seg)
}

package synth

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sort"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// File is one generated capture.
type File struct {
	Name string
	Data []byte
}

// Epoch is the start of every generated capture (plus a per-file offset).
var Epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// Files returns the generated format and link-type captures (testdata/pcaps/gen-*),
// byte for byte the same on every call. Each holds at least one complete
// connection (handshake, a little data, a four-way close) on documentation
// addresses (192.0.2.0/24, 2001:db8::/32) or loopback.
func Files() ([]File, error) {
	var out []File
	add := func(name string, data []byte, err error) error {
		if err != nil {
			return err
		}
		out = append(out, File{name, data})
		return nil
	}
	for _, g := range []struct {
		name string
		gen  func() ([]byte, error)
	}{
		{"gen-ethernet-vlan-qinq.pcap", genVLAN},
		{"gen-linux-sll.pcap", func() ([]byte, error) { return genCooked(113) }},
		{"gen-linux-sll2.pcap", func() ([]byte, error) { return genCooked(276) }},
		{"gen-null-loopback.pcap", genNull},
		{"gen-loop.pcap", genLoop},
		{"gen-raw-ipv4-ipv6.pcap", genRaw},
		{"gen-ipv4-228.pcap", genIPv4},
		{"gen-ipv6-229.pcap", genIPv6},
		{"gen-ipv4-mapped-twins.pcap", genMappedTwins},
		{"gen-nanosecond-be.pcap", genNanoBE},
		{"gen-mixed-interfaces.pcapng", genMixed},
		{"gen-gzip.pcap.gz", genGzipPcap},
		{"gen-gzip.pcapng.gz", genGzipNg},
		{"gen-snaplen-cut.pcap", genSnaplen},
		{"gen-pcap-version-2-2.pcap", genVersion22},
		{"gen-vlan-one-direction.pcap", genVLANOneWay},
		{"gen-vxlan.pcap", genVXLAN},
		{"gen-gre.pcap", genGRE},
		{"gen-nflog.pcap", genNFLOG},
		{"gen-fragments-nontcp.pcap", genFragments},
	} {
		b, err := g.gen()
		if err := add(g.name, b, err); err != nil {
			return nil, err
		}
	}
	r0, r1, err := genRotated()
	if err := add("gen-rotated.pcap0", r0, err); err != nil {
		return nil, err
	}
	if err := add("gen-rotated.pcap1", r1, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// merge returns the packets of several connections in time order (stable).
func merge(lists ...[]Packet) []Packet {
	var all []Packet
	for _, l := range lists {
		all = append(all, l...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	return all
}

func pcapBytes(link layers.LinkType, opt PcapOptions, ps []Packet) ([]byte, error) {
	var b bytes.Buffer
	w, err := NewPcapWriter(&b, link, opt)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func at(d time.Duration) time.Time { return Epoch.Add(d) }

// genVLAN: the same 4-tuple untagged, on VLAN 42 and on QinQ 10/20, interleaved;
// the QinQ one's server retransmits its FIN, its final ACK lost (findings name the
// tags of their connection).
func genVLAN() ([]byte, error) {
	c, s := ap("192.0.2.1:40000"), ap("192.0.2.10:80")
	a := NewConn(c, s, 1000, 5000, at(0))
	b := NewConn(c, s, 2000, 6000, at(100*time.Microsecond))
	b.VLAN = []uint16{42}
	q := NewConn(c, s, 3000, 7000, at(200*time.Microsecond))
	q.VLAN = []uint16{10, 20}
	qs := append(q.Handshake(), q.Exchange(100, 200)...)
	qs = append(qs, q.FIN(true), q.ACK(false))
	fin := q.FIN(false)
	qs = append(qs, fin, q.ACK(true)) // the final ACK, lost before the server
	again := fin                      // its retransmission, 200 ms later
	again.Time = q.Wait(200 * time.Millisecond).Now
	qs = append(qs, again, q.ACK(true))
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{},
		merge(a.Full(100, 200, true), b.Full(100, 200, true), qs))
}

// genCooked: an IPv4 and an IPv6 connection and one ARP request, Linux SLL or SLL2.
func genCooked(link layers.LinkType) ([]byte, error) {
	a := NewConn(ap("192.0.2.1:41000"), ap("192.0.2.10:443"), 100000, 200000, at(time.Second))
	b := NewConn(ap("[2001:db8::1]:41001"), ap("[2001:db8::10]:443"), 300000, 400000, at(2*time.Second))
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, link, PcapOptions{})
	if err != nil {
		return nil, err
	}
	if err := w.WriteFrame(at(500*time.Millisecond), EncodeARP(link, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.10"))); err != nil {
		return nil, err
	}
	for _, p := range merge(a.Full(300, 1200, true), b.Full(300, 1200, false)) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// genNull: BSD loopback (host byte order AF): IPv4 (AF 2), IPv6 as Darwin (30) and
// as NetBSD/OpenBSD (24).
func genNull() ([]byte, error) {
	a := NewConn(ap("127.0.0.1:50000"), ap("127.0.0.1:8080"), 11, 22, at(0))
	b := NewConn(ap("[::1]:50001"), ap("[::1]:8080"), 33, 44, at(time.Second))
	c := NewConn(ap("[::1]:50002"), ap("[::1]:8080"), 55, 66, at(2*time.Second))
	c.AF = 24
	return pcapBytes(0, PcapOptions{}, merge(a.Full(10, 20, true), b.Full(10, 20, true), c.Full(10, 20, false)))
}

// genLoop: OpenBSD loopback (network byte order AF): IPv4 (2) and IPv6 (24).
func genLoop() ([]byte, error) {
	a := NewConn(ap("127.0.0.1:50010"), ap("127.0.0.1:8080"), 77, 88, at(0))
	b := NewConn(ap("[::1]:50011"), ap("[::1]:8080"), 99, 111, at(time.Second))
	return pcapBytes(108, PcapOptions{}, merge(a.Full(10, 20, true), b.Full(10, 20, true)))
}

// genRaw: LINKTYPE_RAW (101), IPv4 and IPv6 connections.
func genRaw() ([]byte, error) {
	a := NewConn(ap("192.0.2.3:42000"), ap("192.0.2.30:25"), 1, 2, at(0))
	b := NewConn(ap("[2001:db8::3]:42001"), ap("[2001:db8::30]:25"), 3, 4, at(500*time.Millisecond))
	return pcapBytes(101, PcapOptions{}, merge(a.Full(50, 60, true), b.Full(50, 60, false)))
}

// genIPv4: LINKTYPE_IPV4 (228): one connection with timestamps, one without.
func genIPv4() ([]byte, error) {
	a := NewConn(ap("192.0.2.4:43000"), ap("192.0.2.40:22"), 0xfffffff0, 0x7fffffff, at(0))
	b := NewConn(ap("192.0.2.5:43001"), ap("192.0.2.40:22"), 12345, 67890, at(time.Second))
	b.TS = false
	return pcapBytes(228, PcapOptions{}, merge(a.Full(40, 1000, true), b.Full(40, 1000, false)))
}

// genIPv6: LINKTYPE_IPV6 (229): one connection with a destination options header on
// every packet, one with hop-by-hop and routing headers.
func genIPv6() ([]byte, error) {
	a := NewConn(ap("[2001:db8::4]:44000"), ap("[2001:db8::40]:80"), 10, 20, at(0))
	a.Ext6 = []uint8{ExtDestination}
	b := NewConn(ap("[2001:db8::5]:44001"), ap("[2001:db8::40]:80"), 30, 40, at(time.Second))
	b.Ext6 = []uint8{ExtHopByHop, ExtRouting}
	return pcapBytes(229, PcapOptions{}, merge(a.Full(64, 128, true), b.Full(64, 128, true)))
}

// genMappedTwins: the same addresses and ports as an IPv4 connection and as an
// IPv6 one whose addresses are IPv4-mapped (::ffff:10.0.0.1, RFC 4291 2.5.5.2),
// with the same sequence numbers 100 µs apart, and a third IPv6 connection with
// only the client's address mapped. No stack sends IPv4-mapped addresses on the
// wire (Linux drops such packets on receipt, ip6_rcv_core): these are crafted
// packets, as a raw socket or scapy writes them, each an IPv6 packet that
// Wireshark shows with ipv6.src ::ffff:10.0.0.1, never the IPv4 connection. The
// mapped twin's server retransmits its FIN, its final ACK lost, so its findings
// name it and not the IPv4 twin.
func genMappedTwins() ([]byte, error) {
	v4 := NewConn(ap("10.0.0.1:40000"), ap("10.0.0.2:80"), 1000, 5000, at(0))
	v6 := NewConn(ap("[::ffff:10.0.0.1]:40000"), ap("[::ffff:10.0.0.2]:80"), 1000, 5000, at(100*time.Microsecond))
	one := NewConn(ap("[::ffff:10.0.0.1]:40000"), ap("[2001:db8::2]:80"), 3000, 7000, at(200*time.Microsecond))
	ps := append(v6.Handshake(), v6.Exchange(100, 200)...)
	ps = append(ps, v6.FIN(true), v6.ACK(false))
	fin := v6.FIN(false)
	ps = append(ps, fin, v6.ACK(true)) // the final ACK, lost before the server
	again := fin                       // its retransmission, 200 ms later
	again.Time = v6.Wait(200 * time.Millisecond).Now
	ps = append(ps, again, v6.ACK(true))
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{},
		merge(v4.Full(100, 200, true), ps, one.Full(100, 200, true)))
}

// genNanoBE: Ethernet, nanosecond magic, big endian, timestamps with ns digits.
func genNanoBE() ([]byte, error) {
	a := NewConn(ap("192.0.2.6:45000"), ap("192.0.2.60:8443"), 1111, 2222, at(123456789))
	a.Gap = time.Millisecond + 7*time.Nanosecond
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{Nanosecond: true, BigEndian: true}, a.Full(10, 10, true))
}

// mixedIfaces: Ethernet (µs), Linux SLL2 (ns), raw IP (µs).
var mixedIfaces = []Interface{
	{Link: layers.LinkTypeEthernet, Name: "eth0"},
	{Link: 276, Name: "any", Nanosecond: true},
	{Link: 101, Name: "tun0"},
}

// genMixed: a connection on each interface, and one whose client-to-server packets
// are seen on eth0 and server-to-client packets on tun0.
func genMixed() ([]byte, error) {
	a := NewConn(ap("192.0.2.7:46000"), ap("192.0.2.70:80"), 100, 200, at(0))
	b := NewConn(ap("[2001:db8::7]:46001"), ap("[2001:db8::70]:80"), 300, 400, at(300*time.Microsecond+1))
	b.ClientIface, b.ServerIface = 1, 1
	c := NewConn(ap("192.0.2.8:46002"), ap("192.0.2.80:80"), 500, 600, at(600*time.Microsecond))
	c.ClientIface, c.ServerIface = 2, 2
	d := NewConn(ap("192.0.2.9:46003"), ap("192.0.2.90:80"), 700, 800, at(900*time.Microsecond))
	d.ClientIface, d.ServerIface = 0, 2
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgOptions{Comment: "finack-gen: mixed link types"}, mixedIfaces...)
	if err != nil {
		return nil, err
	}
	for _, p := range merge(a.Full(10, 20, true), b.Full(10, 20, true), c.Full(10, 20, false), d.Full(10, 20, true)) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

func genGzipPcap() ([]byte, error) {
	a := NewConn(ap("192.0.2.11:47000"), ap("192.0.2.110:80"), 1, 1, at(0))
	b, err := pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, a.Full(100, 100, true))
	return Gzip(b), err
}

func genGzipNg() ([]byte, error) {
	a := NewConn(ap("[2001:db8::11]:47001"), ap("[2001:db8::110]:80"), 2, 2, at(0))
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgOptions{}, Interface{Link: layers.LinkTypeEthernet, Name: "eth0"})
	if err != nil {
		return nil, err
	}
	for _, p := range a.Full(100, 100, false) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return Gzip(buf.Bytes()), nil
}

// genSnaplen: Ethernet with snap length 54 (14 + 20 + 20): every TCP option is cut;
// one connection with timestamps, one without (only its SYNs have options).
func genSnaplen() ([]byte, error) {
	a := NewConn(ap("192.0.2.12:48000"), ap("192.0.2.120:80"), 1000, 2000, at(0))
	b := NewConn(ap("192.0.2.13:48001"), ap("192.0.2.120:80"), 3000, 4000, at(time.Second))
	b.TS = false
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{Snaplen: 54}, merge(a.Full(100, 1400, true), b.Full(100, 1400, true)))
}

// genVersion22: a pcap file whose header says version 2.2, as libpcap before 0.4
// wrote them: every record header holds the original length before the captured
// one. Records are cut to 80 bytes, so the two lengths differ and a reader that
// takes them in the 2.4 order fails (captured longer than original).
func genVersion22() ([]byte, error) {
	a := NewConn(ap("192.0.2.16:48100"), ap("192.0.2.160:80"), 7000, 8000, at(0))
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{Snaplen: 80, Version: [2]uint16{2, 2}}, a.Full(100, 1400, true))
}

// genVLANOneWay: one connection seen through a mirror port that tags one
// direction only (a switch's SPAN of a trunk: the client's frames carry VLAN 100,
// the server's arrive untagged). The tracker joins the untagged SYN-ACK to the
// tagged SYN it acknowledges: one connection, its server's tags reported apart;
// --ignore-vlan keys them as one without tags.
func genVLANOneWay() ([]byte, error) {
	c := NewConn(ap("192.0.2.25:40400"), ap("192.0.2.250:80"), 1000, 5000, at(0))
	ps := c.Full(100, 200, true)
	for i := range ps {
		if ps[i].Src == c.Client {
			ps[i].VLAN = []uint16{100}
		}
	}
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, ps)
}

// framesBytes writes a pcap file of link type link from a frame per packet.
func framesBytes(link layers.LinkType, ps []Packet, enc func(Packet) []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := NewPcapWriter(&b, link, PcapOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if err := w.WriteFrame(p.Time, enc(p)); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// sentBy reports whether p travels from client (for the outer direction).
func sentBy(p Packet, client netip.AddrPort) bool { return p.Src == client }

// genVXLAN: the same inner 4-tuple in two VXLAN segments (VNI 100 and 200) between
// two Linux VTEPs (ip link add vxlan100 type vxlan id 100 dstport 4789), at once:
// two connections. The one in VNI 200 loses the client's final ACK after the tap
// and its server retransmits its FIN (the finding names the VNI).
func genVXLAN() ([]byte, error) {
	c, s := ap("192.0.2.21:40100"), ap("192.0.2.210:80")
	vA, vB := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	a := NewConn(c, s, 1000, 5000, at(0))
	b := NewConn(c, s, 2000, 6000, at(100*time.Microsecond))
	bs := append(b.Handshake(), b.Exchange(100, 200)...)
	bs = append(bs, b.FIN(true), b.ACK(false))
	fin := b.FIN(false)
	bs = append(bs, fin, b.ACK(true))
	again := fin
	again.Time = b.Wait(200 * time.Millisecond).Now
	bs = append(bs, again, b.ACK(true))
	var all []Packet
	vni := map[time.Time]uint32{}
	for _, p := range a.Full(100, 200, true) {
		vni[p.Time] = 100
		all = append(all, p)
	}
	for _, p := range bs {
		vni[p.Time] = 200
		all = append(all, p)
	}
	all = merge(all)
	return framesBytes(layers.LinkTypeEthernet, all, func(p Packet) []byte {
		if sentBy(p, c) {
			return EncapVXLAN(p, vA, vB, vni[p.Time])
		}
		return EncapVXLAN(p, vB, vA, vni[p.Time])
	})
}

// genGRE: Linux GRE tunnels (ip tunnel add ... mode gre [key N], ip link add ...
// type gretap): the same inner 4-tuple in GRE with key 1 and with key 2 at once
// (two connections), an IPv4 connection in GRE without a key, and an IPv6
// connection in gretap (Transparent Ethernet Bridging, 0x6558).
func genGRE() ([]byte, error) {
	c, s := ap("192.0.2.22:40200"), ap("192.0.2.220:443")
	tA, tB := netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	k1 := NewConn(c, s, 1000, 5000, at(0))
	k2 := NewConn(c, s, 2000, 6000, at(100*time.Microsecond))
	plain := NewConn(ap("192.0.2.23:40201"), ap("192.0.2.230:22"), 3000, 7000, at(200*time.Microsecond))
	v6c := ap("[2001:db8::22]:40202")
	v6 := NewConn(v6c, ap("[2001:db8::220]:80"), 4000, 8000, at(300*time.Microsecond))
	opt := map[time.Time]GREOptions{}
	var all []Packet
	for _, x := range []struct {
		ps []Packet
		o  GREOptions
	}{
		{k1.Full(100, 200, true), GREOptions{Key: 1, HasKey: true}},
		{k2.Full(100, 200, false), GREOptions{Key: 2, HasKey: true}},
		{plain.Full(100, 200, true), GREOptions{}},
		{v6.Full(100, 200, true), GREOptions{Bridge: true}},
	} {
		for _, p := range x.ps {
			opt[p.Time] = x.o
			all = append(all, p)
		}
	}
	all = merge(all)
	return framesBytes(layers.LinkTypeEthernet, all, func(p Packet) []byte {
		if sentBy(p, c) || sentBy(p, v6c) || p.Src.Port() == 40201 {
			return EncapGRE(p, tA, tB, opt[p.Time])
		}
		return EncapGRE(p, tB, tA, opt[p.Time])
	})
}

// genNFLOG: an IPv4 and an IPv6 connection logged by Linux's NFLOG target
// (iptables -j NFLOG --nflog-group 5 --nflog-prefix finack; tcpdump -i nflog:5)
// on a little-endian host.
func genNFLOG() ([]byte, error) {
	a := NewConn(ap("192.0.2.24:40300"), ap("192.0.2.240:80"), 1000, 5000, at(0))
	b := NewConn(ap("[2001:db8::24]:40301"), ap("[2001:db8::240]:80"), 2000, 6000, at(100*time.Microsecond))
	return framesBytes(239, merge(a.Full(100, 200, true), b.Full(100, 200, false)), func(p Packet) []byte {
		return EncodeNFLOG(p, 5, "finack", binary.LittleEndian)
	})
}

// genFragments: one TCP connection among ARP, UDP, ICMP, ICMPv6, complete IPv4 and
// IPv6 fragment trains of UDP datagrams, and lone TCP fragments (first and last
// pieces) that no tool can reassemble.
func genFragments() ([]byte, error) {
	conn := NewConn(ap("192.0.2.14:49000"), ap("192.0.2.140:80"), 5000, 6000, at(2*time.Millisecond))
	conn.Gap = 10 * time.Millisecond
	ps := conn.Full(100, 200, true)
	v4a, v4b := ap("192.0.2.15:5353"), ap("192.0.2.150:53")
	v6a, v6b := ap("[2001:db8::15]:5353"), ap("[2001:db8::150]:53")
	t := func(ms int) time.Time { return at(time.Duration(ms)*time.Millisecond + 7*time.Millisecond) }
	other := []Packet{
		{Time: t(0), Src: v4a, Dst: v4b, Proto: ProtoUDP, Payload: 40, IPID: 1},
		{Time: t(10), Src: v4a, Dst: v4b, Proto: ProtoICMP, Payload: 56, IPID: 2},
		{Time: t(20), Src: v6a, Dst: v6b, Proto: ProtoICMPv6, Payload: 56},
		// IPv4 UDP datagram of 1608 bytes in two fragments.
		{Time: t(30), Src: v4a, Dst: v4b, Proto: ProtoUDP, Payload: 1600, IPID: 3, Frag: &Frag{Offset: 0, Len: 1480, More: true}},
		{Time: t(31), Src: v4a, Dst: v4b, Proto: ProtoUDP, Payload: 1600, IPID: 3, Frag: &Frag{Offset: 1480}},
		// IPv6 UDP datagram in two fragments.
		{Time: t(40), Src: v6a, Dst: v6b, Proto: ProtoUDP, Payload: 1600, IPID: 4, Frag: &Frag{Offset: 0, Len: 1232, More: true}},
		{Time: t(41), Src: v6a, Dst: v6b, Proto: ProtoUDP, Payload: 1600, IPID: 4, Frag: &Frag{Offset: 1232}},
		// Lone TCP fragments: the first piece of one segment, the last of another.
		{Time: t(50), Src: ap("192.0.2.16:49001"), Dst: ap("192.0.2.160:80"), Seq: 1, Ack: 1, Flags: 0x18, Window: 512, Payload: 1000, IPID: 5, Frag: &Frag{Offset: 0, Len: 512, More: true}},
		{Time: t(60), Src: ap("192.0.2.16:49001"), Dst: ap("192.0.2.160:80"), Seq: 1001, Ack: 1, Flags: 0x18, Window: 512, Payload: 1000, IPID: 6, Frag: &Frag{Offset: 512}},
		{Time: t(70), Src: ap("[2001:db8::16]:49002"), Dst: ap("[2001:db8::160]:80"), Seq: 1, Ack: 1, Flags: 0x18, Window: 512, Payload: 1000, IPID: 7, Frag: &Frag{Offset: 0, Len: 512, More: true}},
	}
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, layers.LinkTypeEthernet, PcapOptions{})
	if err != nil {
		return nil, err
	}
	if err := w.WriteFrame(at(0), EncodeARP(layers.LinkTypeEthernet, netip.MustParseAddr("192.0.2.14"), netip.MustParseAddr("192.0.2.140"))); err != nil {
		return nil, err
	}
	for _, p := range merge(ps, other) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// rotatedPackets describes gen-rotated: the full capture in time order, and which of
// its packets went to the second file.
func rotatedPackets() (all []Packet, second []bool) {
	a := NewConn(ap("192.0.2.17:40100"), ap("192.0.2.170:80"), 100, 200, at(0))
	b := NewConn(ap("192.0.2.18:40200"), ap("192.0.2.170:80"), 300, 400, at(500*time.Microsecond))
	all = merge(a.Full(10, 20, true), b.Full(10, 20, true))
	// all alternates a, b every 0.5 ms. The cut is near packet 14; the second file
	// starts with packets 14 and 16 while the first still holds 15 and 17, and
	// packet 16 gets packet 17's timestamp: a tie the merge must break by file order
	// (first file first), so the merged order is 0..15, 17, 16, 18..
	k := 14
	all[k+2].Time = all[k+3].Time
	second = make([]bool, len(all))
	for i := range all {
		second[i] = i == k || i == k+2 || i >= k+4
	}
	return all, second
}

func genRotated() ([]byte, []byte, error) {
	all, second := rotatedPackets()
	var f0, f1 []Packet
	for i, p := range all {
		if second[i] {
			f1 = append(f1, p)
		} else {
			f0 = append(f0, p)
		}
	}
	b0, err := pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, f0)
	if err != nil {
		return nil, nil, err
	}
	b1, err := pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, f1)
	return b0, b1, err
}

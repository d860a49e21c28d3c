package capture_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

var (
	cli4, srv4 = netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.10:80")
	cli6, srv6 = netip.MustParseAddrPort("[2001:db8::1]:40000"), netip.MustParseAddrPort("[2001:db8::10]:80")
)

// seg4 and seg6 are a data segment with a timestamp option, over IPv4 and IPv6.
func seg4() synth.Packet {
	return synth.Packet{Src: cli4, Dst: srv4, Seq: 1000, Ack: 2000, Flags: capture.PSH | capture.ACK, Window: 502,
		Payload: 100, HasTS: true, TSval: 7, TSecr: 8, IPID: 0x1234, TTL: 63}
}

func seg6() synth.Packet {
	p := seg4()
	p.Src, p.Dst = cli6, srv6
	return p
}

func enc(link layers.LinkType, p synth.Packet) []byte { return synth.Encode(link, p) }

// patch returns a copy of b with bytes at off replaced.
func patch(b []byte, off int, v ...byte) []byte {
	c := bytes.Clone(b)
	copy(c[off:], v)
	return c
}

func cut(b []byte, n int) []byte { return bytes.Clone(b[:n]) }

func ethHeader(etype uint16) []byte {
	h := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0, 0}
	binary.BigEndian.PutUint16(h[12:], etype)
	return h
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

type decodeCase struct {
	name  string
	link  layers.LinkType
	frame []byte
	skip  capture.SkipReason // when want is nil
	want  func(*testing.T, capture.Segment)
}

// base checks the fields every seg4/seg6 segment must carry.
func base(v6 bool, payload uint32, extra func(*testing.T, capture.Segment)) func(*testing.T, capture.Segment) {
	return func(t *testing.T, s capture.Segment) {
		t.Helper()
		src, dst, ttl, id := cli4, srv4, uint8(63), uint16(0x1234)
		if v6 {
			src, dst, id = cli6, srv6, 0
		}
		if s.Src != src || s.Dst != dst || s.Seq != 1000 || s.Ack != 2000 || s.Flags != capture.PSH|capture.ACK ||
			s.Window != 502 || s.PayloadLen != payload || s.TTL != ttl || s.IPID != id {
			t.Errorf("decoded %s", fmtSeg(s))
		}
		if extra != nil {
			extra(t, s)
		}
	}
}

func hasTS(t *testing.T, s capture.Segment) {
	t.Helper()
	if !s.HasTS || s.TSval != 7 || s.TSecr != 8 || s.Truncated {
		t.Errorf("timestamp option: %s", fmtSeg(s))
	}
}

func vlans(want [2]uint16) func(*testing.T, capture.Segment) {
	return func(t *testing.T, s capture.Segment) {
		t.Helper()
		hasTS(t, s)
		if s.VLAN != want {
			t.Errorf("VLAN %v, want %v", s.VLAN, want)
		}
	}
}

// tunnelled checks the segment's tunnel and VLAN tags (the timestamp option too).
func tunnelled(want capture.Tunnel, vlan [2]uint16) func(*testing.T, capture.Segment) {
	return func(t *testing.T, s capture.Segment) {
		t.Helper()
		hasTS(t, s)
		if s.Tunnel != want || s.VLAN != vlan {
			t.Errorf("tunnel %+v vlan %v, want %+v %v", s.Tunnel, s.VLAN, want, vlan)
		}
	}
}

func decodeCases() []decodeCase {
	p4, p6 := seg4(), seg6()
	raw4, raw6 := enc(101, p4), enc(101, p6)
	small := p4
	small.Payload, small.HasTS = 0, false
	qinqOld := p4
	qinqOld.VLAN, qinqOld.VLANTPID = []uint16{100, 200}, 0x9100
	one := p4
	one.VLAN = []uint16{7}
	atomic := p6
	atomic.Frag = &synth.Frag{}
	frag6 := p6
	frag6.Frag = &synth.Frag{Len: 16, More: true}
	frag4 := p4
	frag4.Frag = &synth.Frag{Offset: 8}
	udp := p4
	udp.Proto = synth.ProtoUDP
	ext6 := p6
	ext6.Ext6 = []uint8{synth.ExtHopByHop, synth.ExtDestination, synth.ExtRouting}
	badOpt := cat(raw4[:40], []byte{1, 1, 5, 0}, raw4[44:]) // option kind 5 with length 0, then the TS option is unreachable
	badTSLen := patch(raw4, 40+3, 8)                        // TS option declaring length 8
	noTS := func(t *testing.T, s capture.Segment) {
		t.Helper()
		if s.HasTS || s.Truncated {
			t.Errorf("malformed options: %s", fmtSeg(s))
		}
	}
	mapped := patch(raw6, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1)
	mapped = patch(mapped, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 10)
	tso := patch(raw4, 2, 0, 0) // IPv4 total length 0, as captured with TSO
	ipOpts := func() []byte {   // IHL 6: one 4-byte IP option (NOP NOP NOP EOL)
		h := bytes.Clone(raw4[:20])
		h[0] = 0x46
		binary.BigEndian.PutUint16(h[2:], uint16(len(raw4)+4))
		return cat(h, []byte{1, 1, 1, 0}, raw4[20:])
	}()
	ipip := func() []byte { // IPv4 in IPv4 (protocol 4)
		h := bytes.Clone(raw4[:20])
		binary.BigEndian.PutUint16(h[2:], uint16(len(raw4)+20))
		h[9] = 4
		copy(h[12:], []byte{198, 51, 100, 1, 198, 51, 100, 2})
		return cat(h, raw4)
	}()
	mpls := cat(ethHeader(0x8847), []byte{0, 0x10, 0, 64, 0, 0x20, 1, 64}, raw4) // two labels, bottom of stack on the second
	pppoe := func() []byte {
		h := []byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}
		binary.BigEndian.PutUint16(h[4:], uint16(len(raw4)+2))
		return cat(ethHeader(0x8864), h, raw4)
	}()
	sllVLAN := cat(enc(113, p4)[:14], []byte{0x81, 0x00, 0, 9, 0x08, 0x00}, raw4)
	sllBigAddr := patch(enc(113, p4), 4, 0, 12) // address length 12: header is still 16 bytes
	sll2BigAddr := patch(enc(276, p4), 11, 12)
	ipoib := cat(make([]byte, 40), []byte{0x08, 0x00, 0, 0}, raw4)
	nullBE := cat([]byte{0, 0, 0, 2}, raw4)     // Null written on a big-endian host
	null28 := cat([]byte{28, 0, 0, 0}, raw6)    // FreeBSD AF_INET6
	null10 := cat([]byte{10, 0, 0, 0}, raw6)    // Linux AF_INET6
	llc := cat(ethHeader(46), make([]byte, 46)) // 802.3 length field, LLC follows
	gre := patch(raw4, 9, 47)

	vtepA, vtepB := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	vx := synth.EncapVXLAN(p4, vtepA, vtepB, 0xabcdef)
	vx6 := synth.EncapVXLAN(p6, vtepA, vtepB, 7)
	innerTag := p4
	innerTag.VLAN = []uint16{30}
	vxTagged := synth.EncapVXLAN(innerTag, vtepA, vtepB, 8)
	outerTagged := cat(ethHeader(0x8100), []byte{0, 5, 0x08, 0x00}, vx[14:]) // underlay VLAN 5
	vxNoI := patch(vx, 14+20+8, 0)                                           // VXLAN flags without I
	vxOtherPort := patch(vx, 14+20+2, 0x21, 0x18)                            // UDP port 8472, Linux's pre-IANA default: not followed
	greKey := synth.EncapGRE(p4, vtepA, vtepB, synth.GREOptions{Key: 0xfeedbeef, HasKey: true})
	greNoKey := synth.EncapGRE(p6, vtepA, vtepB, synth.GREOptions{})
	greTEB := synth.EncapGRE(innerTag, vtepA, vtepB, synth.GREOptions{Bridge: true, Key: 9, HasKey: true})
	greV1 := patch(greNoKey, 14+20+1, 1)     // version 1 (PPTP)
	greRoute := patch(greNoKey, 14+20, 0x40) // routing present (RFC 1701)
	greCsum := func() []byte {               // checksum present: 4 more bytes before the payload
		b := bytes.Clone(greNoKey[:14+20])
		binary.BigEndian.PutUint16(b[14+2:], uint16(len(greNoKey)-14+4))
		return cat(b, []byte{0x80, 0, 0x86, 0xdd, 0, 0, 0, 0}, greNoKey[14+20+4:])
	}()
	// ERSPAN type II (0x88be, GRE sequence number, 8-byte header) and type III
	// (0x22eb, 12-byte header, 8 more with the O flag), each around p4's frame.
	erspan := func(proto uint16, hdr []byte) []byte {
		g := []byte{0x10, 0, byte(proto >> 8), byte(proto), 0, 0, 0, 1}
		inner := cat(g, hdr, enc(1, p4))
		outer := bytes.Clone(greNoKey[:14+20])
		binary.BigEndian.PutUint16(outer[14+2:], uint16(20+len(inner)))
		return cat(outer, inner)
	}
	erspan2 := erspan(0x88be, make([]byte, 8))
	erspan3 := erspan(0x22eb, make([]byte, 12))
	erspan3O := erspan(0x22eb, cat(patch(make([]byte, 12), 11, 1), make([]byte, 8)))
	nflogLE := synth.EncodeNFLOG(p4, 5, "x", binary.LittleEndian)
	nflogBE := synth.EncodeNFLOG(p6, 5, "prefix", binary.BigEndian)
	nflogNoPayload := nflogLE[:4+8+8] // packet header and prefix attributes only

	return []decodeCase{
		{name: "vxlan", link: 1, frame: vx, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.VXLAN, ID: 0xabcdef}, [2]uint16{}))},
		{name: "vxlan ipv6 inside", link: 1, frame: vx6, want: base(true, 100, tunnelled(capture.Tunnel{Kind: capture.VXLAN, ID: 7}, [2]uint16{}))},
		{name: "vxlan: the inner frame's tags", link: 1, frame: vxTagged, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.VXLAN, ID: 8}, [2]uint16{30, 0}))},
		{name: "vxlan: underlay tag not kept", link: 1, frame: outerTagged, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.VXLAN, ID: 0xabcdef}, [2]uint16{}))},
		{name: "gre key", link: 1, frame: greKey, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.GREKey, ID: 0xfeedbeef}, [2]uint16{}))},
		{name: "gre without key, ipv6", link: 1, frame: greNoKey, want: base(true, 100, tunnelled(capture.Tunnel{Kind: capture.GRE}, [2]uint16{}))},
		{name: "gre with checksum", link: 1, frame: greCsum, want: base(true, 100, tunnelled(capture.Tunnel{Kind: capture.GRE}, [2]uint16{}))},
		{name: "gretap (0x6558) with inner tag", link: 1, frame: greTEB, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.GREKey, ID: 9}, [2]uint16{30, 0}))},
		{name: "erspan type II", link: 1, frame: erspan2, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.GRE}, [2]uint16{}))},
		{name: "erspan type III", link: 1, frame: erspan3, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.GRE}, [2]uint16{}))},
		{name: "erspan type III with subheader", link: 1, frame: erspan3O, want: base(false, 100, tunnelled(capture.Tunnel{Kind: capture.GRE}, [2]uint16{}))},
		{name: "nflog little-endian", link: 239, frame: nflogLE, want: base(false, 100, hasTS)},
		{name: "nflog big-endian", link: 239, frame: nflogBE, want: base(true, 100, hasTS)},
		{name: "nflog without payload", link: 239, frame: nflogNoPayload, skip: capture.NotIP},
		{name: "vxlan without the I flag", link: 1, frame: vxNoI, skip: capture.NotTCP},
		{name: "udp port 8472 is not vxlan", link: 1, frame: vxOtherPort, skip: capture.NotTCP},
		{name: "gre version 1", link: 1, frame: greV1, skip: capture.NotTCP},
		{name: "gre with routing", link: 1, frame: greRoute, skip: capture.NotTCP},
		{name: "ethernet", link: 1, frame: enc(1, p4), want: base(false, 100, hasTS)},
		{name: "ethernet ipv6", link: 1, frame: enc(1, p6), want: base(true, 100, hasTS)},
		{name: "ethernet padding not payload", link: 1, frame: enc(1, small), want: func(t *testing.T, s capture.Segment) {
			if s.PayloadLen != 0 || len(enc(1, small)) != 60 {
				t.Errorf("padded frame: PayloadLen %d", s.PayloadLen)
			}
		}},
		{name: "802.1Q", link: 1, frame: enc(1, one), want: base(false, 100, vlans([2]uint16{7, 0}))},
		{name: "QinQ 0x88a8", link: 1, frame: enc(1, func() synth.Packet { p := p4; p.VLAN = []uint16{10, 20}; return p }()), want: base(false, 100, vlans([2]uint16{10, 20}))},
		{name: "QinQ 0x9100", link: 1, frame: enc(1, qinqOld), want: base(false, 100, vlans([2]uint16{100, 200}))},
		{name: "three tags keep the outer two", link: 1, frame: enc(1, func() synth.Packet { p := p4; p.VLAN = []uint16{1, 2, 3}; return p }()), want: base(false, 100, vlans([2]uint16{1, 2}))},
		{name: "linux sll", link: 113, frame: enc(113, p4), want: base(false, 100, hasTS)},
		{name: "linux sll with vlan tag", link: 113, frame: sllVLAN, want: base(false, 100, vlans([2]uint16{9, 0}))},
		{name: "linux sll address length 12", link: 113, frame: sllBigAddr, want: base(false, 100, hasTS)},
		{name: "linux sll2", link: 276, frame: enc(276, p6), want: base(true, 100, hasTS)},
		{name: "linux sll2 address length 12", link: 276, frame: sll2BigAddr, want: base(false, 100, hasTS)},
		{name: "null AF_INET", link: 0, frame: enc(0, p4), want: base(false, 100, hasTS)},
		{name: "null AF_INET big endian", link: 0, frame: nullBE, want: base(false, 100, hasTS)},
		{name: "null AF_INET6 darwin", link: 0, frame: enc(0, p6), want: base(true, 100, hasTS)},
		{name: "null AF_INET6 freebsd", link: 0, frame: null28, want: base(true, 100, hasTS)},
		{name: "null AF_INET6 linux", link: 0, frame: null10, want: base(true, 100, hasTS)},
		{name: "loop", link: 108, frame: enc(108, p6), want: base(true, 100, hasTS)},
		{name: "raw 101 ipv4", link: 101, frame: raw4, want: base(false, 100, hasTS)},
		{name: "raw 101 ipv6", link: 101, frame: raw6, want: base(true, 100, hasTS)},
		{name: "raw DLT 12", link: 12, frame: raw6, want: base(true, 100, hasTS)},
		{name: "raw DLT 14", link: 14, frame: raw4, want: base(false, 100, hasTS)},
		{name: "ipv4 228", link: 228, frame: raw4, want: base(false, 100, hasTS)},
		{name: "ipv6 229", link: 229, frame: raw6, want: base(true, 100, hasTS)},
		{name: "ipoib", link: 242, frame: ipoib, want: base(false, 100, hasTS)},
		{name: "mpls", link: 1, frame: mpls, want: base(false, 100, hasTS)},
		{name: "pppoe session", link: 1, frame: pppoe, want: base(false, 100, hasTS)},
		{name: "ipv6 extension headers", link: 229, frame: enc(229, ext6), want: base(true, 100, hasTS)},
		{name: "ipv6 atomic fragment is whole", link: 229, frame: enc(229, atomic), want: base(true, 100, hasTS)},
		{name: "ipv4 options", link: 101, frame: ipOpts, want: base(false, 100, hasTS)},
		{name: "ipv4 in ipv4: inner header", link: 101, frame: ipip, want: base(false, 100, hasTS)},
		{name: "ipv4 total length 0 (TSO)", link: 101, frame: tso, want: base(false, 100, hasTS)},
		// An IPv6 packet is never its IPv4 twin: IPv4-mapped addresses stay IPv6.
		{name: "ipv4-mapped addresses stay ipv6", link: 229, frame: mapped, want: func(t *testing.T, s capture.Segment) {
			if s.Src.Addr().Unmap() != cli4.Addr() || s.Dst.Addr().Unmap() != srv4.Addr() || !s.Src.Addr().Is4In6() || !s.Dst.Addr().Is4In6() {
				t.Errorf("mapped: %v > %v", s.Src, s.Dst)
			}
		}},
		// Found by FuzzFrame (testdata/fuzz/FuzzFrame/2605de9c8f10b642): unmapping
		// each end on its own made an IPv4 source talk to an IPv6 destination.
		{name: "one end ipv4-mapped: stays ipv6", link: 229, frame: patch(raw6, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1), want: func(t *testing.T, s capture.Segment) {
			if !s.Src.Addr().Is4In6() || s.Dst != srv6 {
				t.Errorf("one end mapped: %v > %v", s.Src, s.Dst)
			}
		}},
		{name: "tcp cut after 14 bytes", link: 101, frame: cut(raw4, 20+14), want: func(t *testing.T, s capture.Segment) {
			if s.Seq != 1000 || s.Ack != 2000 || s.Flags != capture.PSH|capture.ACK || s.Window != 0 || !s.Truncated || s.HasTS || s.PayloadLen != 100 {
				t.Errorf("cut TCP: %s", fmtSeg(s))
			}
		}},
		{name: "tcp cut inside the timestamp option", link: 101, frame: cut(raw4, 20+20+6), want: func(t *testing.T, s capture.Segment) {
			if s.Window != 502 || !s.Truncated || s.HasTS || s.PayloadLen != 100 {
				t.Errorf("cut options: %s", fmtSeg(s))
			}
		}},
		{name: "tcp header whole, payload cut", link: 101, frame: cut(raw4, 20+32+10), want: base(false, 100, hasTS)},
		{name: "malformed option length", link: 101, frame: badOpt, want: noTS},
		{name: "timestamp option of length 8", link: 101, frame: badTSLen, want: noTS},

		{name: "tcp cut after 13 bytes", link: 101, frame: cut(raw4, 20+13), skip: capture.Undecodable},
		{name: "tcp data offset 4", link: 101, frame: patch(raw4, 20+12, 0x40), skip: capture.Undecodable},
		{name: "ip header cut", link: 101, frame: cut(raw4, 19), skip: capture.Undecodable},
		{name: "ethernet ends after header", link: 1, frame: ethHeader(0x0800), skip: capture.Undecodable},
		{name: "ethernet runt", link: 1, frame: []byte{1, 2, 3}, skip: capture.Undecodable},
		{name: "empty frame", link: 1, frame: nil, skip: capture.Undecodable},
		{name: "raw version 5", link: 101, frame: patch(raw4, 0, 0x55), skip: capture.Undecodable},
		{name: "ipv4 ethertype carrying ipv6", link: 1, frame: cat(ethHeader(0x0800), raw6), skip: capture.Undecodable},
		{name: "ipv6 payload length 0", link: 229, frame: patch(raw6, 4, 0, 0), skip: capture.Undecodable},
		{name: "arp", link: 1, frame: synth.EncodeARP(1, cli4.Addr(), srv4.Addr()), skip: capture.NotIP},
		{name: "arp on sll2", link: 276, frame: synth.EncodeARP(276, cli4.Addr(), srv4.Addr()), skip: capture.NotIP},
		{name: "llc", link: 1, frame: llc, skip: capture.NotIP},
		{name: "ipoib arp", link: 242, frame: cat(make([]byte, 40), []byte{0x08, 0x06, 0, 0}, make([]byte, 28)), skip: capture.NotIP},
		{name: "udp", link: 1, frame: enc(1, udp), skip: capture.NotTCP},
		{name: "gre", link: 101, frame: gre, skip: capture.NotTCP},
		{name: "ipv4 fragment (offset)", link: 101, frame: enc(101, frag4), skip: capture.Fragment},
		{name: "ipv4 first fragment (MF)", link: 101, frame: enc(101, func() synth.Packet { p := p4; p.Frag = &synth.Frag{Len: 24, More: true}; return p }()), skip: capture.Fragment},
		{name: "ipv6 fragment", link: 229, frame: enc(229, frag6), skip: capture.Fragment},
		{name: "unknown link type", link: 147, frame: raw4, skip: capture.UnsupportedLinkType},
	}
}

// TestDecode runs each frame through a one-packet pcap file.
func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "f.pcap", pcapOf(t, tc.link, tc.frame))
			segs, st, err := readAll(t, []string{path}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Packets != 1 {
				t.Fatalf("%d packets", st.Packets)
			}
			if tc.want == nil {
				if len(segs) != 0 || st.Skipped[tc.skip] != 1 {
					t.Errorf("want skipped as %v, got %d segments, skipped %v", tc.skip, len(segs), st.Skipped)
				}
				return
			}
			if len(segs) != 1 {
				t.Fatalf("no segment; skipped %v", st.Skipped)
			}
			s := segs[0]
			if s.Frame != 1 || !s.Time.Equal(synth.Epoch) || s.Time.Location() != time.UTC {
				t.Errorf("frame %d time %v", s.Frame, s.Time)
			}
			tc.want(t, s)
		})
	}
}

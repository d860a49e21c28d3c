package synth

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestChecksums decodes what Encode builds with gopacket (an independent decoder)
// and verifies every checksum, for each link type and transport.
func TestChecksums(t *testing.T) {
	v4a, v4b := netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("192.0.2.2:80")
	v6a, v6b := netip.MustParseAddrPort("[2001:db8::1]:1234"), netip.MustParseAddrPort("[2001:db8::2]:80")
	var ps []Packet
	for _, ends := range [][2]netip.AddrPort{{v4a, v4b}, {v6a, v6b}} {
		base := Packet{Src: ends[0], Dst: ends[1], Seq: 1, Ack: 2, Flags: capture.SYN | capture.ACK, Window: 1000,
			Payload: 33, HasTS: true, TSval: 5, TSecr: 6, MSS: 1460, SACKPerm: true, HasWScale: true, WScale: 7, IPID: 9}
		udp, icmp := base, base
		udp.Proto = ProtoUDP
		icmp.Proto = ProtoICMP
		if ends[0].Addr().Is6() {
			icmp.Proto = ProtoICMPv6
		}
		ps = append(ps, base, udp, icmp)
	}
	ext := ps[3]
	ext.Ext6 = []uint8{ExtHopByHop, ExtRouting, ExtDestination}
	ps = append(ps, ext)
	for i, p := range ps {
		// Checksums, from the bare IP packet.
		first := layers.LayerTypeIPv4
		if p.Src.Addr().Is6() {
			first = layers.LayerTypeIPv6
		}
		pkt := gopacket.NewPacket(Encode(101, p), first, gopacket.Default)
		if el := pkt.ErrorLayer(); el != nil {
			t.Fatalf("packet %d: %v", i, el.Error())
		}
		for _, l := range pkt.Layers() {
			if c, ok := l.(interface {
				SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
			}); ok {
				if err := c.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
			}
		}
		if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) != 0 {
			t.Errorf("packet %d: checksums %v %v", i, err, bad)
		}
		if ip4, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
			if err, res := ip4.VerifyChecksum(); err != nil || !res.Valid {
				t.Errorf("packet %d: IPv4 header checksum", i)
			}
		}
		// Link framing, for the link types gopacket itself decodes.
		for _, link := range []layers.LinkType{1, 113, 276, 0, 108, 101} {
			pkt := gopacket.NewPacket(Encode(link, p), link, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Errorf("link %d packet %d: %v", link, i, el.Error())
				continue
			}
			if p.proto() == ProtoTCP {
				tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if tcp == nil || tcp.Seq != 1 || tcp.Ack != 2 || !tcp.SYN || !tcp.ACK || len(tcp.Payload) != 33 || len(tcp.Options) < 4 {
					t.Errorf("link %d packet %d: TCP %v", link, i, tcp)
				}
			}
		}
	}
}

func TestPcapWriterCutsAndOrders(t *testing.T) {
	var b bytes.Buffer
	w, _ := NewPcapWriter(&b, 1, PcapOptions{Snaplen: 54, Nanosecond: true, BigEndian: true})
	p := Packet{Time: Epoch.Add(7), Src: netip.MustParseAddrPort("192.0.2.1:1"), Dst: netip.MustParseAddrPort("192.0.2.2:2"), Payload: 100}
	if err := w.WritePacket(p); err != nil {
		t.Fatal(err)
	}
	d := b.Bytes()
	if !bytes.Equal(d[:4], []byte{0xa1, 0xb2, 0x3c, 0x4d}) || binary.BigEndian.Uint32(d[16:]) != 54 {
		t.Errorf("header % x", d[:24])
	}
	if caplen, orig, ns := binary.BigEndian.Uint32(d[32:]), binary.BigEndian.Uint32(d[36:]), binary.BigEndian.Uint32(d[28:]); caplen != 54 || orig != 14+20+20+100 || ns != 7 || len(d) != 24+16+54 {
		t.Errorf("record: caplen %d orig %d ns %d file %d bytes", caplen, orig, ns, len(d))
	}
}

func TestDeterministic(t *testing.T) {
	a, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Files()
	if len(a) != 22 {
		t.Errorf("%d files", len(a))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Name)
		}
	}
}

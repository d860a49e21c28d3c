package capture

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// etherTypeQinQOld is the pre-standard QinQ TPID (0x9100) some switches still use.
// gopacket knows 0x8100 and 0x88a8 only.
const etherTypeQinQOld layers.EthernetType = 0x9100

func nextAfterEtherType(t layers.EthernetType) gopacket.LayerType {
	if t == etherTypeQinQOld {
		return layers.LayerTypeDot1Q
	}
	return t.LayerType()
}

// etherLayer is gopacket's Ethernet that also follows 0x9100 tags. The VLAN tags
// a segment carries are those of the last Ethernet header of its frame (the one
// inside VXLAN or GRE, when there is one), so each Ethernet header starts the
// count again.
type etherLayer struct {
	layers.Ethernet
	vlan *vlanLayer
}

func (e *etherLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	e.vlan.n = 0
	return e.Ethernet.DecodeFromBytes(data, df)
}

func (e *etherLayer) NextLayerType() gopacket.LayerType { return nextAfterEtherType(e.EthernetType) }

// vlanLayer is gopacket's Dot1Q that remembers the first two VLAN IDs of a frame:
// the parser decodes every tag into the same struct, so without this the outer
// tag of a QinQ frame would be overwritten by the inner one.
type vlanLayer struct {
	layers.Dot1Q
	ids [2]uint16
	n   int
}

func (v *vlanLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := v.Dot1Q.DecodeFromBytes(data, df); err != nil {
		return err
	}
	if v.n < len(v.ids) {
		v.ids[v.n] = v.VLANIdentifier
	}
	v.n++
	return nil
}

func (v *vlanLayer) NextLayerType() gopacket.LayerType {
	if v.Type < 0x600 { // 802.3 length, LLC follows
		return layers.LayerTypeLLC
	}
	return nextAfterEtherType(v.Type)
}

// sllLayer is gopacket's Linux SLL that accepts an address length above 8: the
// header is 16 bytes whatever the length says (the field only sizes the address),
// and Wireshark decodes such frames, so they must not become undecodable.
type sllLayer struct{ layers.LinuxSLL }

func (s *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) >= 16 && binary.BigEndian.Uint16(data[4:6]) > 8 {
		s.PacketType = layers.LinuxSLLPacketType(binary.BigEndian.Uint16(data[0:2]))
		s.AddrType = binary.BigEndian.Uint16(data[2:4])
		s.AddrLen = 8
		s.Addr = data[6:14]
		s.EthernetType = layers.EthernetType(binary.BigEndian.Uint16(data[14:16]))
		s.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
		return nil
	}
	return s.LinuxSLL.DecodeFromBytes(data, df)
}

// sll2Layer does the same for SLL2 (20-byte header, address length at byte 11).
type sll2Layer struct{ layers.LinuxSLL2 }

func (s *sll2Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) >= 20 && data[11] > 8 {
		var fixed [20]byte
		copy(fixed[:], data[:20])
		fixed[11] = 8
		if err := s.LinuxSLL2.DecodeFromBytes(fixed[:], df); err != nil {
			return err
		}
		s.Addr = data[12:20]
		s.BaseLayer = layers.BaseLayer{Contents: data[:20], Payload: data[20:]}
		return nil
	}
	return s.LinuxSLL2.DecodeFromBytes(data, df)
}

// mplsLayer decodes one MPLS label stack entry (gopacket has no DecodingLayer for
// it). After the bottom of the stack, the payload is guessed from the IP version
// nibble, as every tool does; anything else (pseudowires) stops decoding.
type mplsLayer struct {
	layers.BaseLayer
	bottom bool
}

func (m *mplsLayer) LayerType() gopacket.LayerType  { return layers.LayerTypeMPLS }
func (m *mplsLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeMPLS }
func (m *mplsLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 4 {
		df.SetTruncated()
		return errShortMPLS
	}
	m.bottom = data[2]&1 != 0
	m.BaseLayer = layers.BaseLayer{Contents: data[:4], Payload: data[4:]}
	return nil
}
func (m *mplsLayer) NextLayerType() gopacket.LayerType {
	if !m.bottom {
		return layers.LayerTypeMPLS
	}
	if len(m.Payload) > 0 {
		switch m.Payload[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4
		case 6:
			return layers.LayerTypeIPv6
		}
	}
	return gopacket.LayerTypeZero
}

// pppoeLayer decodes a PPPoE session header and the PPP protocol field after it
// (gopacket has no DecodingLayer for either): DSL captures, often inside QinQ.
type pppoeLayer struct {
	layers.BaseLayer
	proto uint16
}

func (p *pppoeLayer) LayerType() gopacket.LayerType  { return layers.LayerTypePPPoE }
func (p *pppoeLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypePPPoE }
func (p *pppoeLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errShortPPPoE
	}
	p.proto = binary.BigEndian.Uint16(data[6:8])
	payload := data[8:]
	if n := int(binary.BigEndian.Uint16(data[4:6])) - 2; n >= 0 && n < len(payload) {
		payload = payload[:n] // the PPPoE length covers the PPP protocol field
	}
	p.BaseLayer = layers.BaseLayer{Contents: data[:8], Payload: payload}
	return nil
}
func (p *pppoeLayer) NextLayerType() gopacket.LayerType {
	switch p.proto {
	case 0x0021:
		return layers.LayerTypeIPv4
	case 0x0057:
		return layers.LayerTypeIPv6
	}
	return gopacket.LayerTypeZero
}

var (
	errShortMPLS  = errors.New("MPLS label truncated")
	errShortPPPoE = errors.New("PPPoE session header truncated")
)

// decoder turns one frame into a Segment. It owns one set of layer structs that
// every parser shares and reuses, so decoding allocates nothing for well-formed
// packets. gopacket decodes the link and IP layers (a DecodingLayerParser per
// starting layer); TCP is parsed here, because gopacket's TCP layer fails as a
// whole on a header or options cut by the snap length, and a cut header still
// carries the ports, sequence numbers and flags the analysis needs.
type decoder struct {
	eth  etherLayer
	vlan vlanLayer
	sll  sllLayer
	sll2 sll2Layer
	loop layers.Loopback
	mpls mplsLayer
	ppp  pppoeLayer
	udp  udpLayer
	vx   vxlanLayer
	gre  greLayer
	ip4  layers.IPv4
	ip6  layers.IPv6
	ext  layers.IPv6ExtensionSkipper // hop-by-hop (after the first), routing, destination
	frag layers.IPv6Fragment         // registered after ext so fragments are seen

	// tun is the innermost encapsulation of the frame being decoded (tunnel.go).
	tun Tunnel

	parsers [numStarts]*gopacket.DecodingLayerParser // by start, made when needed (parser)
	// letsPanic: the parsers do not recover a panic of a layer decoder (tests:
	// LetParserPanic).
	letsPanic bool
	decoded   []gopacket.LayerType
	// slowOnly turns off the fast path (fastdecode.go), for tests comparing both.
	slowOnly bool
	// ignoreVLAN leaves VLAN tags out of every segment (Options.IgnoreVLAN).
	ignoreVLAN bool
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	d.eth.vlan, d.vx.tun, d.gre.tun = &d.vlan, &d.tun, &d.tun
	return d
}

// firstLayers is the layer each start's parser begins with (none: no parser).
var firstLayers = [numStarts]gopacket.LayerType{
	startEthernet: layers.LayerTypeEthernet,
	startSLL:      layers.LayerTypeLinuxSLL,
	startSLL2:     layers.LayerTypeLinuxSLL2,
	startLoopback: layers.LayerTypeLoopback,
	startIPv4:     layers.LayerTypeIPv4,
	startIPv6:     layers.LayerTypeIPv6,
}

// parser returns the parser of start st, made the first time it is asked for (nil
// for a start without one): most frames never need one (fastdecode.go), and a
// parser's table of layers takes kilobytes, which --separate over thousands of
// small captures would make again for each.
func (d *decoder) parser(st start) *gopacket.DecodingLayerParser {
	if st >= numStarts || firstLayers[st] == gopacket.LayerTypeZero {
		return nil
	}
	if p := d.parsers[st]; p != nil {
		return p
	}
	p := gopacket.NewDecodingLayerParser(firstLayers[st])
	// A slice indexed by layer type: faster than the default map.
	p.SetDecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
	for _, l := range []gopacket.DecodingLayer{&d.eth, &d.vlan, &d.sll, &d.sll2, &d.loop, &d.mpls, &d.ppp, &d.udp, &d.vx, &d.gre, &d.ip4, &d.ip6, &d.ext,
		&d.frag} { // frag last: it overrides ext for the fragment header
		p.AddDecodingLayer(l)
	}
	p.IgnoreUnsupported = true // stopping at TCP (or UDP, ARP...) is the normal case
	// IgnorePanic false: gopacket's recover turns a panic in a layer decoder into an
	// "undecodable" frame (tests set it: letPanic).
	p.IgnorePanic = d.letsPanic
	d.parsers[st] = p
	return p
}

// layer returns the struct that decoded layer type t.
func (d *decoder) layer(t gopacket.LayerType) gopacket.DecodingLayer {
	switch t {
	case layers.LayerTypeEthernet:
		return &d.eth
	case layers.LayerTypeDot1Q:
		return &d.vlan
	case layers.LayerTypeLinuxSLL:
		return &d.sll
	case layers.LayerTypeLinuxSLL2:
		return &d.sll2
	case layers.LayerTypeLoopback:
		return &d.loop
	case layers.LayerTypeMPLS:
		return &d.mpls
	case layers.LayerTypePPPoE:
		return &d.ppp
	case layers.LayerTypeUDP:
		return &d.udp
	case layers.LayerTypeVXLAN:
		return &d.vx
	case layers.LayerTypeGRE:
		return &d.gre
	case layers.LayerTypeIPv4:
		return &d.ip4
	case layers.LayerTypeIPv6:
		return &d.ip6
	case layers.LayerTypeIPv6Fragment:
		return &d.frag
	}
	if layers.LayerClassIPv6Extension.Contains(t) {
		return &d.ext
	}
	return nil
}

// decode fills seg (all fields but Frame, Time and Interface) from a frame that
// starts with st. ok is false when the frame is not a TCP segment; why says why.
func (d *decoder) decode(st start, data []byte, seg *Segment) (why SkipReason, ok bool) {
	if !d.slowOnly && d.fast(st, data, seg) { // fastdecode.go: the common frames
		if d.ignoreVLAN {
			seg.VLAN = [2]uint16{}
		}
		return 0, true
	}
	if st == startIPoIB { // destination and source addresses (20 bytes each), EtherType, 2 reserved
		if len(data) < 44 {
			return Undecodable, false
		}
		switch binary.BigEndian.Uint16(data[40:42]) {
		case 0x0800, 0x86dd:
			st, data = startRaw, data[44:]
		default:
			return NotIP, false
		}
	}
	if st == startNFLOG {
		p, ok := nflogPayload(data)
		if !ok {
			return NotIP, false
		}
		st, data = startRaw, p
	}
	if st == startRaw {
		if len(data) == 0 {
			return Undecodable, false
		}
		switch data[0] >> 4 {
		case 4:
			st = startIPv4
		case 6:
			st = startIPv6
		default:
			return Undecodable, false
		}
	}
	p := d.parser(st)
	if p == nil {
		return UnsupportedLinkType, false
	}
	d.vlan.n, d.tun = 0, Tunnel{}
	if err := p.DecodeLayers(data, &d.decoded); err != nil {
		return Undecodable, false
	}
	n := len(d.decoded)
	if n == 0 {
		return Undecodable, false
	}
	ip := gopacket.LayerTypeZero
	for _, t := range d.decoded {
		if t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
			ip = t // the innermost IP header wins (IP-in-IP)
		}
	}
	last := d.layer(d.decoded[n-1])
	if last == nil {
		return Undecodable, false
	}
	next, payload := last.NextLayerType(), last.LayerPayload()
	if ip == gopacket.LayerTypeZero {
		if next == layers.LayerTypeIPv4 || next == layers.LayerTypeIPv6 {
			return Undecodable, false // the link layer says IP but the frame ends
		}
		return NotIP, false
	}
	switch {
	case next == gopacket.LayerTypeFragment:
		return Fragment, false
	case next != layers.LayerTypeTCP:
		return NotTCP, false
	}

	// wire is the IP packet length from its header, hdr the IP header as captured.
	var wire int
	var hdr []byte
	if ip == layers.LayerTypeIPv4 {
		if d.ip4.Version != 4 {
			return Undecodable, false
		}
		wire, hdr = int(d.ip4.Length), d.ip4.Contents // Length 0 (TSO) was set to the captured length
		seg.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(d.ip4.SrcIP)), 0)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(d.ip4.DstIP)), 0)
		seg.IPID, seg.TTL = d.ip4.Id, d.ip4.TTL
	} else {
		if d.ip6.Version != 6 {
			return Undecodable, false
		}
		wire, hdr = 40+int(d.ip6.Length), d.ip6.Contents
		if d.ip6.Length == 0 { // jumbogram: the captured bytes are all we know
			wire = cap(hdr) - cap(payload) + len(payload)
		}
		// An IPv4-mapped address (::ffff:a.b.c.d) stays IPv6: an IPv6 packet's
		// connection is never the IPv4 one between the same addresses.
		src, dst := netip.AddrFrom16([16]byte(d.ip6.SrcIP)), netip.AddrFrom16([16]byte(d.ip6.DstIP))
		seg.Src, seg.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		seg.IPID, seg.TTL = 0, d.ip6.HopLimit
	}
	// All layers slice one frame buffer, so the difference of capacities is the
	// distance from the IP header to the TCP header (IP options and IPv6
	// extension headers included), whatever the snap length kept.
	tcpWire := wire - (cap(hdr) - cap(payload))
	seg.VLAN = [2]uint16{}
	for i := 0; i < d.vlan.n && i < len(seg.VLAN); i++ {
		seg.VLAN[i] = d.vlan.ids[i]
	}
	seg.Tunnel = d.tun
	if d.ignoreVLAN {
		seg.VLAN = [2]uint16{}
	}
	if !parseTCP(payload, tcpWire, seg) {
		return Undecodable, false
	}
	return 0, true
}

// tcpMinHeader is the shortest TCP header prefix that still yields a useful
// segment: ports, sequence and acknowledgment numbers, data offset and flags.
const tcpMinHeader = 14

// parseTCP fills the TCP fields of seg from b, the TCP header and whatever the snap
// length kept after it; wire is the TCP segment length per the IP header. It
// reports false when b is too short for the flags or the data offset is invalid.
func parseTCP(b []byte, wire int, seg *Segment) bool {
	if len(b) < tcpMinHeader {
		return false
	}
	hlen := int(b[12]>>4) * 4
	if hlen < 20 {
		return false
	}
	seg.Src = netip.AddrPortFrom(seg.Src.Addr(), binary.BigEndian.Uint16(b[0:2]))
	seg.Dst = netip.AddrPortFrom(seg.Dst.Addr(), binary.BigEndian.Uint16(b[2:4]))
	seg.Seq = binary.BigEndian.Uint32(b[4:8])
	seg.Ack = binary.BigEndian.Uint32(b[8:12])
	seg.Flags = Flags(b[13])
	seg.Window = 0
	seg.HasTS, seg.TSval, seg.TSecr = false, 0, 0
	seg.Truncated = len(b) < hlen
	if len(b) >= 16 {
		seg.Window = binary.BigEndian.Uint16(b[14:16])
	}
	if pl := wire - hlen; pl > 0 {
		seg.PayloadLen = uint32(pl)
	} else {
		seg.PayloadLen = 0
	}
	if len(b) <= 20 {
		return true
	}
	opts := b[20:min(hlen, len(b))]
	if len(opts) >= 12 && binary.BigEndian.Uint32(opts) == 0x0101080a {
		// NOP, NOP, timestamps: how Linux, BSD and macOS lay out the options
		// of every segment but their SYNs, timestamps on.
		seg.HasTS = true
		seg.TSval = binary.BigEndian.Uint32(opts[4:8])
		seg.TSecr = binary.BigEndian.Uint32(opts[8:12])
		opts = opts[12:]
	}
	for i := 0; i < len(opts); {
		switch kind := opts[i]; kind {
		case 0: // end of option list
			return true
		case 1: // no-operation
			i++
			continue
		}
		if i+1 >= len(opts) {
			return true // length byte cut (Truncated is set) or malformed
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return true // malformed or cut: keep what we have
		}
		if opts[i] == 8 && l == 10 {
			seg.HasTS = true
			seg.TSval = binary.BigEndian.Uint32(opts[i+2 : i+6])
			seg.TSecr = binary.BigEndian.Uint32(opts[i+6 : i+10])
		}
		i += l
	}
	return true
}

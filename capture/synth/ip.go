package synth

import "encoding/binary"

// encodeIP returns the IPv4 or IPv6 packet (or fragment) for p.
func encodeIP(p *Packet) []byte {
	src, dst := p.Src.Addr(), p.Dst.Addr()
	v4 := src.Is4() // an IPv4-mapped address (::ffff:a.b.c.d) goes in an IPv6 header
	l4 := transport(p)
	data, off, more := l4, 0, false
	if f := p.Frag; f != nil {
		off, more = f.Offset, f.More
		end := len(l4)
		if f.Len > 0 && off+f.Len < end {
			end = off + f.Len
		}
		if off > end {
			off = end
		}
		data = l4[off:end]
	}
	if v4 {
		h := make([]byte, 20, 20+len(data))
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(data)))
		binary.BigEndian.PutUint16(h[4:], p.IPID)
		ff := uint16(off/8) & 0x1fff
		if p.Frag == nil {
			ff |= 0x4000 // DF, as TCP stacks send
		} else if more {
			ff |= 0x2000 // MF
		}
		binary.BigEndian.PutUint16(h[6:], ff)
		h[8] = p.ttl()
		h[9] = p.proto()
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], ^csum(0, h))
		return append(h, data...)
	}

	// IPv6: header, extension headers in order, then the fragment header if any.
	var ext []byte
	kinds := append([]uint8(nil), p.Ext6...)
	if p.Frag != nil {
		kinds = append(kinds, 44)
	}
	for i, k := range kinds {
		next := p.proto()
		if i+1 < len(kinds) {
			next = kinds[i+1]
		}
		switch k {
		case 44:
			fo := uint16(off/8) << 3
			if more {
				fo |= 1
			}
			ext = append(ext, next, 0)
			ext = be16(ext, fo)
			ext = be32(ext, uint32(p.IPID)|0x10000)
		case ExtRouting: // type 0, segments left 0: ignored by every node
			ext = append(ext, next, 0, 0, 0, 0, 0, 0, 0)
		default: // hop-by-hop, destination options: one PadN option filling 8 bytes
			ext = append(ext, next, 0, 1, 4, 0, 0, 0, 0)
		}
	}
	h := make([]byte, 40, 40+len(ext)+len(data))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(data)))
	h[6] = p.proto()
	if len(kinds) > 0 {
		h[6] = kinds[0]
	}
	h[7] = p.ttl()
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	h = append(h, ext...)
	return append(h, data...)
}

// transport returns the full TCP segment, UDP datagram or ICMP echo for p, with its
// checksum (over the IPv4 or IPv6 pseudo-header where the protocol has one).
func transport(p *Packet) []byte {
	var b []byte
	ck := 0
	switch p.proto() {
	case ProtoTCP:
		opts := tcpOptions(p)
		hl := 20 + len(opts)
		b = be16(b, p.Src.Port())
		b = be16(b, p.Dst.Port())
		b = be32(b, p.Seq)
		b = be32(b, p.Ack)
		b = append(b, byte(hl/4)<<4, byte(p.Flags))
		b = be16(b, p.Window)
		b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
		b = append(b, opts...)
		ck = 16
	case ProtoUDP:
		b = be16(b, p.Src.Port())
		b = be16(b, p.Dst.Port())
		b = be16(b, uint16(8+p.Payload))
		b = append(b, 0, 0)
		ck = 6
	default: // ICMP / ICMPv6 echo request
		typ := byte(8)
		if p.proto() == ProtoICMPv6 {
			typ = 128
		}
		b = append(b, typ, 0, 0, 0)
		b = be16(b, p.IPID) // identifier
		b = be16(b, 1)      // sequence
		ck = 2
	}
	b = append(b, make([]byte, p.Payload)...)
	var sum uint32
	if p.proto() != ProtoICMP {
		sum = pseudo(p, len(b))
	}
	c := ^csum(sum, b)
	if c == 0 && p.proto() == ProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[ck:], c)
	return b
}

// tcpOptions lays options out as Linux does: MSS, SACK-permitted, timestamps,
// NOP + window scale; padded with NOPs to a multiple of four bytes.
func tcpOptions(p *Packet) []byte {
	var o []byte
	if p.MSS != 0 {
		o = append(o, 2, 4)
		o = be16(o, p.MSS)
	}
	switch {
	case p.SACKPerm && p.HasTS:
		o = append(o, 4, 2, 8, 10)
		o = be32(o, p.TSval)
		o = be32(o, p.TSecr)
	case p.HasTS:
		o = append(o, 1, 1, 8, 10)
		o = be32(o, p.TSval)
		o = be32(o, p.TSecr)
	case p.SACKPerm:
		o = append(o, 1, 1, 4, 2)
	}
	if p.HasWScale {
		o = append(o, 1, 3, 3, p.WScale)
	}
	for len(o)%4 != 0 {
		o = append(o, 1)
	}
	return o
}

// pseudo returns the pseudo-header sum for a transport of length n.
func pseudo(p *Packet, n int) uint32 {
	src, dst := p.Src.Addr(), p.Dst.Addr()
	var h []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		h = append(h, s[:]...)
		h = append(h, d[:]...)
		h = append(h, 0, p.proto())
		h = be16(h, uint16(n))
	} else {
		s, d := src.As16(), dst.As16()
		h = append(h, s[:]...)
		h = append(h, d[:]...)
		h = be32(h, uint32(n))
		h = append(h, 0, 0, 0, p.proto())
	}
	return sumWords(0, h)
}

func sumWords(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// csum folds the one's-complement sum of b (plus an initial sum).
func csum(initial uint32, b []byte) uint16 {
	sum := sumWords(initial, b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

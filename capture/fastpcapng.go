package capture

import (
	"encoding/binary"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ngFast reads the enhanced packet blocks of a pcapng file, nearly all its blocks,
// straight out of the source's read buffer, and leaves every other block (section
// and interface headers, statistics, name resolution, simple and obsolete packet
// blocks, anything damaged or unusual) to pcapgo's NgReader, whose state (the
// interfaces of the section) it copies after each such call. pcapgo copies each
// packet into a buffer of its own, reads each block in several calls, and boxes
// the link type of each packet into an interface (an allocation for link types
// from 256, Linux SLL2); this does none of that.
//
// It takes a block only where pcapgo would read exactly that block, the same way:
// an enhanced packet block of the current section, wholly buffered, for a known
// interface, whose data and options fit inside its length as written. So damaged
// files read as pcapgo reads them. Before handing pcapgo a call it walks the block
// headers up to the next packet block, so it knows where pcapgo will stop and
// that no section of the other byte order starts on the way; if pcapgo does not
// stop there, or the walk cannot tell, pcapgo reads the rest of the file alone.
type ngFast struct {
	on     bool // false: pcapgo reads every block from here on
	big    bool // byte order of the current section
	ifaces []ngIface
}

// ngIface is what a packet needs of its interface: pcapgo's NgInterface, with the
// timestamp conversion pcapgo derives from the resolution (unexported there).
type ngIface struct {
	link           layers.LinkType
	st             start
	mask, up, down uint64 // ticks per second; scale from ticks to nanoseconds
	offset         uint64 // seconds added (if_tsoffset)
	anc            []any  // ci.AncillaryData as pcapgo gives it: the link type, boxed once
}

// Block types (pcapng specification, section 4 and appendix).
const (
	ngSHB uint32 = 0x0a0d0d0a // section header: the same in either byte order
	ngPB  uint32 = 2          // obsolete packet block
	ngSPB uint32 = 3          // simple packet block
	ngEPB uint32 = 6          // enhanced packet block
)

const ngByteOrderMagic = 0x1a2b3c4d

func (f *ngFast) u32(b []byte) uint32 {
	if f.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (f *ngFast) u16(b []byte) uint16 {
	if f.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

// next reads the next record into s's head if it is an enhanced packet block it
// can take (see ngFast). It reports false, having consumed nothing, otherwise.
func (f *ngFast) next(s *source) bool {
	b, _ := s.br.Peek(s.br.Buffered()) // no read: a view of what is buffered
	if len(b) < 32 {
		if b, _ = s.br.Peek(32); len(b) < 32 {
			return false // the end, or damage: pcapgo says which
		}
	}
	if f.u32(b[0:4]) != ngEPB {
		return false
	}
	n, idx, caplen := int(f.u32(b[4:8])), f.u32(b[8:12]), f.u32(b[20:24])
	if idx >= uint32(len(f.ifaces)) || caplen > pcapEagerMax || n > s.br.Size() {
		return false
	}
	// After the 28 bytes of header and the padded data come the options, then
	// the trailing length (4 bytes), which pcapgo skips without reading.
	end := 28 + int(caplen) + int(-caplen&3)
	if n < end+4 {
		return false
	}
	if n > len(b) {
		if b, _ = s.br.Peek(n); len(b) < n {
			return false
		}
	}
	if !f.optionsFit(b[end:n]) {
		return false
	}
	ifc := &f.ifaces[idx]
	ts := uint64(f.u32(b[12:16]))<<32 | uint64(f.u32(b[16:20]))
	s.sec, s.nsec = int64(ts/ifc.mask+ifc.offset), int64(ts%ifc.mask*ifc.up/ifc.down)
	if s.nsec >= 1e9 || s.nsec < 0 { // as time.Unix carries it (a resolution finer than 1 ns)
		s.sec, s.nsec = s.sec+s.nsec/1e9, s.nsec%1e9
		if s.nsec < 0 {
			s.sec, s.nsec = s.sec-1, s.nsec+1e9
		}
	}
	s.ci.Timestamp = time.Unix(s.sec, s.nsec).UTC()
	s.ci.CaptureLength, s.ci.Length = int(caplen), int(f.u32(b[24:28]))
	s.ci.InterfaceIndex = int(idx)
	s.ci.AncillaryData = ifc.anc
	s.hl, s.st = ifc.link, ifc.st
	s.data = b[28 : 28+caplen : 28+caplen]
	_, _ = s.br.Discard(n) // peeked above: buffered, cannot fail
	return true
}

// optionsFit reports whether pcapgo, reading the options of an enhanced packet
// block, ends exactly at the block's end: o is the rest of the block after the
// padded data, the trailing length included (pcapgo's remaining block length).
// pcapgo reads options until 4 bytes are left or an end-of-options option, then
// skips what is left; an option that runs into the trailing length, or options
// that leave 1 to 3 bytes, would make it read across the block's end.
func (f *ngFast) optionsFit(o []byte) bool {
	for rem := len(o); rem != 4; {
		if rem < 8 {
			return false
		}
		i := len(o) - rem
		code, l := f.u16(o[i:]), int(f.u16(o[i+2:]))
		rem -= 4
		if code == 0 {
			return l == 0 // else pcapgo fails the block: "End of Options must be zero length"
		}
		if l += -l & 3; l > rem-4 {
			return false
		}
		rem -= l
	}
	return true
}

// walk returns where pcapgo's next ZeroCopyReadPacketData call will stop if every
// block up to the next packet block is well-formed: past that packet block (end,
// from the reader's position), which starts at at and is of type typ. sure is false
// when the walk cannot tell (block headers not in the buffer, a length under 12) or
// a section of the other byte order starts on the way, which ngFast does not
// follow.
func (f *ngFast) walk(s *source) (at, end int, typ uint32, sure bool) {
	for off := 0; ; {
		if off+12 > s.br.Size() {
			return 0, 0, 0, false
		}
		b, _ := s.br.Peek(off + 12)
		if len(b) < off+8 {
			return 0, 0, 0, false // the end of the file, or damage: nothing more to predict
		}
		bt := f.u32(b[off:])
		if bt == ngSHB {
			if len(b) < off+12 {
				return 0, 0, 0, false
			}
			m := b[off+8 : off+12]
			if f.big && binary.BigEndian.Uint32(m) != ngByteOrderMagic || !f.big && binary.LittleEndian.Uint32(m) != ngByteOrderMagic {
				return 0, 0, 0, false
			}
		}
		n := int(f.u32(b[off+4:]))
		if n < 12 {
			return 0, 0, 0, false
		}
		if bt == ngEPB || bt == ngSPB || bt == ngPB {
			return off, off + n, bt, true
		}
		off += n
	}
}

// refresh copies pcapgo's interfaces of the current section. It reports false for
// an interface whose timestamp resolution it cannot convert as pcapgo does (pcapgo
// rejects those before they get here).
func (f *ngFast) refresh(ng *pcapgo.NgReader) bool {
	f.ifaces = f.ifaces[:0]
	for i := range ng.NInterfaces() {
		in, err := ng.Interface(i)
		if err != nil {
			return false
		}
		// pcapgo's readInterfaceDescriptor: the resolution is 10^-e or 2^-e
		// seconds (the default, 6, is set by pcapgo); the mask is the ticks per
		// second, 10^e wrapping for e above 19 as pcapgo's does.
		res := in.TimestampResolution
		if res.Exponent() > 63 {
			return false
		}
		ifc := ngIface{link: in.LinkType, st: linkStart(in.LinkType), up: 1, down: 1, offset: in.TimestampOffset}
		if res.Binary() {
			ifc.mask = 1 << res.Exponent()
		} else {
			ifc.mask = 1
			for range res.Exponent() {
				ifc.mask *= 10
			}
		}
		if ifc.mask < 1e9 {
			ifc.up = 1e9 / ifc.mask
		} else {
			ifc.down = ifc.mask / 1e9
		}
		ifc.anc = []any{in.LinkType}
		f.ifaces = append(f.ifaces, ifc)
	}
	return true
}

package capture

import "github.com/gopacket/gopacket/layers"

// Decoder turns frames of one link type into Segments, as a Reader does: the same
// layers, link types and skip reasons. capture/pcap decodes live frames with it.
// It is not safe for concurrent use.
type Decoder struct {
	d    *decoder
	st   start
	link layers.LinkType
}

// NewDecoder returns a Decoder for frames of link type lt (a LINKTYPE_ or DLT_
// value). ignoreVLAN: as Options.IgnoreVLAN.
func NewDecoder(lt layers.LinkType, ignoreVLAN bool) *Decoder {
	d := &Decoder{d: newDecoder(), st: linkStart(lt), link: lt}
	d.d.ignoreVLAN = ignoreVLAN
	return d
}

// Supported reports whether the link type is decoded; when it is not, Decode skips
// every frame as UnsupportedLinkType.
func (d *Decoder) Supported() bool { return d.st != startUnsupported }

// Stats returns the stats a capture of the decoder's link type starts with: a link
// type that is not decoded is named in UnsupportedLinkTypes from the start, so a
// run can warn before its first frame (LinkTypeWarning).
func (d *Decoder) Stats() Stats {
	var st Stats
	if !d.Supported() {
		st.UnsupportedLinkTypes = []uint16{uint16(d.link)}
	}
	return st
}

// Decode fills seg (all fields but Frame, Time and Interface) from frame. ok is
// false when the frame is not a TCP segment; why says why. It allocates nothing.
func (d *Decoder) Decode(frame []byte, seg *Segment) (why SkipReason, ok bool) {
	return d.d.decode(d.st, frame, seg)
}

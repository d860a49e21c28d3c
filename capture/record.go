package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Record is the file record behind a segment: the frame as the capture holds it,
// for callers that copy original packets out (finack --export writes the packets
// of chosen connections into a new capture file).
type Record struct {
	// Data is the captured bytes. It is the reader's zero-copy buffer: valid only
	// until the next call to Next. Copy it to keep it.
	Data []byte
	// Info is the record's capture info as its file has it: the original timestamp
	// (even one Next replaced for being out of range), captured and original
	// lengths, and the interface index within its own file.
	Info gopacket.CaptureInfo
	// Link is the frame's link type.
	Link layers.LinkType
}

// Record returns the record behind the segment the last call to Next returned;
// ok is false when that call returned an error. It costs nothing on the Next path
// (one pointer kept) and allocates nothing.
func (r *Reader) Record() (rec Record, ok bool) {
	s := r.cur
	if s == nil {
		return Record{}, false
	}
	return Record{Data: s.data, Info: s.ci, Link: s.hl}, true
}

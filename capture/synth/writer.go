package synth

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// PcapOptions shape a pcap file.
type PcapOptions struct {
	Nanosecond bool   // nanosecond magic (a1b23c4d) instead of microseconds
	BigEndian  bool   // big-endian header and records
	Snaplen    uint32 // records are cut to this length; 0 = 262144
	// Version is the header's major and minor version; zero = 2.4. Before 2.3
	// (and in 543.0, DG/UX tcpdump) records hold the original length before the
	// captured one, as the writers of those versions did.
	Version [2]uint16
}

// PcapWriter writes a classic pcap file with one link type.
type PcapWriter struct {
	w    io.Writer
	link layers.LinkType
	opt  PcapOptions
	bo   binary.ByteOrder
}

// NewPcapWriter writes the file header and returns the writer.
func NewPcapWriter(w io.Writer, link layers.LinkType, opt PcapOptions) (*PcapWriter, error) {
	if opt.Snaplen == 0 {
		opt.Snaplen = 262144
	}
	pw := &PcapWriter{w: w, link: link, opt: opt, bo: binary.LittleEndian}
	if opt.BigEndian {
		pw.bo = binary.BigEndian
	}
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if opt.Nanosecond {
		magic = 0xa1b23c4d
	}
	pw.bo.PutUint32(h[0:], magic)
	if opt.Version == [2]uint16{} {
		opt.Version = [2]uint16{2, 4}
	}
	pw.opt.Version = opt.Version
	pw.bo.PutUint16(h[4:], opt.Version[0])
	pw.bo.PutUint16(h[6:], opt.Version[1])
	pw.bo.PutUint32(h[16:], opt.Snaplen)
	pw.bo.PutUint32(h[20:], uint32(link))
	_, err := w.Write(h)
	return pw, err
}

// WritePacket encodes p for the file's link type and writes it.
func (pw *PcapWriter) WritePacket(p Packet) error {
	return pw.WriteFrame(p.Time, Encode(pw.link, p))
}

// WriteFrame writes a frame, cut to the snap length (the original length is kept).
func (pw *PcapWriter) WriteFrame(t time.Time, frame []byte) error {
	data := frame
	if uint32(len(data)) > pw.opt.Snaplen {
		data = data[:pw.opt.Snaplen]
	}
	return pw.WriteRecord(t, data, uint32(len(frame)))
}

// WriteRecord writes a record as given, even an inconsistent one (for damage tests).
func (pw *PcapWriter) WriteRecord(t time.Time, data []byte, origLen uint32) error {
	h := make([]byte, 16, 16+len(data))
	pw.bo.PutUint32(h[0:], uint32(t.Unix()))
	frac := uint32(t.Nanosecond())
	if !pw.opt.Nanosecond {
		frac /= 1000
	}
	pw.bo.PutUint32(h[4:], frac)
	capLen, first, second := uint32(len(data)), 8, 12
	if v := pw.opt.Version; v[0] == 2 && v[1] < 3 || v[0] == 543 {
		first, second = 12, 8 // the pre-2.3 order: original length first
	}
	pw.bo.PutUint32(h[first:], capLen)
	pw.bo.PutUint32(h[second:], origLen)
	_, err := pw.w.Write(append(h, data...))
	return err
}

// Interface describes one pcapng interface.
type Interface struct {
	Link        layers.LinkType
	Snaplen     uint32 // 0 = 262144
	Name        string // if_name, optional
	Description string // if_description, optional
	Nanosecond  bool   // if_tsresol = 9 (default: microseconds)
}

// NgOptions shape a pcapng file.
type NgOptions struct {
	Comment string // section header comment, optional
}

// NgWriter writes a little-endian pcapng file: one section, the interfaces given
// at creation, and Enhanced Packet Blocks.
type NgWriter struct {
	w      io.Writer
	ifaces []Interface
}

// NewNgWriter writes the section header and one interface description block per
// interface, and returns the writer.
func NewNgWriter(w io.Writer, opt NgOptions, ifaces ...Interface) (*NgWriter, error) {
	nw := &NgWriter{w: w, ifaces: ifaces}
	var body []byte
	body = le32(body, 0x1a2b3c4d)
	body = le16(body, 1)
	body = le16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0)) // section length unknown
	if opt.Comment != "" {
		body = ngOption(body, 1, []byte(opt.Comment))
	}
	body = ngOption(body, 4, []byte("finack-gen")) // shb_userappl
	body = le32(body, 0)                           // opt_endofopt
	if err := nw.block(0x0a0d0d0a, body); err != nil {
		return nil, err
	}
	for i := range ifaces {
		if ifaces[i].Snaplen == 0 {
			ifaces[i].Snaplen = 262144
		}
		f := ifaces[i]
		var b []byte
		b = le16(b, uint16(f.Link))
		b = le16(b, 0)
		b = le32(b, f.Snaplen)
		if f.Name != "" {
			b = ngOption(b, 2, []byte(f.Name))
		}
		if f.Description != "" {
			b = ngOption(b, 3, []byte(f.Description))
		}
		res := byte(6)
		if f.Nanosecond {
			res = 9
		}
		b = ngOption(b, 9, []byte{res})
		b = le32(b, 0)
		if err := nw.block(1, b); err != nil {
			return nil, err
		}
	}
	return nw, nil
}

// WritePacket encodes p for the link type of interface p.Interface and writes it.
func (nw *NgWriter) WritePacket(p Packet) error {
	if p.Interface < 0 || p.Interface >= len(nw.ifaces) {
		return fmt.Errorf("synth: no interface %d", p.Interface)
	}
	return nw.WriteFrame(p.Interface, p.Time, Encode(nw.ifaces[p.Interface].Link, p))
}

// WriteFrame writes a frame on an interface, cut to that interface's snap length.
func (nw *NgWriter) WriteFrame(iface int, t time.Time, frame []byte) error {
	return nw.WriteCommentedFrame(iface, t, frame, "")
}

// WriteCommentedFrame writes a frame with a packet comment (opt_comment; none when
// comment is empty).
func (nw *NgWriter) WriteCommentedFrame(iface int, t time.Time, frame []byte, comment string) error {
	if iface < 0 || iface >= len(nw.ifaces) {
		return fmt.Errorf("synth: no interface %d", iface)
	}
	f := nw.ifaces[iface]
	data := frame
	if uint32(len(data)) > f.Snaplen {
		data = data[:f.Snaplen]
	}
	ts := uint64(t.UnixNano())
	if !f.Nanosecond {
		ts = uint64(t.UnixMicro())
	}
	var b []byte
	b = le32(b, uint32(iface))
	b = le32(b, uint32(ts>>32))
	b = le32(b, uint32(ts))
	b = le32(b, uint32(len(data)))
	b = le32(b, uint32(len(frame)))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if comment != "" {
		b = ngOption(b, 1, []byte(comment))
		b = le32(b, 0) // opt_endofopt
	}
	return nw.block(6, b)
}

func (nw *NgWriter) block(typ uint32, body []byte) error {
	n := uint32(12 + len(body))
	var b []byte
	b = le32(b, typ)
	b = le32(b, n)
	b = append(b, body...)
	b = le32(b, n)
	_, err := nw.w.Write(b)
	return err
}

func ngOption(b []byte, code uint16, v []byte) []byte {
	b = le16(b, code)
	b = le16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Gzip compresses b with a fixed header (no name, no time), so the output depends
// on the input and the Go version's compressor only.
func Gzip(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	_, _ = zw.Write(b) // into a bytes.Buffer: cannot fail
	_ = zw.Close()     // as above
	return out.Bytes()
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// pcapRecords reads the records of a classic pcap file straight out of its own read
// buffer: the header is decoded in place and the data is sliced from the buffer (no
// copy, no call through gopacket or bufio per record). readPcapHeader reads the
// file header; every record error is the one pcapgo's ZeroCopyReadPacketData gives for
// the same bytes, so damaged files end where and how they did.
//
// It owns the buffer rather than peeking into a bufio.Reader because a record then
// costs a bounds check and a few loads: bufio.Peek and Discard are calls that
// re-check their state, and this is the loop every packet of the most common
// format goes through. Reads go straight from the file (or the gzip stream) into
// the free end of the buffer, one read system call per bufSize bytes; the unread
// tail (less than a record) moves to the front first.
//
// Not memory-mapped: mapping saves the copy out of the page cache but pays about
// as much in page faults, and a file truncated while mapped kills the process with
// SIGBUS (tcpdump -W ring buffers truncate files in place).
type pcapRecords struct {
	big     bool   // big-endian file
	nanos   uint32 // nanoseconds per unit of the fraction field: 1 or 1000
	maxCap  int    // pcapgo's limit on a record's captured length
	snaplen uint32
	swap    lengthSwap // the record header's length fields in the pre-2.3 order

	src   io.Reader       // what the records are read from: the file or gzip stream, counted
	cnt   *countingReader // counts what src gave, for the byte offset
	buf   []byte          // bufSize bytes; the unread ones are buf[r:w]
	r     int
	w     int
	err   error // what ended reading src (io.EOF at the end); sticky
	reuse bool  // the buffer goes back to readBuffers at close (source.reuse)
}

// pcapEagerMax is pcapgo's eagerReadMax: the smallest limit it puts on a record's
// captured length whatever the snap length says.
const pcapEagerMax = 262144

// newPcapRecords takes over reading s after readPcapHeader read its file header
// h: what s.br buffered beyond the header moves into the records' own buffer, and
// s.br is dropped (its buffer is garbage from here on).
func newPcapRecords(s *source, h pcapHeader) *pcapRecords {
	p := &pcapRecords{big: s.big, nanos: 1000, snaplen: h.snaplen, swap: h.swap, src: s.count, cnt: s.count}
	if h.nanos {
		p.nanos = 1
	}
	p.maxCap = pcapEagerMax
	if int64(p.snaplen) > pcapEagerMax {
		p.maxCap = int(p.snaplen)
	}
	p.buf = readBuffers.Get().(*[bufSize]byte)[:]
	n := s.br.Buffered()
	b, _ := s.br.Peek(n)
	p.w = copy(p.buf, b)
	if s.reuse {
		putReader(s.br)
	}
	s.br = nil
	p.reuse = s.reuse
	return p
}

// close drops the read buffer, given back to readBuffers when the source reuses
// them: the records are not read again.
func (p *pcapRecords) close() {
	if p.buf != nil && p.reuse {
		readBuffers.Put((*[bufSize]byte)(p.buf))
	}
	p.buf, p.r, p.w = nil, 0, 0
}

// buffered is the number of bytes read from src but not yet consumed.
func (p *pcapRecords) buffered() int { return p.w - p.r }

// fill makes at least n bytes (n <= len(p.buf)) readable at p.buf[p.r:], reading
// from src, as bufio.Peek does. It reports false when src ends or fails first;
// p.err says why and whatever did arrive stays buffered.
func (p *pcapRecords) fill(n int) bool {
	if p.r > 0 { // room for whole reads: move the unread tail to the front
		p.w = copy(p.buf, p.buf[p.r:p.w])
		p.r = 0
	}
	for empty := 0; p.w < n; {
		if p.err != nil {
			return false
		}
		m, err := p.src.Read(p.buf[p.w:])
		p.w += m
		switch {
		case err != nil:
			p.err = err
		case m > 0:
			empty = 0
		default:
			if empty++; empty == 100 { // bufio's limit on reads that return nothing
				p.err = io.ErrNoProgress
			}
		}
	}
	return true
}

// Read reads what is buffered first, then src: for records larger than the buffer.
func (p *pcapRecords) Read(b []byte) (int, error) {
	if p.r < p.w {
		n := copy(b, p.buf[p.r:p.w])
		p.r += n
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.src.Read(b)
	if err != nil {
		p.err = err
	}
	return n, err
}

// u32 reads a number in the file's byte order.
func (p *pcapRecords) u32(b []byte) uint32 {
	if p.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// header reads a record header: the timestamp, captured and original lengths.
func (p *pcapRecords) header(hdr []byte) (sec, nsec int64, caplen, length int) {
	// The fraction is multiplied in 32 bits, as pcapgo does: a microsecond field
	// above 4294967 wraps. time.Unix carries a fraction of a second or more into
	// the seconds; so does this.
	sec, nsec = int64(p.u32(hdr[0:4])), int64(p.u32(hdr[4:8])*p.nanos)
	if nsec >= 1e9 {
		sec, nsec = sec+nsec/1e9, nsec%1e9
	}
	caplen, length = int(p.u32(hdr[8:12])), int(p.u32(hdr[12:16]))
	if p.swap != lengthsInOrder && (p.swap == lengthsSwapped || caplen > length) {
		caplen, length = length, caplen
	}
	return sec, nsec, caplen, length
}

// next reads the next record into s's head: s.data (valid until the next read),
// s.sec, s.nsec and s.ci (except the timestamp, which is s.sec and s.nsec: see
// source.timestamp). The fast case, a whole record in the buffer, is kept small.
func (p *pcapRecords) next(s *source) error {
	if p.w-p.r < 16 && !p.fill(16) {
		// io.ReadFull's errors: nothing at all is io.EOF, a part is unexpected.
		err := p.err
		if p.r < p.w && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		p.r = p.w
		return err
	}
	var caplen, length int
	s.sec, s.nsec, caplen, length = p.header(p.buf[p.r : p.r+16])
	s.ci.CaptureLength, s.ci.Length = caplen, length
	if caplen > p.maxCap {
		p.r += 16
		return fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, p.snaplen)
	}
	if caplen > length {
		p.r += 16
		return fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, length)
	}
	n := 16 + caplen
	if n <= p.w-p.r || (n <= len(p.buf) && p.fill(n)) {
		s.data = p.buf[p.r+16 : p.r+n : p.r+n]
		p.r += n
		return nil
	}
	if n <= len(p.buf) { // src ended or failed inside the record
		got := p.w - p.r
		p.r = p.w
		if p.err == io.EOF {
			if got == 16 {
				return io.EOF // data missing entirely: io.ReadFull's answer
			}
			return io.ErrUnexpectedEOF
		}
		return p.err
	}
	// Larger than the read buffer (a snap length above 1 MiB): read it whole into
	// a buffer that grows as the bytes arrive (the length is not trusted).
	p.r += 16
	var buf bytes.Buffer
	m, err := io.CopyN(&buf, p, int64(caplen))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	s.data = buf.Bytes()
	return err
}

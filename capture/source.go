package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
)

// bufSize is the read buffer of every input. pcapgo's zero-copy reads go through
// it; 1 MiB keeps the number of read system calls negligible per packet.
const bufSize = 1 << 20

// The read buffers of capture files closed, for the next ones to open
// (Options.ReuseBuffers): a
// --separate run reads thousands of small captures one after the other, and each
// would take 1 or 2 MiB of new memory (a pcap file's header reader and records'
// buffer, a pcapng file's reader), most of what the collector would run for. Only a
// reader or buffer that nothing reads any more goes back: a pcap file's header
// reader once the records' buffer took over (newPcapRecords), the rest when the
// file is closed.
var (
	fileReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, bufSize) }}
	readBuffers = sync.Pool{New: func() any { return new([bufSize]byte) }}
)

// newReader returns a reader of bufSize bytes reading r (fileReaders).
func newReader(r io.Reader) *bufio.Reader {
	br := fileReaders.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

// putReader gives back a reader newReader returned, which nothing reads any more
// (one of another size is left to the collector).
func putReader(br *bufio.Reader) {
	if br.Size() != bufSize {
		return
	}
	br.Reset(nil)
	fileReaders.Put(br)
}

// stdinName is how "-" is named in errors.
const stdinName = "stdin"

// countingReader counts the bytes read through it, so a record's byte offset can
// be computed as count minus what the bufio.Reader above still buffers. It also
// keeps the first error other than io.EOF: pcapgo's pcapng reader takes any error
// met at a block boundary for the clean end of the file, so a gzip stream cut
// short (or a read error) there would pass for a complete, shorter capture.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
	// progress, when not nil, is added every byte read (Options.Progress).
	progress *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress.Add(int64(n))
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// aheadReader reads r on a goroutine of its own, up to aheadBuffers buffers ahead:
// decompressing a gzip file takes about as long as reading, decoding and dealing out
// its packets, and so runs beside them, on another core. Read returns r's bytes and
// then its error, as r would.
type aheadReader struct {
	full chan aheadBuf // filled buffers, in order (room for all: fill never waits on it)
	free chan []byte   // buffers to fill
	quit chan struct{} // stop: fill returns when it next waits for a buffer
	cur  []byte        // what Read has not handed out of the buffer taken last
	held []byte        // that buffer, to give back
	err  error         // r's error, once cur is empty
}

type aheadBuf struct {
	b   []byte
	err error
}

const (
	aheadBuffers = 4
	aheadSize    = 128 << 10
)

func newAheadReader(r io.Reader) *aheadReader {
	a := &aheadReader{full: make(chan aheadBuf, aheadBuffers), free: make(chan []byte, aheadBuffers), quit: make(chan struct{})}
	for range aheadBuffers {
		a.free <- make([]byte, aheadSize)
	}
	go a.fill(r)
	return a
}

// fill reads r into the free buffers, each filled or ended by r's error, until that
// error or stop; then it closes full.
func (a *aheadReader) fill(r io.Reader) {
	defer close(a.full)
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.quit:
			return
		}
		n := 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = r.Read(b[n:])
			n += m
		}
		a.full <- aheadBuf{b[:n], err}
		if err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.held != nil {
			a.free <- a.held[:cap(a.held)]
			a.held = nil
		}
		ab, ok := <-a.full
		if !ok {
			ab.err = io.ErrClosedPipe // (stopped)
		}
		a.cur, a.held, a.err = ab.b, ab.b, ab.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// stop ends the reading goroutine once its read in progress (if any) returns; it
// does not wait for that.
func (a *aheadReader) stop() { close(a.quit) }

// source is one input file: its format reader and the record it has read ahead
// for the merge (the "head"). The head's data is pcapgo's zero-copy buffer, valid
// until this source reads again.
type source struct {
	name   string
	index  int
	file   *os.File // nil for stdin, which is not ours to close
	gz     *gzip.Reader
	unzip  *aheadReader   // reads gz on a goroutine of its own
	raw    countingReader // bytes of the file (gzip: counted on unzip's goroutine)
	plain  countingReader // bytes of the decompressed stream (gzip only)
	count  *countingReader
	br     *bufio.Reader // what the format reader reads
	recs   *pcapRecords  // reads a pcap file's records (fastpcap.go)
	ng     *pcapgo.NgReader
	ngf    *ngFast // reads most pcapng blocks without ng (fastpcapng.go)
	snoop  *pcapgo.SnoopReader
	link   layers.LinkType // a pcap or snoop file's only link type
	big    bool            // big-endian file (pcap, snoop); pcapng: assumed little, see filter
	frames uint64          // records of this file read so far

	has  bool // head holds a record
	data []byte
	ci   gopacket.CaptureInfo
	// sec and nsec are ci.Timestamp as seconds since the Unix epoch and
	// nanoseconds (0 to 999999999): what the merge and Next compare, integers
	// being cheaper to compare than time.Time.
	sec  int64
	nsec int64
	hl   layers.LinkType // head's link type
	st   start           // where decoding of the head starts: linkStart(hl)
	off  int64           // byte offset where the next (or head) record starts
	done bool            // clean end reached
	// reuse: Options.ReuseBuffers (its read buffers go back to the pools when
	// nothing reads them).
	reuse bool
}

// Magic numbers, as the first four bytes of the file.
var (
	magicPcapLE   = [4]byte{0xd4, 0xc3, 0xb2, 0xa1}
	magicPcapBE   = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}
	magicPcapNsLE = [4]byte{0x4d, 0x3c, 0xb2, 0xa1}
	magicPcapNsBE = [4]byte{0xa1, 0xb2, 0x3c, 0x4d}
	magicPcapKuLE = [4]byte{0x34, 0xcd, 0xb2, 0xa1} // Kuznetzov's modified pcap
	magicPcapKuBE = [4]byte{0xa1, 0xb2, 0xcd, 0x34}
	magicPcapng   = [4]byte{0x0a, 0x0d, 0x0d, 0x0a}
	magicSnoop    = [4]byte{'s', 'n', 'o', 'o'} // "snoop\0\0\0" (Solaris)
)

// openSource opens path ("-" = stdin), undoes gzip if the first bytes say so, and
// starts the pcap, pcapng (or Solaris snoop) reader its magic number calls for. File name
// extensions are ignored: captures are often misnamed.
func openSource(path string, index int, progress *atomic.Int64, reuse bool) (_ *source, err error) {
	s := &source{name: path, index: index, off: -1, reuse: reuse}
	s.raw.progress = progress
	var in io.Reader
	if path == "-" {
		s.name, in = stdinName, os.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, nameError(err, path) // "open PATH: reason"
		}
		s.file, in = f, f
		if fi, err := f.Stat(); err != nil {
			_ = f.Close() // read-only, nothing read: the error to tell is Stat's
			return nil, nameError(err, path)
		} else if fi.IsDir() {
			_ = f.Close() // as above
			return nil, fmt.Errorf("%s: is a directory, not a capture file", Printable(path))
		}
	}
	defer func() {
		if err != nil {
			_ = s.Close() // read-only: err is the error to tell
		}
	}()

	s.raw.r = in
	s.br = newReader(&s.raw)
	s.count = &s.raw
	head, err := s.br.Peek(2)
	if len(head) == 0 && err == io.EOF {
		return nil, fmt.Errorf("%s: empty file", Printable(s.name))
	} else if len(head) < 2 {
		return nil, fmt.Errorf("%s: cannot read: %w", Printable(s.name), orUnexpectedEOF(err))
	}
	if head[0] == 0x1f && head[1] == 0x8b {
		// klauspost/compress's gzip: the standard library's API and errors,
		// decompressing faster.
		s.gz, err = gzip.NewReader(s.br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", Printable(s.name), orUnexpectedEOF(err))
		}
		s.unzip = newAheadReader(s.gz)
		s.plain.r = s.unzip
		s.count = &s.plain
		s.br = newReader(&s.plain) // (the file's reader stays gzip's: not given back)
	}

	magic, err := s.br.Peek(4)
	if len(magic) < 4 {
		if len(magic) == 0 && err == io.EOF {
			return nil, fmt.Errorf("%s: empty capture (no file header)", Printable(s.name))
		}
		if err == io.EOF || err == nil {
			return nil, fmt.Errorf("%s: too short for a capture file header (%d bytes)", Printable(s.name), len(magic))
		}
		return nil, fmt.Errorf("%s: %w", Printable(s.name), err)
	}
	switch m := [4]byte(magic); m {
	case magicPcapLE, magicPcapBE, magicPcapNsLE, magicPcapNsBE:
		s.big = m == magicPcapBE || m == magicPcapNsBE
		h, err := readPcapHeader(s.br, s.big)
		if err != nil {
			return nil, fmt.Errorf("%s: pcap file header: %w", Printable(s.name), err)
		}
		h.nanos = m == magicPcapNsLE || m == magicPcapNsBE
		s.link = h.link
		s.recs = newPcapRecords(s, h) // takes over s.br
	case magicPcapng:
		// A section of an unknown version ends the capture with an error rather
		// than being skipped: Wireshark stops there too, and skipping would make
		// every later frame number differ from the one Wireshark shows.
		if err := s.startNg(); err != nil {
			return nil, fmt.Errorf("%s: pcapng section header: %w", Printable(s.name), orUnexpectedEOF(err))
		}
	case magicSnoop:
		s.snoop, err = pcapgo.NewSnoopReader(s.br)
		if err != nil {
			return nil, fmt.Errorf("%s: snoop file header: %w", Printable(s.name), orUnexpectedEOF(err))
		}
		lt, err := s.snoop.LinkType()
		if err != nil {
			return nil, fmt.Errorf("%s: snoop file header: %w", Printable(s.name), err)
		}
		s.link, s.big = *lt, true
	case magicPcapKuLE, magicPcapKuBE:
		return nil, fmt.Errorf("%s: modified (Kuznetzov) pcap format is not supported; convert it with editcap -F pcap", Printable(s.name))
	default:
		what := "capture"
		if s.gz != nil {
			what = "decompressed capture"
		}
		return nil, fmt.Errorf("%s: not a pcap or pcapng file: %s starts with %02x %02x %02x %02x (magic %08x)",
			Printable(s.name), what, m[0], m[1], m[2], m[3], binary.BigEndian.Uint32(m[:]))
	}
	s.hl, s.st = s.link, linkStart(s.link) // for every record of pcap and snoop
	s.off = s.offset()
	return s, nil
}

// startNg starts reading s.br as a pcapng file: pcapgo reads its section header,
// ngFast the packet blocks it can take.
func (s *source) startNg() error {
	s.ngf = &ngFast{} // the byte order is in the section header; pcapgo checks it
	if shb, _ := s.br.Peek(12); len(shb) == 12 {
		s.ngf.on, s.ngf.big = true, binary.BigEndian.Uint32(shb[8:12]) == ngByteOrderMagic
	}
	var err error
	s.ng, err = pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	return err
}

// pcapHeader is what finack keeps of a pcap file header.
type pcapHeader struct {
	major, minor uint16
	snaplen      uint32
	link         layers.LinkType // the low 16 bits of the field (the rest: FCS length, reserved)
	nanos        bool            // the nanosecond magic number
	swap         lengthSwap
}

// lengthSwap says whether a file's record headers hold the captured and the
// original length in the pre-2.3 order (original first).
type lengthSwap uint8

const (
	lengthsInOrder lengthSwap = iota
	lengthsSwapped
	lengthsMaybeSwapped // version 2.3: swapped when the captured length exceeds the original
)

// readPcapHeader reads the 24-byte pcap file header as libpcap's sf-pcap.c does:
// versions 2.0 to 2.4 and 543.0 (DG/UX tcpdump) are read, others refused. Before
// version 2.3 (and in 543.0) the record header has the original length before the
// captured one; files that say 2.3 exist with either order, so a 2.3 record whose
// captured length exceeds its original length is read in the old order. Wireshark
// does the same.
func readPcapHeader(br *bufio.Reader, big bool) (pcapHeader, error) {
	var h pcapHeader
	b, err := br.Peek(24)
	if len(b) < 24 {
		return h, orUnexpectedEOF(err)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	h.major, h.minor = bo.Uint16(b[4:6]), bo.Uint16(b[6:8])
	h.snaplen = bo.Uint32(b[16:20])
	h.link = layers.LinkType(bo.Uint32(b[20:24]))
	switch {
	case h.major < 2:
		return h, fmt.Errorf("archaic pcap savefile format (version %d.%d)", h.major, h.minor)
	case h.major == 2 && h.minor < 3, h.major == 543 && h.minor == 0:
		h.swap = lengthsSwapped
	case h.major == 2 && h.minor == 3:
		h.swap = lengthsMaybeSwapped
	case h.major == 2 && h.minor == 4:
	default:
		return h, fmt.Errorf("unsupported pcap savefile version %d.%d", h.major, h.minor)
	}
	_, _ = br.Discard(24) // peeked above: buffered, cannot fail
	return h, nil
}

// nameError shows the path of an *os.PathError as Printable does.
func nameError(err error, path string) error {
	if pe, ok := err.(*os.PathError); ok && Printable(path) != path {
		return fmt.Errorf("%s %s: %w", pe.Op, Printable(path), pe.Err)
	}
	return err
}

func orUnexpectedEOF(err error) error {
	if err == io.EOF || err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// offset is the position of the format reader in the (decompressed) stream.
func (s *source) offset() int64 {
	if s.recs != nil {
		return s.count.n - int64(s.recs.buffered())
	}
	return s.count.n - int64(s.br.Buffered())
}

// read reads the next record into the head. It returns io.EOF at a clean end
// and the format reader's error otherwise.
func (s *source) read() error {
	s.has = false
	s.off = s.offset()
	var err error
	switch {
	case s.recs != nil:
		err = s.recs.next(s)
		if err == nil {
			s.ci.Timestamp = time.Unix(s.sec, s.nsec).UTC()
		}
	case s.snoop != nil:
		s.data, s.ci, err = s.snoop.ZeroCopyReadPacketData()
		s.sec, s.nsec = s.ci.Timestamp.Unix(), int64(s.ci.Timestamp.Nanosecond())
	default:
		if !s.ngf.on || !s.ngf.next(s) { // fastpcapng.go: most blocks
			err = s.readNg()
		}
	}
	if s.ng == nil && err == io.EOF && s.offset() != s.off {
		// pcapgo reports a record whose header is complete but whose data is
		// missing entirely as io.EOF: only an end at a record boundary is clean.
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		// A clean end only if the stream under the format reader ended cleanly:
		// the file, and the gzip stream with its checksum when compressed.
		if s.raw.err != nil {
			err = s.raw.err
		} else if s.plain.err != nil {
			err = s.plain.err
		}
	}
	if err != nil {
		if err == io.EOF {
			s.done = true
		}
		return err
	}
	s.frames++
	s.has = true
	return nil
}

// readNg has pcapgo read the next packet of a pcapng file, for the blocks ngFast
// does not take, and tells ngFast what pcapgo now knows (or stops it).
func (s *source) readNg() error {
	f := s.ngf
	var end int
	if f.on {
		_, end, _, f.on = f.walk(s)
	}
	var err error
	s.data, s.ci, err = s.ng.ZeroCopyReadPacketData()
	if f.on {
		f.on = err == nil && s.offset() == s.off+int64(end) && f.refresh(s.ng)
	}
	if err != nil {
		return err
	}
	var lt layers.LinkType
	ok := len(s.ci.AncillaryData) > 0
	if ok {
		lt, ok = s.ci.AncillaryData[0].(layers.LinkType)
	}
	if !ok {
		return errors.New("pcapng reader returned no link type")
	}
	if lt != s.hl {
		s.hl, s.st = lt, linkStart(lt)
	}
	s.sec, s.nsec = s.ci.Timestamp.Unix(), int64(s.ci.Timestamp.Nanosecond())
	return nil
}

func (s *source) readError(err error) *ReadError {
	return &ReadError{File: s.name, Frame: s.frames + 1, Offset: s.off, Decompressed: s.gz != nil, Err: err}
}

// Close releases the file (never stdin).
func (s *source) Close() error {
	var err error
	if s.unzip != nil {
		s.unzip.stop() // (a gzip.Reader's Close only returns its last read error, already told by Next)
		s.unzip = nil
	}
	if s.recs != nil {
		s.recs.close()
	}
	if s.br != nil && s.reuse {
		// The format's reader (pcapng, snoop): a gzip file's is the one reading
		// the decompressed stream (the file's, which gzip reads on a goroutine of
		// its own, is not s.br then).
		putReader(s.br)
		s.br = nil
	}
	if s.file != nil {
		err = s.file.Close()
		s.file = nil
	}
	return err
}

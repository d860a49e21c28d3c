package capture

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Reading a pcap file in parts, on several goroutines. Reading the records
// (system calls, copies, finding where each starts) stays on one goroutine with
// ReadFrames; a classic pcap or a pcapng file on disk can be read in parts instead,
// each by a PartReader on its own goroutine: reading, filtering and decoding the
// records that start in its part. What depends on the records before (frame
// numbers, the last good timestamp, where the part's first record starts) is done
// after, in order, by Sequence, which also checks that the part began where the
// part before it ended.
//
// Where a part's first record starts is found by scanning (a pcap file has no
// index): the first offset whose record header and the seven after it look like
// record headers of this file, each where the one before ends (with records too long
// for eight in the 192 KB scanned at once, those up to its end, two at least). The
// part before reads on past its end to the end of the record that crosses it, so it
// knows where the next part's first record truly starts: a part found to have
// started elsewhere (a guess fooled by packet bytes that look like headers, or by
// timestamps far from the first record's) is read again from there (Again), so the
// segments, errors and Stats are Next's whatever the guesses.
//
// A pcapng file's blocks carry their length at both ends: a part's first block is
// the first offset where that holds for eight blocks in a row. A PartReader knows
// what a packet needs of the file (its byte order, the interfaces and their time
// resolutions) as it stands at the first packet block, found before the parts are
// cut (Parts). It reads the enhanced packet blocks of those interfaces the way Next
// does (ngFast), and skips the blocks pcapgo skips unread; at any other block (a
// section header, an interface added, statistics, names, a simple packet block,
// damage, a block over partBlockMax) it stops, and the file from there is read by
// Next or ReadFrames as if from the start (PartRecords.Sequential, Sequence): what
// such a block changes, and every error, is then pcapgo's. dumpcap writes
// interface statistics at the end of a file, so that is where such files usually
// go on in one goroutine.

// Part is a stretch of a pcap file: the records that start at byte offsets in
// [From, To).
type Part struct{ From, To int64 }

// Parts returns r's input cut into parts of about size bytes, and true, when it is
// one file on disk, uncompressed, at least two parts long, nothing read from it
// yet, and either a classic pcap file of a link type finack decodes or a pcapng file
// whose first packet block is an enhanced packet block, every interface described
// before it of a link type finack decodes (and for which the filter compiles);
// false otherwise.
func (r *Reader) Parts(size int64) ([]Part, bool) {
	if len(r.srcs) != 1 || r.frame != 0 || r.err != nil || size <= 0 || r.limit > 0 {
		return nil, false // (Options.Count: the records are counted in order)
	}
	s := r.srcs[0]
	if s.gz != nil || s.file == nil {
		return nil, false
	}
	st, err := s.file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	var first int64 // where the first record or packet block starts
	switch {
	case s.recs != nil && linkStart(s.link) != startUnsupported:
		var hdr [16]byte
		if _, err := s.file.ReadAt(hdr[:], pcapFileHeader); err != nil {
			return nil, false
		}
		r.partSec0, _, _, _ = s.recs.header(hdr[:])
		first = pcapFileHeader
	case s.ng != nil && s.ngf.on:
		ng, at, end, ok := r.ngFirstPacket(s, st.Size())
		if !ok {
			return nil, false
		}
		r.partNg, r.partHead, first = ng, end, at
	default:
		return nil, false
	}
	var parts []Part
	for from := first; from < st.Size(); from += size {
		parts = append(parts, Part{from, min(from+size, st.Size())})
	}
	if len(parts) < 2 {
		r.partNg = nil
		return nil, false
	}
	r.partNext, r.partCounted, r.partEnd = first, s.raw.n, st.Size()
	return parts, true
}

// ngFirstPacket reads the blocks of s, a pcapng file of size bytes, up to and
// including its first packet block, with a reader of its own as Next would, and
// returns what ngFast then knows of the section and where that block starts and
// ends; false unless that block is an enhanced packet block that ngFast took on
// from pcapgo, the blocks before it fit in its buffer (partBlockMax bytes) and are of
// one byte order (ngFast.walk), every interface is of a link type finack decodes,
// and the filter compiles for each.
func (r *Reader) ngFirstPacket(s *source, size int64) (ng *ngFast, at, end int64, ok bool) {
	t := &source{name: s.name}
	t.raw.r = io.NewSectionReader(s.file, 0, size)
	t.count = &t.raw
	t.br = bufio.NewReaderSize(&t.raw, partBlockMax)
	if err := t.startNg(); err != nil || !t.ngf.on {
		return nil, 0, 0, false
	}
	// Where the first packet block is, within the reader's buffer (partBlockMax).
	i, n, typ, sure := t.ngf.walk(t)
	if !sure || typ != ngEPB {
		return nil, 0, 0, false
	}
	at, end = t.offset()+int64(i), t.offset()+int64(n)
	if err := t.read(); err != nil || !t.ngf.on || t.offset() != end {
		return nil, 0, 0, false // (pcapgo read more, or other, than that block)
	}
	for _, ifc := range t.ngf.ifaces {
		if ifc.st == startUnsupported {
			return nil, 0, 0, false
		}
		if r.filter != nil {
			if _, err := r.filter.prog(ifc.link, s.big); err != nil {
				return nil, 0, 0, false // (Next fails at the first frame of that link type)
			}
		}
	}
	return t.ngf, at, end, true
}

// pcapFileHeader is the length of a pcap file's header: its first record starts
// after it.
const pcapFileHeader = 24

// partBlockMax is the longest pcapng block a PartReader reads: an enhanced packet
// block with data as long as pcapgo reads without a copy of its own
// (pcapEagerMax), and options. A longer one is left to Next.
const partBlockMax = pcapEagerMax + 64<<10

// PartReader reads parts of one Reader's file (Parts); each goroutine needs its own.
type PartReader struct {
	r      *Reader // (its source's header fields and file, read only)
	head   source  // the record read last (pcapRecords.next or ngFast.next fills it)
	recs   pcapRecords
	ng     bool // a pcapng file: head.ngf and head.br read it
	cnt    countingReader
	dec    *decoder
	filter *filter
	scan   []byte
	// The part begun (Begin): where the next record starts, where the section
	// read starts, and whether the part is read.
	part      Part
	off, base int64
	done      bool
}

// NewPartReader returns a reader of r's parts, decoding and filtering as r does.
func (r *Reader) NewPartReader() (*PartReader, error) {
	s := r.srcs[0]
	p := &PartReader{r: r, dec: r.decoderLike(), ng: r.partNg != nil}
	p.head.hl, p.head.st, p.head.big = s.link, linkStart(s.link), s.big
	links := []layers.LinkType{s.link}
	if p.ng {
		p.head.ngf = &ngFast{on: true, big: r.partNg.big, ifaces: r.partNg.ifaces} // (ifaces read only)
		p.head.br = bufio.NewReaderSize(&p.cnt, bufSize)
		links = links[:0]
		for _, ifc := range r.partNg.ifaces {
			links = append(links, ifc.link)
		}
	} else {
		p.recs = *s.recs
		p.recs.buf = make([]byte, bufSize)
	}
	if r.filter != nil {
		f, err := newFilter(r.filter.expr, r.filter.compile)
		for _, l := range links {
			if err == nil {
				_, err = f.prog(l, s.big)
			}
		}
		if err != nil {
			return nil, err
		}
		p.filter = f
	}
	return p, nil
}

// PartRecords is a run of records a PartReader read: in order, the part's first
// ones or those after the run before.
type PartRecords struct {
	// Start is where the run's first record starts (for a part's first run, the
	// part's From when known, else where scanning found one, or To if it found
	// none); End where its last one ends (Start when none). Err is what stopped the
	// reading before the part's end (a damaged record starting at End; io.EOF: the
	// file ended before the part did). Sequential: a pcapng block that a PartReader
	// does not read starts at End (see above); once Sequence has taken this run,
	// Next or ReadFrames read on from there. Done: the part is read (End reached
	// To, Err, or Sequential).
	Start, End int64
	Err        error
	Sequential bool
	Done       bool
	recs       []partRec
}

// partRec is one record of a run: its timestamp, and its segment (the index of the
// segment decoded from it among the run's, -1 when none: why says why, or
// filtered).
type partRec struct {
	sec      int64
	nsec     int32
	seg      int32
	iface    uint16 // (pcapng)
	why      SkipReason
	filtered bool
}

// Len is the number of records read.
func (pr *PartRecords) Len() int { return len(pr.recs) }

// partRunRecords: a run takes no more records than this, segments or not.
const partRunRecords = 4096

// Begin starts reading part. known says that part.From is where a record starts
// (the file's first part, or a part read again from where the one before ended:
// Again); otherwise the first record is found by scanning.
func (p *PartReader) Begin(part Part, known bool) {
	p.part, p.done = part, false
	p.off = part.From
	if !known {
		var ok bool
		if p.off, ok = p.findStart(part); !ok {
			p.off, p.done = part.To, true
			return // (no record starts in the part that scanning can tell)
		}
	}
	file := p.r.srcs[0].file
	p.base = p.off
	if p.ng {
		// The part, then on past To in small reads, for the block that crosses it.
		p.cnt = countingReader{r: &tailReader{r: io.NewSectionReader(file, p.off, part.To-p.off+partBlockMax), left: part.To - p.off}}
		p.head.br.Reset(&p.cnt)
		return
	}
	// Up to the end of the longest record that can start before To: what the part
	// reads, and no read-ahead past it.
	p.cnt = countingReader{r: io.NewSectionReader(file, p.off, part.To-p.off+16+int64(p.recs.maxCap))}
	p.recs.src, p.recs.cnt = &p.cnt, &p.cnt
	p.recs.r, p.recs.w, p.recs.err = 0, 0, nil
}

// tailReader reads r, once left bytes are read in reads of at most 16 KiB: what a
// part's reader reads past its part is the block that crosses its end, not a
// buffer's worth.
type tailReader struct {
	r    io.Reader
	left int64
}

func (t *tailReader) Read(b []byte) (int, error) {
	if t.left <= 0 {
		b = b[:min(len(b), 16<<10)]
	} else if int64(len(b)) > t.left {
		b = b[:t.left]
	}
	n, err := t.r.Read(b)
	t.left -= int64(n)
	return n, err
}

// Read reads the next run of the part begun into out, decoding the k-th segment
// found into segs[k], until len(segs) segments, partRunRecords records or the part's
// end; it returns the number of segments.
func (p *PartReader) Read(out *PartRecords, segs []Segment) int {
	out.recs, out.Err, out.Sequential = out.recs[:0], nil, false
	out.Start, out.End, out.Done = p.off, p.off, p.done
	n := 0
	for !p.done && n < len(segs) && len(out.recs) < partRunRecords {
		if p.off >= p.part.To {
			p.done = true
			break
		}
		if p.ng {
			packet, ok := p.nextBlock()
			if !ok {
				out.Sequential, p.done = true, true // (from End: the blocks skipped since are read again)
				break
			}
			p.off = p.base + p.cnt.n - int64(p.head.br.Buffered())
			if !packet {
				// End stays where the skipped block starts: Next reads it with the
				// packet block after it, in one read, whose errors give the
				// offset where that read starts.
				continue
			}
		} else if err := p.next(); err != nil {
			out.Err, p.done = err, true
			break
		}
		h := &p.head
		rec := partRec{sec: h.sec, nsec: int32(h.nsec), seg: -1, iface: uint16(h.ci.InterfaceIndex)}
		if p.filter != nil && !p.matches() {
			rec.filtered = true
		} else if why, ok := p.dec.decode(h.st, h.data, &segs[n]); ok {
			rec.seg = int32(n)
			n++
		} else {
			rec.why = why
		}
		out.recs = append(out.recs, rec)
		if !p.ng {
			p.off = p.base + p.cnt.n - int64(p.recs.buffered())
		}
		out.End = p.off
	}
	if p.off >= p.part.To {
		p.done = true
		if p.off >= p.r.partEnd {
			out.End = p.off // (blocks skipped up to the end of the file: a clean end)
		}
	}
	out.Done = p.done
	return n
}

// next reads the next record into p.head, with the errors source.read gives.
func (p *PartReader) next() error {
	off := p.cnt.n - int64(p.recs.buffered())
	err := p.recs.next(&p.head)
	if err == io.EOF && p.cnt.n-int64(p.recs.buffered()) != off {
		err = io.ErrUnexpectedEOF // (see source.read)
	}
	if err == io.EOF && p.cnt.err != nil {
		err = p.cnt.err
	}
	return err
}

// nextBlock reads the next block of a pcapng part: an enhanced packet block
// ngFast takes (into p.head: packet), or a block pcapgo skips unread, skipped. ok is
// false, nothing read, for any other block, or the end of what the part reads:
// Next reads on from there.
func (p *PartReader) nextBlock() (packet, ok bool) {
	h := &p.head
	if h.ngf.next(h) {
		return true, true
	}
	b, _ := h.br.Peek(8)
	if len(b) < 8 {
		return false, false
	}
	typ, n := h.ngf.u32(b), int(h.ngf.u32(b[4:]))
	// pcapgo reads these types (readPacketHeader) and discards the others whole.
	if typ <= ngEPB || typ == ngSHB || n < 12 || n > partBlockMax {
		return false, false
	}
	if b, _ = h.br.Peek(n); len(b) < n {
		return false, false
	}
	_, _ = h.br.Discard(n) // peeked: buffered, cannot fail
	return false, true
}

// matches applies the filter to the record in p.head.
func (p *PartReader) matches() bool {
	h := &p.head
	ci := h.ci
	ci.Timestamp = time.Unix(h.sec, h.nsec).UTC()
	ok, err := p.filter.match(h.hl, h.big, &ci, h.data)
	return ok && err == nil // (compiled for the file's link type: NewPartReader)
}

// findStart scans part for the first offset where a record starts, by its header
// and the seven after it; false if none in the part.
func (p *PartReader) findStart(part Part) (int64, bool) {
	const chain = 8
	f := p.r.srcs[0].file
	size := p.r.partEnd
	for at := part.From; at < part.To; {
		// A window from at: every candidate in [at, at+step) with its chain.
		step := min(part.To-at, 64<<10)
		n := min(size-at, step+128<<10)
		if int64(cap(p.scan)) < n {
			p.scan = make([]byte, n)
		}
		b := p.scan[:n]
		m, err := f.ReadAt(b, at)
		if err != nil && err != io.EOF {
			return 0, false
		}
		b = b[:m]
		for i := 0; i < int(step) && i+16 <= len(b); i++ {
			endsFile := at+int64(len(b)) == size
			if p.ng && p.ngChainAt(b, i, chain, endsFile) || !p.ng && p.chainAt(b, i, chain, endsFile) {
				return at + int64(i), true
			}
		}
		at += step
	}
	return 0, false
}

// chainAt reports whether b[i:] starts with k record headers of this file, each
// where the one before ends; or with two or more up to the end of b (exactly, when b
// ends the file).
func (p *PartReader) chainAt(b []byte, i, k int, endsFile bool) bool {
	for seen := 0; seen < k; seen++ {
		if i+16 > len(b) {
			return seen >= 2 && (!endsFile || i == len(b))
		}
		sec, _, caplen, length := p.recs.header(b[i : i+16])
		frac := int64(p.recs.u32(b[i+4 : i+8]))
		if caplen > p.recs.maxCap || caplen > length || length > 1<<24 ||
			frac*int64(p.recs.nanos) >= 1e9 || sec < p.r.partSec0-1e8 || sec > p.r.partSec0+1e8 {
			return false
		}
		i += 16 + caplen
	}
	return true
}

// ngChainAt reports whether b[i:] starts with k pcapng blocks of the section's byte
// order, each where the one before ends, with its length the same at both ends (and
// an enhanced packet block for an interface of the section); or two or more, the
// last one running past the end of b (ending it exactly, when b ends the file).
func (p *PartReader) ngChainAt(b []byte, i, k int, endsFile bool) bool {
	f := p.head.ngf
	for seen := 0; seen < k; seen++ {
		if i+12 > len(b) {
			return seen >= 2 && (!endsFile || i == len(b))
		}
		typ, n := f.u32(b[i:]), int(f.u32(b[i+4:]))
		if n < 12 || n%4 != 0 || n > partBlockMax {
			return false
		}
		if i+n > len(b) {
			return seen >= 2 && !endsFile
		}
		if int(f.u32(b[i+n-4:])) != n || typ == ngEPB && (n < 32 || f.u32(b[i+8:]) >= uint32(len(f.ifaces))) {
			return false
		}
		i += n
	}
	return true
}

// Sequence does, in order, what Next does for each record of a run read by a
// PartReader (out, with the segments it decoded in segs), after the runs before: it
// numbers the records, keeps the timestamps and counts them in Stats, and gives each
// segment its frame number and time. It returns the number of segments of the run, and
// the error that ends the reading (io.EOF at the end of the file, sticky as Next's),
// nil if more follows. ok is false, and nothing is done, when the run did not start
// where the run before ended (a part's first run, its start found by scanning): read
// the part again from there (Again) and call Sequence with that.
func (r *Reader) Sequence(out *PartRecords, segs []Segment) (n int, ok bool, err error) {
	if r.err != nil {
		return 0, true, r.err
	}
	if out.Start != r.partNext {
		return 0, false, nil
	}
	r.partNext = out.End
	s := r.srcs[0]
	for _, rec := range out.recs {
		r.frame++
		s.frames++
		r.stats.Packets++
		ns, bad := r.stamp(rec.sec, int64(rec.nsec))
		switch {
		case rec.filtered:
			r.stats.Skipped[Filtered]++
		case rec.seg < 0:
			r.stats.Skipped[rec.why]++
		default:
			seg := &segs[rec.seg]
			seg.Frame = r.frame
			if bad {
				seg.Time = time.Unix(0, ns).UTC()
			} else {
				seg.Time = time.Unix(rec.sec, int64(rec.nsec)).UTC()
			}
			seg.Interface = rec.iface
			r.stats.Segments++
			n++
		}
	}
	if s.raw.progress != nil && out.End > r.partCounted {
		s.raw.progress.Add(out.End - r.partCounted)
		r.partCounted = out.End
	}
	switch {
	case out.Sequential:
		r.err = r.readOnFrom(out.End)
	case out.Err == io.EOF:
		r.err = io.EOF // (the file ended before the part)
	case out.Err != nil:
		s.off = out.End
		r.err = s.readError(out.Err)
	case out.Done && out.End >= r.partEnd:
		r.err = io.EOF // (the last part read)
	}
	return n, true, r.err
}

// readOnFrom sets the file's source to read on from byte offset at, for Next and
// ReadFrames: pcapgo reads the file's blocks up to its first packet block again
// (the section header and the interfaces there: what a PartReader knew), then the
// file from at, as if it had read the blocks between. A nil error if so.
func (r *Reader) readOnFrom(at int64) error {
	s := r.srcs[0]
	if pr := s.raw.progress; pr != nil {
		pr.Add(-(r.partHead + r.partCounted - at)) // (read again below: counted once)
	}
	s.raw = countingReader{
		r:        io.MultiReader(io.NewSectionReader(s.file, 0, r.partHead), io.NewSectionReader(s.file, at, math.MaxInt64-at)),
		progress: s.raw.progress,
	}
	s.br.Reset(&s.raw)
	s.off, s.has, s.done = at, false, false
	err := s.startNg()
	if err == nil {
		_, _, err = s.ng.ZeroCopyReadPacketData() // (the first packet, read before)
	}
	if err != nil {
		return s.readError(orUnexpectedEOF(err)) // (read before: only a read error)
	}
	s.ngf.on = s.ngf.on && s.ngf.refresh(s.ng)
	s.raw.n = at + int64(s.br.Buffered()) // (offset: at)
	return nil
}

// Again returns part as it must be read again when Sequence refused it: from where
// the part before ended, a known start.
func (r *Reader) Again(part Part) Part { return Part{r.partNext, part.To} }

// String describes a part, for errors and tests.
func (p Part) String() string { return fmt.Sprintf("[%d, %d)", p.From, p.To) }

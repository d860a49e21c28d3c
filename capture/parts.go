package capture

import (
	"fmt"
	"io"
	"time"
)

// Reading a pcap file in parts, on several goroutines. Reading the records
// (system calls, copies, finding where each starts) stays on one goroutine with
// ReadFrames; a classic pcap file on disk can be read in parts instead, each by a
// PartReader on its own goroutine: reading, filtering and decoding the records that
// start in its part. What depends on the records before (frame numbers, the last
// good timestamp, where the part's first record starts) is done after, in order, by
// Sequence, which also checks that the part began where the part before it ended.
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

// Part is a stretch of a pcap file: the records that start at byte offsets in
// [From, To).
type Part struct{ From, To int64 }

// Parts returns r's input cut into parts of about size bytes, and true, when it is
// one classic pcap file on disk, uncompressed, of a link type finack decodes, at
// least two parts long, and nothing was read from it yet; false otherwise.
func (r *Reader) Parts(size int64) ([]Part, bool) {
	if len(r.srcs) != 1 || r.frame != 0 || r.err != nil || size <= 0 {
		return nil, false
	}
	s := r.srcs[0]
	if s.recs == nil || s.gz != nil || s.file == nil || linkStart(s.link) == startUnsupported {
		return nil, false
	}
	st, err := s.file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	var hdr [16]byte
	if _, err := s.file.ReadAt(hdr[:], pcapFileHeader); err != nil {
		return nil, false
	}
	r.partSec0, _, _, _ = s.recs.header(hdr[:])
	var parts []Part
	for from := int64(pcapFileHeader); from < st.Size(); from += size {
		parts = append(parts, Part{from, min(from+size, st.Size())})
	}
	if len(parts) < 2 {
		return nil, false
	}
	r.partNext, r.partCounted, r.partEnd = pcapFileHeader, s.raw.n, st.Size()
	return parts, true
}

// pcapFileHeader is the length of a pcap file's header: its first record starts
// after it.
const pcapFileHeader = 24

// PartReader reads parts of one Reader's file (Parts); each goroutine needs its own.
type PartReader struct {
	r      *Reader // (its source's header fields and file, read only)
	head   source  // the record read last (pcapRecords.next fills it)
	recs   pcapRecords
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
	p := &PartReader{r: r, dec: r.decoderLike()}
	p.head.hl, p.head.st, p.head.big = s.link, linkStart(s.link), s.big
	p.recs = *s.recs
	p.recs.buf = make([]byte, bufSize)
	if r.filter != nil {
		f, err := newFilter(r.filter.expr, r.filter.compile)
		if err == nil {
			_, err = f.prog(s.link, s.big)
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
	// file ended before the part did). Done: the part is read (End reached To, or
	// Err).
	Start, End int64
	Err        error
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
	// Up to the end of the longest record that can start before To: what the part
	// reads, and no read-ahead past it.
	p.cnt = countingReader{r: io.NewSectionReader(p.r.srcs[0].file, p.off, part.To-p.off+16+int64(p.recs.maxCap))}
	p.base = p.off
	p.recs.src, p.recs.cnt = &p.cnt, &p.cnt
	p.recs.r, p.recs.w, p.recs.err = 0, 0, nil
}

// Read reads the next run of the part begun into out, decoding the k-th segment
// found into segs[k], until len(segs) segments, partRunRecords records or the part's
// end; it returns the number of segments.
func (p *PartReader) Read(out *PartRecords, segs []Segment) int {
	out.recs, out.Err = out.recs[:0], nil
	out.Start, out.End, out.Done = p.off, p.off, p.done
	n := 0
	for !p.done && n < len(segs) && len(out.recs) < partRunRecords {
		if p.off >= p.part.To {
			p.done = true
			break
		}
		if err := p.next(); err != nil {
			out.Err, p.done = err, true
			break
		}
		h := &p.head
		rec := partRec{sec: h.sec, nsec: int32(h.nsec), seg: -1}
		if p.filter != nil && !p.matches() {
			rec.filtered = true
		} else if why, ok := p.dec.decode(h.st, h.data, &segs[n]); ok {
			rec.seg = int32(n)
			n++
		} else {
			rec.why = why
		}
		out.recs = append(out.recs, rec)
		p.off = p.base + p.cnt.n - int64(p.recs.buffered())
		out.End = p.off
	}
	if p.off >= p.part.To {
		p.done = true
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
			if p.chainAt(b, i, chain, at+int64(len(b)) == size) {
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
			seg.Interface = 0
			r.stats.Segments++
			n++
		}
	}
	if s.raw.progress != nil && out.End > r.partCounted {
		s.raw.progress.Add(out.End - r.partCounted)
		r.partCounted = out.End
	}
	switch {
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

// Again returns part as it must be read again when Sequence refused it: from where
// the part before ended, a known start.
func (r *Reader) Again(part Part) Part { return Part{r.partNext, part.To} }

// String describes a part, for errors and tests.
func (p Part) String() string { return fmt.Sprintf("[%d, %d)", p.From, p.To) }

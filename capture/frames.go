package capture

import "time"

// Reading on several cores: Next split in two. ReadFrames does, in order, what Next
// does before decoding (reading and numbering every record, the timestamps, the
// filter, and every count of Stats but those of decoding), for a run of records,
// keeping a copy of the bytes of each record left to decode; FrameDecoders, one per
// goroutine, decode them into Segments, anywhere and in any order; AddDecoded then
// adds what they counted to the Reader's Stats. The segments, their frame numbers
// and times, the Stats and the error that ends the reading are those Next gives.
//
// Why: decoding (and what a caller does per segment next, such as computing its
// flow key) is most of what reading costs, and one reader on one core then limits
// how fast several trackers can be fed. What stays in order is what depends on the
// records before: where a record starts, the frame numbers, the last good
// timestamp, the merge of several files.

// Frames is a run of records read by ReadFrames, to be decoded by FrameDecoders.
type Frames struct {
	data []byte   // the records' bytes, one after another
	recs []framed // what else each needs
}

// framed is one record of Frames: its bytes are data[start:end], the start being
// the end of the record before.
type framed struct {
	end   int
	frame uint64
	ns    int64 // Segment.Time (Next's timestamp) in Unix nanoseconds: no pointer to keep
	st    start
	iface uint16
}

// Len is the number of records held.
func (f *Frames) Len() int { return len(f.recs) }

// ReadFrames replaces what f holds with the next records to decode, up to max of
// them or until they take maxBytes or more. It returns the error that stopped the
// reading, as Next would return it once the segments of these records are decoded
// (sticky: io.EOF at the clean end), or nil when the run is full. Stats counts these
// records as read when it returns, and the segments decoded from them only once
// AddDecoded adds them. Record has nothing to give for them.
func (r *Reader) ReadFrames(f *Frames, max, maxBytes int) error {
	r.cur = nil
	f.data, f.recs = f.data[:0], f.recs[:0]
	for len(f.recs) < max && len(f.data) < maxBytes {
		s, ts, ok := r.advance()
		if !ok {
			return r.err
		}
		f.data = append(f.data, s.data...)
		f.recs = append(f.recs, framed{end: len(f.data), frame: r.frame, ns: ts.UnixNano(), st: s.st,
			iface: uint16(min(s.ci.InterfaceIndex, 0xffff))})
	}
	return nil
}

// FrameDecoder decodes the records of Frames; each goroutine needs its own. It keeps
// the counts of what it decoded until AddDecoded takes them.
type FrameDecoder struct {
	dec      *decoder
	segments uint64
	skipped  [NumSkipReasons]uint64
}

// NewFrameDecoder returns a decoder for r's records, set as r's own (Options).
func (r *Reader) NewFrameDecoder() *FrameDecoder { return &FrameDecoder{dec: r.decoderLike()} }

// decoderLike returns a new decoder set as r's own.
func (r *Reader) decoderLike() *decoder {
	d := newDecoder()
	d.ignoreVLAN, d.slowOnly, d.letsPanic = r.dec.ignoreVLAN, r.dec.slowOnly, r.dec.letsPanic
	return d
}

// Decode fills seg from record i of f; false when it is not a TCP segment (counted
// as Next counts it).
func (d *FrameDecoder) Decode(f *Frames, i int, seg *Segment) bool {
	rec := &f.recs[i]
	start := 0
	if i > 0 {
		start = f.recs[i-1].end
	}
	why, ok := d.dec.decode(rec.st, f.data[start:rec.end:rec.end], seg)
	if !ok {
		d.skipped[why]++
		return false
	}
	seg.Frame, seg.Time, seg.Interface = rec.frame, time.Unix(0, rec.ns).UTC(), rec.iface
	d.segments++
	return true
}

// AddDecoded adds what d counted to r's Stats, and clears it. Call it on the goroutine
// that reads r, when d is not decoding.
func (r *Reader) AddDecoded(d *FrameDecoder) {
	r.stats.Segments += d.segments
	for i, n := range d.skipped {
		r.stats.Skipped[i] += n
	}
	d.segments, d.skipped = 0, [NumSkipReasons]uint64{}
}

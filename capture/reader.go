package capture

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Options for opening captures.
type Options struct {
	// Filter is a BPF expression as tcpdump takes it ("" = none). It is applied to
	// each raw frame before decoding; rejected frames still count as frames (so
	// frame numbers stay those of the unfiltered file) and as Skipped[Filtered].
	Filter string
}

// Reader reads TCP segments from one capture, possibly made of several files.
// It is not safe for concurrent use.
type Reader struct {
	srcs   []*source
	filter *filter
	dec    *decoder
	frame  uint64
	stats  Stats
	err    error // sticky: io.EOF, a *ReadError, or a filter error
	// lastGood is the last representable timestamp, given to records whose own is
	// out of range (Stats.BadTimestamps).
	lastGood time.Time
}

// Open opens one or more capture files ("-" = stdin) as ONE capture: several paths
// are rotated pieces merged by packet timestamp (stable: ties keep file order),
// frame numbers counted over the merged stream (as mergecap then Wireshark would
// number them). Each file may be pcap, pcapng or snoop, gzip-compressed or not;
// the format is detected from the first bytes, never from the name. A file that
// cannot be opened or is not a capture fails Open with an error naming it.
// Segment.Interface is the interface index inside the segment's own file (see
// the package documentation).
func Open(paths []string, opt Options) (*Reader, error) {
	if len(paths) == 0 {
		return nil, errors.New("capture: no input file")
	}
	r := &Reader{dec: newDecoder()}
	if opt.Filter != "" {
		f, err := newFilter(opt.Filter)
		if err != nil {
			return nil, err
		}
		r.filter = f
	}
	stdin := false
	for i, p := range paths {
		if p == "-" {
			if stdin {
				r.Close()
				return nil, errors.New("capture: stdin (-) given more than once")
			}
			stdin = true
		}
		s, err := openSource(p, i)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.srcs = append(r.srcs, s)
		if r.filter != nil && s.ng == nil && linkStart(s.link) != startUnsupported {
			if _, err := r.filter.prog(s.link, s.big); err != nil { // fail now, not at frame 1
				r.Close()
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	return r, nil
}

// Next fills seg with the next TCP segment. It returns io.EOF at the clean end. On
// damage it returns a *ReadError after all segments before the damage have been
// returned; errors are sticky (every later call returns the same one). seg is
// fully written when Next returns nil; after an error its contents are undefined.
func (r *Reader) Next(seg *Segment) error {
	for r.err == nil {
		s, err := r.pick()
		if err != nil {
			r.err = err
			break
		}
		s.has = false
		r.frame++
		r.stats.Packets++
		ts := s.ci.Timestamp
		if ts.Before(minTime) || ts.After(maxTime) {
			// Beyond what nanoseconds since 1970 in an int64 hold (years 1678 to
			// 2262), where every timer of the analysis runs: a damaged or mis-written
			// record (pcapng-example.pcapng has one interface at year 586524). The
			// frame keeps the last good timestamp, so it still counts and orders.
			r.stats.BadTimestamps++
			ts = r.lastGood
		} else {
			r.lastGood = ts
		}
		if r.stats.First.IsZero() || ts.Before(r.stats.First) {
			r.stats.First = ts
		}
		if ts.After(r.stats.Last) {
			r.stats.Last = ts
		}
		st := linkStart(s.hl)
		if st == startUnsupported {
			r.stats.Skipped[UnsupportedLinkType]++
			continue
		}
		if r.filter != nil {
			ok, err := r.filter.match(s.hl, s.big, &s.ci, s.data)
			if err != nil {
				r.err = fmt.Errorf("%s: frame %d: %w", s.name, s.frames, err)
				break
			}
			if !ok {
				r.stats.Skipped[Filtered]++
				continue
			}
		}
		why, ok := r.dec.decode(st, s.data, seg)
		if !ok {
			r.stats.Skipped[why]++
			continue
		}
		seg.Frame = r.frame
		seg.Time = ts.UTC()
		seg.Interface = uint16(min(s.ci.InterfaceIndex, 0xffff))
		r.stats.Segments++
		return nil
	}
	return r.err
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Close closes every input file. It does not close stdin.
func (r *Reader) Close() error {
	var first error
	for _, s := range r.srcs {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	if r.err == nil {
		r.err = errClosed
	}
	return first
}

var errClosed = errors.New("capture: reader closed")

// The timestamps the analysis can represent: Unix nanoseconds in an int64.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

package capture

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"
)

// Options for opening captures.
type Options struct {
	// Filter is a BPF expression as tcpdump takes it ("" = none). It is applied to
	// each raw frame before decoding; rejected frames still count as frames (so
	// frame numbers stay those of the unfiltered file) and as Skipped[Filtered].
	Filter string
	// Compile compiles Filter for each link type met (capture/bpf.Compile for
	// BPF); a Filter without it fails Open.
	Compile FilterCompiler
	// Progress, when not nil, has the bytes read from the input files added to it
	// as they are read (a gzip file's compressed bytes), for a progress display
	// reading it from another goroutine. Reads go through a 1 MiB buffer, so the
	// count runs ahead of the records handed out by up to that much per file (a
	// gzip file's, also by what the 512 KiB decompressed ahead took).
	Progress *atomic.Int64
	// IgnoreVLAN leaves 802.1Q tags out of every Segment, so connections are
	// keyed without them (Suricata's vlan.use-for-tracking: false): a capture
	// whose tap tags one direction only, or the same traffic on several VLANs,
	// gives one connection per 4-tuple.
	IgnoreVLAN bool
	// Count, when not 0, ends the capture after that many frames that pass the
	// Filter (every frame without one), as tcpdump -c does: what follows is not
	// read, and the reading ends as at the end of the files.
	Count uint64
	// ReuseBuffers: the read buffers (1 or 2 MiB a file) go to the next files
	// opened once nothing reads them, rather than to the collector: for a run that
	// reads many captures one after the other (--separate). A run of one capture
	// would only keep them waiting in the pool.
	ReuseBuffers bool
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
	// The timestamps Next keeps, as Unix nanoseconds (every timestamp in range
	// fits, see minTime), which are cheaper to compare than time.Time: lastGood is
	// the last representable timestamp, given to records whose own is out of
	// range (Stats.BadTimestamps); first and last become Stats.First and Last.
	// good says there has been one (0 is a valid timestamp).
	lastGood, first, last int64
	good                  bool
	// firstNs and hasFirst publish the first good timestamp (FirstSeen) to other
	// goroutines, set once.
	firstNs  atomic.Int64
	hasFirst atomic.Bool
	// cur is the source of the segment Next returned last (see Record).
	cur *source
	// limit: Options.Count; passed: the frames that passed the filter so far.
	limit, passed uint64
	reuse         bool // Options.ReuseBuffers
	// Reading in parts (parts.go): the first record's seconds (what scanning
	// expects near), where the next part's first record starts, the bytes counted
	// in Options.Progress so far, and the file's size when the parts were cut; for
	// a pcapng file, what a PartReader knows of it, and where the first packet
	// block ends (what is read again to read on from elsewhere: readOnFrom).
	partSec0, partNext, partCounted, partEnd, partHead int64
	partNg                                             *ngFast
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
	r := &Reader{dec: newDecoder(), limit: opt.Count, reuse: opt.ReuseBuffers}
	r.dec.ignoreVLAN = opt.IgnoreVLAN
	if opt.Filter != "" {
		f, err := newFilter(opt.Filter, opt.Compile)
		if err != nil {
			return nil, err
		}
		r.filter = f
	}
	stdin := false
	for i, p := range paths {
		if p == "-" {
			if stdin {
				_ = r.Close() // read-only sources: the error to tell is the one returned
				return nil, errors.New("capture: stdin (-) given more than once")
			}
			stdin = true
		}
		s, err := openSource(p, i, opt.Progress, opt.ReuseBuffers)
		if err != nil {
			_ = r.Close() // as above
			return nil, err
		}
		r.srcs = append(r.srcs, s)
		if r.filter != nil && s.ng == nil && linkStart(s.link) != startUnsupported {
			if _, err := r.filter.prog(s.link, s.big); err != nil { // fail now, not at frame 1
				_ = r.Close() // as above
				return nil, fmt.Errorf("%s: %w", Printable(s.name), err)
			}
		}
	}
	return r, nil
}

// ReusesBuffers says whether r was opened with Options.ReuseBuffers: what reads
// from it may pool its own buffers for the next capture too.
func (r *Reader) ReusesBuffers() bool { return r.reuse }

// Next fills seg with the next TCP segment. It returns io.EOF at the clean end. On
// damage it returns a *ReadError after all segments before the damage have been
// returned; errors are sticky (every later call returns the same one). seg is
// fully written when Next returns nil; after an error its contents are undefined.
func (r *Reader) Next(seg *Segment) error {
	r.cur = nil
	for {
		s, ts, ok := r.advance()
		if !ok {
			return r.err
		}
		why, ok := r.dec.decode(s.st, s.data, seg)
		if !ok {
			r.stats.Skipped[why]++
			continue
		}
		seg.Frame = r.frame
		seg.Time = ts.UTC()
		seg.Interface = uint16(min(s.ci.InterfaceIndex, 0xffff))
		r.stats.Segments++
		r.cur = s
		return nil
	}
}

// advance reads the next record to decode: it numbers every record, keeps the
// timestamps and the counts of Stats but those of decoding (Segments, and Skipped
// for frames that are not TCP), and applies the filter. It returns the record's
// source and the timestamp the segment gets; false when reading stopped (r.err
// says why).
func (r *Reader) advance() (s *source, ts time.Time, ok bool) {
	for r.err == nil {
		if r.limit > 0 && r.passed >= r.limit {
			r.err = io.EOF // (Options.Count: the capture ends here)
			break
		}
		s, err := r.pick()
		if err != nil {
			r.err = err
			break
		}
		s.has = false
		r.frame++
		r.stats.Packets++
		ts := s.ci.Timestamp
		if ns, bad := r.stamp(s.sec, s.nsec); bad {
			ts = time.Unix(0, ns)
		}
		if s.st == startUnsupported {
			r.passed++ // (no filter can reject it: it counts for Options.Count)
			r.stats.Skipped[UnsupportedLinkType]++
			if !slices.Contains(r.stats.UnsupportedLinkTypes, uint16(s.hl)) {
				r.stats.UnsupportedLinkTypes = append(r.stats.UnsupportedLinkTypes, uint16(s.hl))
			}
			continue
		}
		if r.filter != nil {
			ok, err := r.filter.match(s.hl, s.big, &s.ci, s.data)
			if err != nil {
				r.err = fmt.Errorf("%s: frame %d: %w", Printable(s.name), s.frames, err)
				break
			}
			if !ok {
				r.stats.Skipped[Filtered]++
				continue
			}
		}
		r.passed++
		return s, ts, true
	}
	return nil, time.Time{}, false
}

// stamp counts the timestamp of frame r.frame, sec seconds and nsec nanoseconds
// since the Unix epoch, in Stats. A timestamp outside the years 1824 to 2115, where
// the timers of the analysis run on Unix nanoseconds in an int64 without overflow,
// is bad: a damaged or mis-written record (pcapng-example.pcapng has one interface at
// year 586524; a pcapng simple packet block has no timestamp at all). The frame then
// keeps the last good timestamp, ns (the Unix epoch before the first one), so it
// still counts and orders; it does not move First or Last.
func (r *Reader) stamp(sec, nsec int64) (ns int64, bad bool) {
	if sec < minSec || sec >= maxSec {
		r.stats.BadTimestamps++
		return r.lastGood, true
	}
	ns = sec*1e9 + nsec
	if back := r.lastGood - ns; r.good && back > int64(StepBackMin) {
		r.stats.StepsBack++
		if time.Duration(back) > r.stats.LargestStepBack {
			r.stats.LargestStepBack, r.stats.LargestStepBackFrame = time.Duration(back), r.frame
		}
	}
	r.lastGood = ns
	if !r.good {
		r.good, r.first, r.last = true, ns, ns
		r.firstNs.Store(ns)
		r.hasFirst.Store(true)
	}
	r.first, r.last = min(r.first, ns), max(r.last, ns)
	return ns, false
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats {
	st := r.stats
	st.UnsupportedLinkTypes = slices.Clone(st.UnsupportedLinkTypes)
	if r.good {
		st.First, st.Last = time.Unix(0, r.first).UTC(), time.Unix(0, r.last).UTC()
	}
	return st
}

// FirstSeen is the first good timestamp read, once there is one: the capture's
// first (Stats.First) unless a later record steps back before it. Unlike the rest
// of the Reader it may be called from any goroutine.
func (r *Reader) FirstSeen() (time.Time, bool) {
	if !r.hasFirst.Load() {
		return time.Time{}, false
	}
	return time.Unix(0, r.firstNs.Load()).UTC(), true
}

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

// The timestamps a Reader hands out: [minTime, maxTime), within 2^62 ns of the Unix
// epoch, so that the difference of any two of them, and any of them plus a duration
// under 146 years (a TIME_WAIT length, a retransmission interval), fits in the int64
// nanoseconds every timer of the analysis runs on. Timestamps outside (damage, or a
// clock set centuries off) are Stats.BadTimestamps. Years 1824 to 2115 cover every
// capture a pcap file can date (its seconds are a uint32: 1970 to 2106).
var (
	minTime = time.Date(1824, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2116, 1, 1, 0, 0, 0, 0, time.UTC)
	// The same bounds in Unix seconds, as Next checks them: both are whole
	// seconds, so a timestamp is in range exactly when its seconds are.
	minSec, maxSec = minTime.Unix(), maxTime.Unix()
)

// TimeRange returns the timestamps a Reader hands out: from first (included) to
// last (excluded). Records dated outside take the timestamp of the record before
// them (see Stats.BadTimestamps).
func TimeRange() (first, last time.Time) { return minTime, maxTime }

package capture

import (
	"fmt"
	"time"
)

// SkipReason says why a frame did not become a Segment. Every frame is either a
// Segment or counted under exactly one reason, so Stats.Packets always equals
// Stats.Segments plus the sum of Stats.Skipped: nothing disappears silently.
type SkipReason uint8

const (
	// NotIP: the link layer decoded but carried no IPv4/IPv6 (ARP, LLC, LLDP, ...).
	NotIP SkipReason = iota
	// NotTCP: an IP packet whose transport is not TCP (UDP, ICMP, tunnels finack
	// does not follow, ...).
	NotTCP
	// Fragment: an IPv4 fragment (MF set or offset non-zero) or an IPv6 packet with
	// a non-atomic fragment header. finack does not reassemble IP.
	Fragment
	// Undecodable: a header was malformed or cut before the TCP flags (snap length
	// shorter than the headers, bad IP header length, zero-length record, ...).
	Undecodable
	// UnsupportedLinkType: the frame's link type is not one finack decodes.
	UnsupportedLinkType
	// Filtered: the BPF filter rejected the frame.
	Filtered

	// NumSkipReasons is the number of reasons, the length of Stats.Skipped.
	NumSkipReasons
)

var skipNames = [NumSkipReasons]string{
	NotIP:               "not_ip",
	NotTCP:              "not_tcp",
	Fragment:            "ip_fragment",
	Undecodable:         "undecodable",
	UnsupportedLinkType: "unsupported_link_type",
	Filtered:            "filtered",
}

// String returns the snake_case name used in reports and JSON ("not_ip", ...).
func (r SkipReason) String() string {
	if r < NumSkipReasons {
		return skipNames[r]
	}
	return fmt.Sprintf("skip_reason_%d", uint8(r))
}

// MarshalText makes a SkipReason render as its name in JSON, also as a map key.
func (r SkipReason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a name produced by MarshalText.
func (r *SkipReason) UnmarshalText(b []byte) error {
	for i, n := range skipNames {
		if n == string(b) {
			*r = SkipReason(i)
			return nil
		}
	}
	return fmt.Errorf("capture: unknown skip reason %q", b)
}

// Stats counts what a Reader has read so far.
type Stats struct {
	Packets  uint64 // every record read (frames), Segments + sum(Skipped)
	Segments uint64 // TCP segments returned by Next
	Skipped  [NumSkipReasons]uint64
	// First and Last are the earliest and latest record timestamps seen (all
	// records, skipped or not, except BadTimestamps; zero before the first).
	// Earliest/latest rather than first/last in file order, as capinfos reports
	// them, so a capture with reordered records still gets its true time span.
	First, Last time.Time
	// BadTimestamps counts records whose timestamp lies outside the years 1824 to
	// 2115 (see TimeRange): each keeps the timestamp of the record before it (the
	// Unix epoch when no record before had a good one) and moves neither First nor
	// Last.
	BadTimestamps uint64
	// UnsupportedLinkTypes are the link types of the frames counted under
	// Skipped[UnsupportedLinkType], in the order first met.
	UnsupportedLinkTypes []uint16
	// StepsBack counts records stamped more than StepBackMin before the record
	// before them: a capture clock stepped back (an NTP correction, a VM restored,
	// files merged that overlap). Durations measured across such a step are not
	// meaningful; the analysis takes times as they come. LargestStepBack is the
	// largest step and LargestStepBackFrame the frame after it. Small reorderings
	// (multi-queue NICs, -i any) are normal and not counted.
	StepsBack            uint64
	LargestStepBack      time.Duration
	LargestStepBackFrame uint64
}

// StepBackMin is the smallest step back of the capture clock that Stats.StepsBack
// counts.
const StepBackMin = time.Second

// ReadError reports a damaged input: a record that could not be read. Every record
// before it has been returned; nothing after it is read (a damaged length field
// leaves no trustworthy way to resynchronise).
type ReadError struct {
	// File is the input as given to Open ("stdin" for "-").
	File string
	// Frame is the number the unreadable record would have had in File, counting
	// every record of File from 1 (for a single file this is also the merged frame
	// number; after a merge it is the number to look up in File itself).
	Frame uint64
	// Offset is the byte offset in File where the unreadable record (or pcapng
	// block) starts, i.e. where the last good record ended; for a gzip-compressed
	// file it is the offset in the decompressed stream (Decompressed). -1 when
	// unknown.
	Offset       int64
	Decompressed bool
	// Err is the cause, e.g. io.ErrUnexpectedEOF for a truncated last record.
	Err error
}

func (e *ReadError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("%s: frame %d: %v", Printable(e.File), e.Frame, e.Err)
	}
	of := ""
	if e.Decompressed {
		of = " of the decompressed stream"
	}
	return fmt.Sprintf("%s: frame %d, byte offset %d%s: %v", Printable(e.File), e.Frame, e.Offset, of, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

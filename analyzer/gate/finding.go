package gate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/finack/finack/analyzer"
)

// Finding is what a comparison with a baseline reads of a finding: its kind, its
// connection and side (to pair it with the baseline's), what it counts for in its
// kind's total (count, cause, outcome, verdict), its first frame and place (to name
// it in the changes), and its time (to put a run's in report order). A baseline
// keeps one for each finding its report lists, and a run with --baseline one for
// each of its own, not the findings themselves: about 200 bytes each, where an
// analyzer.Finding with its message, frames and evidence takes three times that,
// and a large capture has hundreds of thousands.
type Finding struct {
	Kind analyzer.Kind
	// ID: the connection, its first two VLAN tags in ID.VLAN and ID.ServerVLAN.
	ID      analyzer.ConnID
	Sender  string
	Cause   analyzer.Cause
	Outcome analyzer.Outcome
	Verdict analyzer.Verdict
	// count: the finding's count, when hasCount; frame: its first frame, when
	// hasFrame.
	count, frame       uint64
	hasCount, hasFrame bool
	// tags: how many VLAN tags the client's segments carry, the first two in
	// ID.VLAN; place: analyzer.PlaceText of the finding when they are more than
	// two ("" otherwise).
	tags  int8
	place string
	// sec, nsec: the time, in Unix seconds and nanoseconds (a saved report's
	// findings have none: they are read in report order).
	sec  int64
	nsec int32
}

// FindingOf is what a comparison reads of f. Its strings are copied where they
// may be the analysis's memory, reused for the next connection.
func FindingOf(f *analyzer.Finding) Finding {
	b := findingOf(f)
	b.ID.Tunnel = strings.Clone(b.ID.Tunnel)
	return b
}

// findingOf is FindingOf with f's strings as they are.
func findingOf(f *analyzer.Finding) Finding {
	id := f.ID()
	b := Finding{Kind: f.Kind, ID: id, Sender: f.Sender, Cause: f.Cause, Outcome: f.Outcome, Verdict: f.Verdict,
		sec: f.Time.Unix(), nsec: int32(f.Time.Nanosecond())}
	if f.Count != nil {
		b.count, b.hasCount = *f.Count, true
	}
	if len(f.Frames) > 0 {
		b.frame, b.hasFrame = f.Frames[0], true
	}
	if len(f.VLAN) <= 2 {
		b.tags = int8(len(f.VLAN))
	} else {
		b.tags, b.place = -1, analyzer.PlaceText(f.VLAN, f.Tunnel)
	}
	return b
}

// FindingsOf is FindingOf of each of fs, in order.
func FindingsOf(fs []analyzer.Finding) []Finding {
	out := make([]Finding, len(fs))
	for i := range fs {
		out[i] = FindingOf(&fs[i])
	}
	return out
}

// AppendFindings appends FindingOf of each of fs to dst: a run's findings, kept as
// the analysis hands them out.
func AppendFindings(dst []Finding, fs []analyzer.Finding) []Finding {
	for i := range fs {
		dst = append(dst, FindingOf(&fs[i]))
	}
	return dst
}

// MergeFindings returns the findings of the parts of one run (the workers') in
// report order (analyzer.CompareFindings: time, first frame, kind), as
// analyzer.Merge orders the findings themselves: those of parts[0] first among
// equal ones, each part's in the order added.
func MergeFindings(parts [][]Finding) []Finding {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]Finding, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	slices.SortStableFunc(out, compareFindings)
	return out
}

// compareFindings is analyzer.CompareFindings.
func compareFindings(x, y Finding) int {
	if c := cmp.Compare(x.sec, y.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(x.nsec, y.nsec); c != 0 {
		return c
	}
	if c := cmp.Compare(x.firstFrame(), y.firstFrame()); c != 0 {
		return c
	}
	return strings.Compare(string(x.Kind), string(y.Kind))
}

// firstFrame is the first frame the finding names; 0 when it names none.
func (f *Finding) firstFrame() uint64 {
	if f.hasFrame {
		return f.frame
	}
	return 0
}

// value is what the finding counts for in its kind's total: its count, or 1 when
// it has none.
func (f *Finding) value() uint64 {
	if f.hasCount {
		return f.count
	}
	return 1
}

// placeText is analyzer.PlaceText of the finding's tags and tunnel.
func (f *Finding) placeText() string {
	if f.tags < 0 {
		return f.place
	}
	return analyzer.PlaceText(f.ID.VLAN[:f.tags], f.ID.Tunnel)
}

// text names a finding's connection and side, as the changes list it.
func (f *Finding) text() string {
	k := fmt.Sprintf("%s → %s #%d%s", analyzer.EndpointString(f.ID.Client), analyzer.EndpointString(f.ID.Server), f.ID.Incarnation, f.placeText())
	if f.Sender != "" {
		k += " (" + f.Sender + ")"
	}
	return k
}

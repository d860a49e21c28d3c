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
// each of its own, not the findings themselves: an analyzer.Finding with its
// message, frames and evidence takes about three times as much, and a large
// capture has hundreds of thousands.
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
	count, frame uint64
	// place: analyzer.PlaceText of the finding when its client's segments carry
	// more than two VLAN tags ("" otherwise).
	place string
	// sec, nsec: the time, in Unix seconds and nanoseconds (a saved report's
	// findings have none: they are read in report order).
	sec  int64
	nsec int32
	// tags: how many VLAN tags the client's segments carry, the first two in
	// ID.VLAN (-1: more, in place).
	tags               int8
	hasCount, hasFrame bool
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
func FindingsOf(fs []analyzer.Finding) []*Finding {
	kept, out := make([]Finding, len(fs)), make([]*Finding, len(fs))
	for i := range fs {
		kept[i] = FindingOf(&fs[i])
		out[i] = &kept[i]
	}
	return out
}

// FindingList is what a comparison reads of a run's findings, kept as the
// analysis hands them out (one list per worker), in chunks: growing it never
// copies what it holds, as a slice grown by append does, a quarter at a time,
// five times its size in all on the way to hundreds of thousands.
type FindingList struct {
	chunks [][]Finding
	n      int
}

// findingChunk is the length of a chunk.
const findingChunk = 1024

// Append adds FindingOf of each of fs.
func (l *FindingList) Append(fs []analyzer.Finding) {
	for i := range fs {
		if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) == findingChunk {
			l.chunks = append(l.chunks, make([]Finding, 0, findingChunk))
		}
		last := &l.chunks[len(l.chunks)-1]
		*last = append(*last, FindingOf(&fs[i]))
	}
	l.n += len(fs)
}

// MergeFindings returns the findings of the parts of one run (the workers'
// lists) in report order (analyzer.CompareFindings: time, first frame, kind), as
// analyzer.Merge orders the findings themselves: those of parts[0] first among
// equal ones, each part's in the order added. They stay where the lists hold
// them: what is returned points there.
func MergeFindings(parts []*FindingList) []*Finding {
	n := 0
	for _, p := range parts {
		n += p.n
	}
	// Their keys sorted, with where each is as the last element (unique: the
	// order of equal findings kept), then pointers to the findings put in that
	// order: a key is a fifth of a Finding, and has one pointer where a Finding
	// has nine (a copy made while the collector marks pays for each).
	type place struct {
		order analyzer.FindingOrder
		at    int
	}
	keys := make([]place, 0, n)
	all := make([]*Finding, 0, n)
	for _, p := range parts {
		for _, c := range p.chunks {
			for i := range c {
				f := &c[i]
				keys = append(keys, place{analyzer.FindingOrder{Sec: f.sec, Nsec: f.nsec, Frame: f.firstFrame(), Kind: f.Kind}, len(keys)})
				all = append(all, f)
			}
		}
	}
	slices.SortFunc(keys, func(x, y place) int {
		if c := x.order.Compare(y.order); c != 0 {
			return c
		}
		return cmp.Compare(x.at, y.at)
	})
	out := make([]*Finding, n)
	for i, k := range keys {
		out[i] = all[k.at]
	}
	return out
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

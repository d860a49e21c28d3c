package report

import (
	"sort"
	"time"

	"github.com/finack/finack/analyzer"
)

// The HTML report draws the ladders of a bounded number of connections with
// findings, the ones that went wrong first: a safe reuse the new handshake got
// through is a finding too, but the least worth a picture.

// MaxHTMLLadders bounds the ladders of an HTML report.
const MaxHTMLLadders = 20

// benign says a finding reports nothing that went wrong: a 4-tuple reused within
// TIME_WAIT, safely, and the new connection accepted.
func benign(f *analyzer.Finding) bool {
	return f.Kind == analyzer.ReuseIn2MSL && f.Outcome == analyzer.OutcomeAccepted &&
		(f.Verdict == analyzer.VerdictSafeBySequence || f.Verdict == analyzer.VerdictSafeByTimestamps)
}

// htmlLadders picks the connections whose ladders the HTML report draws: those
// with a finding that is not benign first, then the others, at most limit
// (MaxHTMLLadders), in first-frame order; and how many were left out.
func htmlLadders(doc *Document, sel []int, findingsOf map[int][]int, limit int) (drawn []int, undrawn int) {
	var flagged, others []int
	for _, ci := range sel {
		bad := false
		for _, fi := range findingsOf[ci] {
			bad = bad || !benign(&doc.Findings[fi])
		}
		if bad {
			flagged = append(flagged, ci)
		} else {
			others = append(others, ci)
		}
	}
	drawn = append(flagged, others...)
	if len(drawn) > limit {
		drawn = drawn[:limit]
	}
	drawn = append([]int(nil), drawn...)
	sort.Ints(drawn)
	return drawn, len(sel) - len(drawn)
}

// Ladder is one connection's ladder diagram, as the HTML report draws it.
type Ladder struct {
	Client, Server string
	Incarnation    int
	Place          string // VLAN tags and tunnel, as text (PlaceText)
	Kinds          []string
	FirstFrame     uint64
	LastFrame      uint64
	Packets        uint64
	Close          analyzer.Shape
	Filter         string // Wireshark display filter of its packets
	Lines          []LadderLine
}

// LadderLine is one row of a ladder: a segment, or (Fold > 0) the segments not
// drawn between two rows.
type LadderLine struct {
	Frame    uint64
	Since    time.Duration // since the connection's first segment
	Delta    string        // since the row above (ladderDelta)
	Label    string        // flags, relative seq/ack, length
	Notes    string
	Right    bool // client → server
	Evidence bool // a frame a finding names

	Fold             int // segments not drawn
	FoldFrom, FoldTo uint64
	FoldNoted        int // of which with notes
}

// Ladders returns the ladders the HTML report draws for this capture, how many
// connections with findings it leaves out, and, when it has none to draw though
// there are findings, why.
func (r *Result) Ladders() (ls []Ladder, undrawn int, why string) {
	ev := r.evidence
	if ev == nil {
		if p := r.Doc.Pictures; len(r.Doc.evidence().Findings) > 0 || p != nil && p.Ladders != nil && len(p.Ladders.Page) > 0 {
			return nil, 0, "no ladders: drawing them reads the capture a second time, which a capture read from stdin or live cannot give"
		}
		return nil, 0, ""
	}
	for _, ci := range ev.drawn {
		ls = append(ls, ladderOf(ev.doc, ci, ev))
	}
	return ls, ev.undrawn, ""
}

func ladderOf(doc *Document, ci int, ev *connEvidence) Ladder {
	c := &doc.Connections[ci]
	l := Ladder{Client: analyzer.EndpointString(c.Client), Server: analyzer.EndpointString(c.Server), Incarnation: c.Incarnation, Place: analyzer.PlaceText(c.VLAN, c.Tunnel),
		FirstFrame: c.FirstFrame, LastFrame: c.LastFrame, Packets: c.Packets, Close: c.Close,
		Filter: DisplayFilter(c.Client, c.Server, c.VLAN, ev.ignoreVLAN, c.Tunnel, c.FirstFrame, c.LastFrame)}
	evidence := map[uint64]bool{}
	for _, fi := range ev.findings[ci] {
		f := &doc.Findings[fi]
		if !containsString(l.Kinds, string(f.Kind)) {
			l.Kinds = append(l.Kinds, string(f.Kind))
		}
		for _, fr := range f.Frames {
			evidence[fr] = true
		}
	}
	segs := ev.segs[ci]
	if len(segs) == 0 {
		return l
	}
	rows := ladderRows(segs)
	chooseRows(rows, evidence)
	start := segs[0].Time()
	var fold *LadderLine
	prev := start
	for i := range rows {
		r := &rows[i]
		if !r.show {
			if fold == nil {
				l.Lines = append(l.Lines, LadderLine{FoldFrom: r.seg.Frame})
				fold = &l.Lines[len(l.Lines)-1]
			}
			fold.Fold++
			fold.FoldTo = r.seg.Frame
			if len(r.notes) > 0 {
				fold.FoldNoted++
			}
			continue
		}
		fold = nil
		line := LadderLine{Frame: r.seg.Frame, Since: r.seg.Time().Sub(start), Label: r.label,
			Notes: r.notesText(), Right: r.right, Evidence: evidence[r.seg.Frame]}
		if i > 0 {
			line.Delta = ladderDelta(r.seg.Time().Sub(prev))
		}
		prev = r.seg.Time()
		l.Lines = append(l.Lines, line)
	}
	return l
}

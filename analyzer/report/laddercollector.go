package report

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// A report that streams its records (StreamsReport) keeps no connection until the
// end, so the HTML report cannot pick its ladders from the document's connections
// (htmlLadders). A LadderCollector picks them as the Stream hands the records out:
// it keeps the ladder data of the best MaxHTMLLadders connections so far, in the
// order htmlLadders draws them, and counts the others with findings. A finding is
// about its own incarnation and, through the frames it names, may be about the one
// before on its 4-tuple (a reuse_in_2msl names the last FIN of the old one): so the
// collector also keeps, per 4-tuple, the last few connections handed out
// (MaxLadderHistory), the ones a finding of the next can reach back to; and the
// findings of those may name frames of the next (a stale segment of an old
// incarnation, sent while the next one lives). It keeps them while the tracker
// holds the 4-tuple (an incarnation replaced by a newer one), no longer: memory
// follows the connections held, not the capture.

// MaxLadderHistory bounds the connections a LadderCollector keeps per 4-tuple: a
// finding that names frames of an incarnation more than this many before its own
// on the 4-tuple does not count for that one's ladder.
const MaxLadderHistory = 4

// ladderConn is what a ladder needs of one connection: its identity, frames and
// close, and the findings about it. The collector keeps one for most connections
// of a capture whose 4-tuples are reused, a moment each: it keeps them packed
// (evidencepacked.go), as ladderRecord would copy it (wide, when the packed form
// cannot hold it).
type ladderConn struct {
	c    packedConn // the fields ladderOf and the second pass read
	wide *analyzer.Connection
	// fs: the findings about it; own: of those, its own (its analysis gave them).
	// A finding about several connections is kept once, shared.
	fs, own  []*ladderFinding
	bad      bool // a finding about it is not benign
	selected bool // a finding is about it (SelectConnections)
	inTop    bool
}

// ladderFinding is a finding about a ladderConn: packed as evidenceFinding would
// copy it (wide, when the packed form cannot hold it), and whether it is benign.
type ladderFinding struct {
	p      packedFinding
	wide   *analyzer.Finding
	benign bool
}

// frames are the frames f names.
func (f *ladderFinding) frames() []uint64 {
	if f.wide != nil {
		return f.wide.Frames
	}
	if f.p.nFrames < 0 {
		return nil
	}
	return f.p.frames[:f.p.nFrames]
}

// drawnBefore says whether a's ladder comes before b's (htmlLadders): not benign
// first, then by first frame.
func (a *ladderConn) drawnBefore(b *ladderConn) bool {
	if a.bad != b.bad {
		return a.bad
	}
	return a.c.first < b.c.first
}

// LadderCollector picks, as a streaming analysis hands records out, the ladders of
// the HTML report: an analyzer.Sink that passes each record on to next (nil: none).
// One per worker (each 4-tuple goes to one), merged (MergeLadders).
type LadderCollector struct {
	next analyzer.Sink
	// last: per 4-tuple (ConnID.Flow), the last MaxLadderHistory connections
	// handed out, oldest first.
	last map[analyzer.ConnID][]*ladderConn
	// top: at most MaxHTMLLadders, the best so far (drawnBefore).
	top []*ladderConn
	// selected: the connections with findings.
	selected int
	// findings: what the page's charts read of every finding.
	findings []PageFinding
	// kept: per finding of the Add in progress, its copy once one is kept (keep).
	kept     []*ladderFinding
	strs     strTable // the strings of the packed records
	max      int      // MaxHTMLLadders (tests lower it)
	replaced bool     // Ending
}

// PageFinding is what the HTML report's charts read of a finding.
type PageFinding struct {
	At     reassembly.Instant
	Server netip.AddrPort
	Kind   analyzer.Kind
	Bad    bool // not a safe, accepted reuse (SafeAccepted)
}

// NewLadderCollector returns a collector that passes every record on to next.
func NewLadderCollector(next analyzer.Sink) *LadderCollector {
	return &LadderCollector{next: next, last: map[analyzer.ConnID][]*ladderConn{}, max: MaxHTMLLadders}
}

// Add takes one incarnation's record and findings (analyzer.Sink).
func (lc *LadderCollector) Add(c *analyzer.Connection, fs []analyzer.Finding) {
	if lc.next != nil {
		lc.next.Add(c, fs)
	}
	for i := range fs {
		f := &fs[i]
		lc.findings = append(lc.findings, PageFinding{At: reassembly.InstantOf(f.Time), Server: f.Server, Kind: f.Kind,
			Bad: !SafeAccepted(f.Kind, f.Verdict, f.Outcome)})
	}
	if c == nil {
		return
	}
	flow := c.ID().Flow()
	recent := lc.last[flow]
	if len(fs) == 0 && len(recent) == 0 && !lc.replaced {
		return // nothing names it, nor will
	}
	// The findings of the earlier ones may name frames of this one (ranges on a
	// 4-tuple overlap: a late or stale segment of an old incarnation).
	probe := ladderConn{c: packedConn{first: c.FirstFrame}}
	for _, p := range recent {
		for _, f := range p.own {
			if framesWithin(f.frames(), c.FirstFrame, c.LastFrame) {
				probe.selected, probe.bad = true, probe.bad || !f.benign
			}
		}
	}
	lc.kept = append(lc.kept[:0], make([]*ladderFinding, len(fs))...)
	for i := range fs {
		f := &fs[i]
		probe.selected, probe.bad = true, probe.bad || !benign(f)
		for _, p := range recent {
			if framesWithin(f.Frames, p.c.first, p.c.last) {
				lc.about(p, lc.keep(fs, i))
			}
		}
	}
	if !lc.replaced && !lc.enters(&probe) {
		// Neither kept for the findings to come nor drawn: counted alone.
		if probe.selected {
			lc.selected++
		}
		delete(lc.last, flow)
		return
	}
	lcn := &ladderConn{}
	var ok bool
	if lcn.c, ok = lc.strs.packConn(c); !ok {
		w := ladderRecord(c)
		lcn.wide = &w
	}
	for _, p := range recent {
		for _, f := range p.own {
			if framesWithin(f.frames(), c.FirstFrame, c.LastFrame) {
				lc.about(lcn, f)
			}
		}
	}
	for i := range fs {
		f := lc.keep(fs, i)
		lcn.own = append(lcn.own, f)
		lc.about(lcn, f)
	}
	if !lc.replaced {
		// The tracker holds nothing more of the 4-tuple: no finding to come can
		// name frames of these.
		delete(lc.last, flow)
		return
	}
	if len(recent) == MaxLadderHistory {
		copy(recent, recent[1:])
		recent = recent[:len(recent)-1]
	}
	lc.last[flow] = append(recent, lcn)
}

// Ending says why the incarnation the next Add takes stopped collecting segments:
// one replaced by a new incarnation on its 4-tuple is kept for that one's
// findings; any other was the last the tracker held of its 4-tuple.
func (lc *LadderCollector) Ending(e reassembly.EndReason) { lc.replaced = e == reassembly.EndReplaced }

// keep returns the copy kept of fs[i], made at its first use in this Add (fs's
// memory is reused after it).
func (lc *LadderCollector) keep(fs []analyzer.Finding, i int) *ladderFinding {
	if lc.kept[i] == nil {
		f := &ladderFinding{benign: benign(&fs[i])}
		var ok bool
		if f.p, ok = lc.strs.packFinding(&fs[i]); !ok {
			w := evidenceFinding(&fs[i])
			f.wide = &w
		}
		lc.kept[i] = f
	}
	return lc.kept[i]
}

// connection is ladderRecord's copy of the connection lcn was kept for.
func (lc *LadderCollector) connection(lcn *ladderConn) analyzer.Connection {
	if lcn.wide != nil {
		return *lcn.wide
	}
	return lc.strs.connection(&lcn.c)
}

// finding is evidenceFinding's copy of the finding f was kept for.
func (lc *LadderCollector) finding(f *ladderFinding) analyzer.Finding {
	if f.wide != nil {
		return *f.wide
	}
	return lc.strs.finding(&f.p)
}

// about adds a finding about lcn and offers lcn to the top.
func (lc *LadderCollector) about(lcn *ladderConn, f *ladderFinding) {
	lcn.fs = append(lcn.fs, f)
	lcn.bad = lcn.bad || !f.benign
	if !lcn.selected {
		lcn.selected = true
		lc.selected++
	}
	lc.offer(lcn)
}

// offer puts lcn in the top if it is among the best so far.
func (lc *LadderCollector) offer(lcn *ladderConn) {
	if lcn.inTop {
		return
	}
	if len(lc.top) < lc.max {
		lcn.inTop = true
		lc.top = append(lc.top, lcn)
		return
	}
	worst := lc.worst()
	if lcn.drawnBefore(lc.top[worst]) {
		lc.top[worst].inTop = false
		lcn.inTop = true
		lc.top[worst] = lcn
	}
}

// worst is the index of the top's last ladder (drawnBefore); the top is full.
func (lc *LadderCollector) worst() int {
	worst := 0
	for i, t := range lc.top {
		if lc.top[worst].drawnBefore(t) {
			worst = i
		}
	}
	return worst
}

// enters says whether a connection with findings as lcn's would enter the top.
func (lc *LadderCollector) enters(lcn *ladderConn) bool {
	return lcn.selected && (len(lc.top) < lc.max || lcn.drawnBefore(lc.top[lc.worst()]))
}

// Held is how many connections the collector keeps: the top and the last of each
// 4-tuple.
func (lc *LadderCollector) Held() (top, flows int) { return len(lc.top), len(lc.last) }

// framesWithin says whether a frame of frames is within [first, last].
func framesWithin(frames []uint64, first, last uint64) bool {
	for _, fr := range frames {
		if fr >= first && fr <= last {
			return true
		}
	}
	return false
}

// ladderRecord copies what a ladder reads of c (c's memory is reused after Add).
func ladderRecord(c *analyzer.Connection) analyzer.Connection {
	return analyzer.Connection{Client: c.Client, Server: c.Server, VLAN: slices.Clone(c.VLAN), ServerVLAN: slices.Clone(c.ServerVLAN),
		Tunnel: strings.Clone(c.Tunnel), Incarnation: c.Incarnation, FirstFrame: c.FirstFrame, LastFrame: c.LastFrame,
		Packets: c.Packets, Close: c.Close}
}

// Ladders is what the collectors of a capture picked: the connections whose ladders
// the HTML report draws, in first-frame order, each with the findings about it in
// report order; how many with findings it leaves out; and what the charts read of
// every finding.
type Ladders struct {
	Connections []analyzer.Connection
	Findings    [][]analyzer.Finding
	Undrawn     int
	Page        []PageFinding
}

// MergeLadders picks the ladders of a capture from its collectors.
func MergeLadders(cs []*LadderCollector) *Ladders {
	// Each picked with its collector, whose table unpacks it.
	type picked struct {
		l  *ladderConn
		lc *LadderCollector
	}
	var all []picked
	out := &Ladders{}
	limit := MaxHTMLLadders
	for _, c := range cs {
		if c == nil {
			continue
		}
		limit = c.max
		for _, l := range c.top {
			all = append(all, picked{l, c})
		}
		out.Undrawn += c.selected
		out.Page = append(out.Page, c.findings...)
	}
	slices.SortStableFunc(all, func(a, b picked) int {
		if a.l.drawnBefore(b.l) {
			return -1
		}
		if b.l.drawnBefore(a.l) {
			return 1
		}
		return 0
	})
	all = all[:min(len(all), limit)]
	slices.SortStableFunc(all, func(a, b picked) int { return cmp.Compare(a.l.c.first, b.l.c.first) })
	for _, p := range all {
		fs := make([]analyzer.Finding, len(p.l.fs))
		for i, f := range p.l.fs {
			fs[i] = p.lc.finding(f)
		}
		slices.SortStableFunc(fs, func(x, y analyzer.Finding) int { return analyzer.CompareFindings(&x, &y) })
		out.Connections = append(out.Connections, p.lc.connection(p.l))
		out.Findings = append(out.Findings, fs)
	}
	out.Undrawn -= len(all)
	return out
}

// document returns the picked connections and their findings as a document holds
// them, with every connection selected (SelectConnections) and the findings about each.
func (l *Ladders) document() (doc *Document, sel []int, findingsOf map[int][]int) {
	doc = &Document{Connections: l.Connections}
	findingsOf = map[int][]int{}
	for ci, fs := range l.Findings {
		sel = append(sel, ci)
		for _, f := range fs {
			findingsOf[ci] = append(findingsOf[ci], len(doc.Findings))
			doc.Findings = append(doc.Findings, f)
		}
	}
	return doc, sel, findingsOf
}

// PageFindings returns what the HTML report's charts read of the capture's
// findings: the document's, or when it holds none (a report that streams its
// records) those the LadderCollectors kept.
func (d *Document) PageFindings() []PageFinding {
	if p := d.Pictures; p != nil && p.Ladders != nil {
		return p.Ladders.Page
	}
	fs := d.evidence().Findings
	out := make([]PageFinding, len(fs))
	for i := range fs {
		f := &fs[i]
		out[i] = PageFinding{At: reassembly.InstantOf(f.Time), Server: f.Server, Kind: f.Kind, Bad: !SafeAccepted(f.Kind, f.Verdict, f.Outcome)}
	}
	return out
}

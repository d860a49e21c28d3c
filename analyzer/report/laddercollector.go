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
// of a capture whose 4-tuples are reused, a moment each: packed (evidencepacked.go),
// as ladderRecord would copy it (c.wide: where in the collector's wide list the
// record is, when the packed form cannot hold it), in a slab of the collector's
// with its findings named by number, so that nothing it keeps holds a pointer for
// the garbage collector to follow at every cycle.
type ladderConn struct {
	c packedConn // the fields ladderOf and the second pass read
	// fs: the findings about it; own: of those, its own (its analysis gave them).
	// A finding about several connections is kept once, shared.
	fs, own  edgeList
	bad      bool // a finding about it is not benign
	selected bool // a finding is about it (SelectConnections)
	inTop    bool // in the top
	inLast   bool // in the history of its 4-tuple (last)
}

// ladderFinding is a finding about a ladderConn: packed as evidenceFinding would
// copy it (p.wide: in the collector's wide list), whether it is benign, and how
// many of the lists of the connections kept name it (freed at none).
type ladderFinding struct {
	p      packedFinding
	benign bool
	refs   int32
}

// edgeList is a list of findings in the collector's edges, in the order added:
// its first and last edge, -1 when empty.
type edgeList struct{ head, tail int32 }

// ladderEdge is an entry of an edgeList: a finding's number, and the next entry
// (-1: none).
type ladderEdge struct{ f, next int32 }

// ladderHistory is the last connections handed out on one 4-tuple, oldest first.
type ladderHistory struct {
	n     int
	conns [MaxLadderHistory]int32
}

// ladderFlow is ConnID.Flow without pointers (an address with a zone cannot be
// one: such 4-tuples are keyed by their ConnID, apart).
type ladderFlow struct {
	lo, hi         packedEnd
	loVLAN, hiVLAN [2]uint16
	tunnel         uint32
}

// pageFinding is a PageFinding packed (the server's address, the kind's number),
// or where in pageWide the finding is when the server has a zone (wide >= 0).
type pageFinding struct {
	at     reassembly.Instant
	server packedEnd
	kind   uint32
	bad    bool
	wide   int32
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
	// last: per 4-tuple, the last MaxLadderHistory connections handed out;
	// lastZoned, those of 4-tuples with a zoned address.
	last      map[ladderFlow]ladderHistory
	lastZoned map[analyzer.ConnID]ladderHistory
	// top: at most MaxHTMLLadders, the best so far (drawnBefore).
	top []int32
	// selected: the connections with findings.
	selected int
	// findings: what the page's charts read of every finding (pageWide: those
	// that cannot be packed).
	findings []pageFinding
	pageWide []PageFinding
	// kept: per finding of the Add in progress, the number of its copy once one is
	// kept (keep), -1 before.
	kept []int32
	// The slabs of connections, findings and list entries, each with the numbers
	// of its free entries; the records the packed form cannot hold.
	conns                           []ladderConn
	finds                           []ladderFinding
	edges                           []ladderEdge
	freeConns, freeFinds, freeEdges []int32
	wideConns                       []analyzer.Connection
	wideFinds                       []analyzer.Finding
	freeWideConns, freeWideFinds    []int32
	strs                            strTable // the strings of the packed records
	max                             int      // MaxHTMLLadders (tests lower it)
	replaced                        bool     // Ending
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
	return &LadderCollector{next: next, last: map[ladderFlow]ladderHistory{}, lastZoned: map[analyzer.ConnID]ladderHistory{},
		max: MaxHTMLLadders}
}

// flowOf is the key of c's 4-tuple in last (ok), or in lastZoned (id: its
// ConnID.Flow, given only then).
func (lc *LadderCollector) flowOf(c *analyzer.Connection) (key ladderFlow, id analyzer.ConnID, ok bool) {
	client, okClient := packEnd(c.Client)
	server, okServer := packEnd(c.Server)
	if !okClient || !okServer {
		return key, c.ID().Flow(), false
	}
	// As ConnID.Flow: the lower end first, with its tags.
	key = ladderFlow{lo: client, hi: server, tunnel: lc.strs.number(c.Tunnel)}
	copy(key.loVLAN[:], c.VLAN)
	key.hiVLAN = key.loVLAN
	if c.ServerVLAN != nil {
		key.hiVLAN = [2]uint16{}
		copy(key.hiVLAN[:], c.ServerVLAN)
	}
	if c.Server.Compare(c.Client) < 0 {
		key.lo, key.hi, key.loVLAN, key.hiVLAN = key.hi, key.lo, key.hiVLAN, key.loVLAN
	}
	return key, id, true
}

// Add takes one incarnation's record and findings (analyzer.Sink).
func (lc *LadderCollector) Add(c *analyzer.Connection, fs []analyzer.Finding) {
	if lc.next != nil {
		lc.next.Add(c, fs)
	}
	for i := range fs {
		lc.page(&fs[i])
	}
	if c == nil {
		return
	}
	key, zid, packed := lc.flowOf(c)
	var recent ladderHistory
	if packed {
		recent = lc.last[key]
	} else {
		recent = lc.lastZoned[zid]
	}
	if len(fs) == 0 && recent.n == 0 && !lc.replaced {
		return // nothing names it, nor will
	}
	forget := func() {
		if packed {
			delete(lc.last, key)
		} else {
			delete(lc.lastZoned, zid)
		}
		for _, p := range recent.conns[:recent.n] {
			lc.conns[p].inLast = false
			lc.releaseIfUnused(p)
		}
	}
	// The findings of the earlier ones may name frames of this one (ranges on a
	// 4-tuple overlap: a late or stale segment of an old incarnation).
	probe := ladderConn{c: packedConn{first: c.FirstFrame}}
	for _, p := range recent.conns[:recent.n] {
		for e := lc.conns[p].own.head; e >= 0; e = lc.edges[e].next {
			if f := &lc.finds[lc.edges[e].f]; framesWithin(lc.frames(f), c.FirstFrame, c.LastFrame) {
				probe.selected, probe.bad = true, probe.bad || !f.benign
			}
		}
	}
	lc.kept = lc.kept[:0]
	for range fs {
		lc.kept = append(lc.kept, -1)
	}
	for i := range fs {
		f := &fs[i]
		probe.selected, probe.bad = true, probe.bad || !benign(f)
		for _, p := range recent.conns[:recent.n] {
			if pc := &lc.conns[p]; framesWithin(f.Frames, pc.c.first, pc.c.last) {
				lc.about(p, lc.keep(fs, i))
			}
		}
	}
	if !lc.replaced && !lc.enters(&probe) {
		// Neither kept for the findings to come nor drawn: counted alone.
		if probe.selected {
			lc.selected++
		}
		forget()
		return
	}
	n := lc.newConn(c)
	for _, p := range recent.conns[:recent.n] {
		for e := lc.conns[p].own.head; e >= 0; e = lc.edges[e].next {
			if fi := lc.edges[e].f; framesWithin(lc.frames(&lc.finds[fi]), c.FirstFrame, c.LastFrame) {
				lc.about(n, fi)
			}
		}
	}
	for i := range fs {
		fi := lc.keep(fs, i)
		lc.conns[n].own = lc.appendEdge(lc.conns[n].own, fi)
		lc.about(n, fi)
	}
	if !lc.replaced {
		// The tracker holds nothing more of the 4-tuple: no finding to come can
		// name frames of these. (n is kept only in the top, where enters said it
		// would go.)
		forget()
		lc.releaseIfUnused(n)
		return
	}
	if recent.n == MaxLadderHistory {
		old := recent.conns[0]
		copy(recent.conns[:], recent.conns[1:])
		recent.n--
		lc.conns[old].inLast = false
		lc.releaseIfUnused(old)
	}
	recent.conns[recent.n] = n
	recent.n++
	lc.conns[n].inLast = true
	if packed {
		lc.last[key] = recent
	} else {
		lc.lastZoned[zid] = recent
	}
}

// page keeps what the page's charts read of f.
func (lc *LadderCollector) page(f *analyzer.Finding) {
	bad := !SafeAccepted(f.Kind, f.Verdict, f.Outcome)
	at := reassembly.InstantOf(f.Time)
	server, ok := packEnd(f.Server)
	p := pageFinding{at: at, server: server, kind: lc.strs.number(string(f.Kind)), bad: bad, wide: -1}
	if !ok {
		p.wide = int32(len(lc.pageWide))
		lc.pageWide = append(lc.pageWide, PageFinding{At: at, Server: f.Server, Kind: f.Kind, Bad: bad})
	}
	lc.findings = append(lc.findings, p)
}

// pageFindings are the findings kept by page, as the charts read them.
func (lc *LadderCollector) pageFindings(out []PageFinding) []PageFinding {
	for i := range lc.findings {
		p := &lc.findings[i]
		if p.wide >= 0 {
			out = append(out, lc.pageWide[p.wide])
			continue
		}
		out = append(out, PageFinding{At: p.at, Server: p.server.addrPort(), Kind: analyzer.Kind(lc.strs.string(p.kind)), Bad: p.bad})
	}
	return out
}

// newConn keeps what a ladder reads of c, and returns its number.
func (lc *LadderCollector) newConn(c *analyzer.Connection) int32 {
	lcn := ladderConn{fs: edgeList{-1, -1}, own: edgeList{-1, -1}}
	var ok bool
	if lcn.c, ok = lc.strs.packConn(c); !ok {
		lcn.c.wide = takeSlot(&lc.wideConns, &lc.freeWideConns, ladderRecord(c))
	}
	return takeSlot(&lc.conns, &lc.freeConns, lcn)
}

// keep returns the number of the copy kept of fs[i], made at its first use in this
// Add (fs's memory is reused after it).
func (lc *LadderCollector) keep(fs []analyzer.Finding, i int) int32 {
	if lc.kept[i] < 0 {
		f := ladderFinding{benign: benign(&fs[i])}
		var ok bool
		if f.p, ok = lc.strs.packFinding(&fs[i]); !ok {
			f.p.wide = takeSlot(&lc.wideFinds, &lc.freeWideFinds, evidenceFinding(&fs[i]))
		}
		lc.kept[i] = takeSlot(&lc.finds, &lc.freeFinds, f)
	}
	return lc.kept[i]
}

// takeSlot puts v in a free entry of slab, or at its end, and returns its number.
func takeSlot[T any](slab *[]T, free *[]int32, v T) int32 {
	if n := len(*free); n > 0 {
		i := (*free)[n-1]
		*free = (*free)[:n-1]
		(*slab)[i] = v
		return i
	}
	*slab = append(*slab, v)
	return int32(len(*slab) - 1)
}

// appendEdge adds finding f at the end of l, returning the list.
func (lc *LadderCollector) appendEdge(l edgeList, f int32) edgeList {
	lc.finds[f].refs++
	e := takeSlot(&lc.edges, &lc.freeEdges, ladderEdge{f: f, next: -1})
	if l.tail < 0 {
		return edgeList{e, e}
	}
	lc.edges[l.tail].next = e
	return edgeList{l.head, e}
}

// releaseIfUnused frees connection n when neither the top nor a 4-tuple's history
// keeps it, and the findings only it named.
func (lc *LadderCollector) releaseIfUnused(n int32) {
	lcn := &lc.conns[n]
	if lcn.inTop || lcn.inLast {
		return
	}
	for _, l := range []edgeList{lcn.fs, lcn.own} {
		for e := l.head; e >= 0; {
			f := lc.edges[e].f
			if lc.finds[f].refs--; lc.finds[f].refs == 0 {
				if w := lc.finds[f].p.wide; w >= 0 {
					lc.wideFinds[w] = analyzer.Finding{}
					lc.freeWideFinds = append(lc.freeWideFinds, w)
				}
				lc.finds[f] = ladderFinding{}
				lc.freeFinds = append(lc.freeFinds, f)
			}
			next := lc.edges[e].next
			lc.freeEdges = append(lc.freeEdges, e)
			e = next
		}
	}
	if w := lcn.c.wide; w >= 0 {
		lc.wideConns[w] = analyzer.Connection{}
		lc.freeWideConns = append(lc.freeWideConns, w)
	}
	*lcn = ladderConn{}
	lc.freeConns = append(lc.freeConns, n)
}

// Ending says why the incarnation the next Add takes stopped collecting segments:
// one replaced by a new incarnation on its 4-tuple is kept for that one's
// findings; any other was the last the tracker held of its 4-tuple.
func (lc *LadderCollector) Ending(e reassembly.EndReason) { lc.replaced = e == reassembly.EndReplaced }

// frames are the frames f names.
func (lc *LadderCollector) frames(f *ladderFinding) []uint64 {
	if f.p.wide >= 0 {
		return lc.wideFinds[f.p.wide].Frames
	}
	if f.p.nFrames < 0 {
		return nil
	}
	return f.p.frames[:f.p.nFrames]
}

// connection is ladderRecord's copy of the connection lcn was kept for.
func (lc *LadderCollector) connection(lcn *ladderConn) analyzer.Connection {
	if lcn.c.wide >= 0 {
		return lc.wideConns[lcn.c.wide]
	}
	return lc.strs.connection(&lcn.c)
}

// finding is evidenceFinding's copy of the finding f was kept for.
func (lc *LadderCollector) finding(f *ladderFinding) analyzer.Finding {
	if f.p.wide >= 0 {
		return lc.wideFinds[f.p.wide]
	}
	return lc.strs.finding(&f.p)
}

// about adds finding f about connection n and offers n to the top.
func (lc *LadderCollector) about(n, f int32) {
	lc.conns[n].fs = lc.appendEdge(lc.conns[n].fs, f)
	lcn := &lc.conns[n]
	lcn.bad = lcn.bad || !lc.finds[f].benign
	if !lcn.selected {
		lcn.selected = true
		lc.selected++
	}
	lc.offer(n)
}

// offer puts connection n in the top if it is among the best so far.
func (lc *LadderCollector) offer(n int32) {
	lcn := &lc.conns[n]
	if lcn.inTop {
		return
	}
	if len(lc.top) < lc.max {
		lcn.inTop = true
		lc.top = append(lc.top, n)
		return
	}
	worst := lc.worst()
	if out := lc.top[worst]; lcn.drawnBefore(&lc.conns[out]) {
		lcn.inTop = true
		lc.top[worst] = n
		lc.conns[out].inTop = false
		lc.releaseIfUnused(out)
	}
}

// worst is the index of the top's last ladder (drawnBefore); the top is full.
func (lc *LadderCollector) worst() int {
	worst := 0
	for i, t := range lc.top {
		if lc.conns[lc.top[worst]].drawnBefore(&lc.conns[t]) {
			worst = i
		}
	}
	return worst
}

// enters says whether a connection with findings as lcn's would enter the top.
func (lc *LadderCollector) enters(lcn *ladderConn) bool {
	return lcn.selected && (len(lc.top) < lc.max || lcn.drawnBefore(&lc.conns[lc.top[lc.worst()]]))
}

// Held is how many connections the collector keeps: the top and the last of each
// 4-tuple.
func (lc *LadderCollector) Held() (top, flows int) {
	return len(lc.top), len(lc.last) + len(lc.lastZoned)
}

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
	n := 0
	for _, c := range cs {
		if c != nil {
			n += len(c.findings)
		}
	}
	out.Page = make([]PageFinding, 0, n)
	limit := MaxHTMLLadders
	for _, c := range cs {
		if c == nil {
			continue
		}
		limit = c.max
		for _, n := range c.top {
			all = append(all, picked{&c.conns[n], c})
		}
		out.Undrawn += c.selected
		out.Page = c.pageFindings(out.Page)
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
		fs := []analyzer.Finding{}
		for e := p.l.fs.head; e >= 0; e = p.lc.edges[e].next {
			fs = append(fs, p.lc.finding(&p.lc.finds[p.lc.edges[e].f]))
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

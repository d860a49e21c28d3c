package report

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/finack/finack/analyzer"
)

// Incident is one event on the wire, whatever number of findings describe it: one
// FIN that went unanswered is one incident though the analysis reports it as a
// missing_final_ack and a fin_retransmit of the same frames; each reuse of a
// 4-tuple, each group of stale or late segments, each RST in TIME_WAIT is one.
type Incident struct {
	// Kind: the kind of its main finding (the first of Findings).
	Kind analyzer.Kind `json:"kind"`
	// Findings: the kinds of the findings it groups, the main one first.
	Findings    []analyzer.Kind `json:"findings"`
	Client      netip.AddrPort  `json:"client"`
	Server      netip.AddrPort  `json:"server"`
	VLAN        []uint16        `json:"vlan,omitempty"`
	Tunnel      string          `json:"tunnel,omitempty"`
	Incarnation int             `json:"incarnation"`
	Time        time.Time       `json:"time"`
	// FirstFrame and LastFrame: the range of the frames its findings name.
	FirstFrame uint64 `json:"first_frame"`
	LastFrame  uint64 `json:"last_frame"`
	// Sender, Outcome, Verdict: the main finding's.
	Sender  string           `json:"sender,omitempty"`
	Outcome analyzer.Outcome `json:"outcome,omitempty"`
	Verdict analyzer.Verdict `json:"verdict,omitempty"`
	// Summary: one line saying what happened.
	Summary string `json:"summary"`
	// Filter: a Wireshark display filter selecting its packets (the connection's
	// addresses, ports, VLAN tags and tunnel, and the frame range). Frame numbers are
	// those finack counts: with several files merged, those of the merge.
	Filter string `json:"filter"`
}

// incidentClass says which findings of one connection describe the same event:
// those of one FIN (unanswered, retransmitted) share the FIN's sender; a reuse and
// its refusal are one; every other kind is an event of its own.
type incidentClass struct {
	event  string // "fin", "reuse", or the finding's kind
	sender string // a FIN's sender
}

func classOf(f *analyzer.Finding) incidentClass {
	switch f.Kind {
	case analyzer.MissingFinalAck, analyzer.FirstFinUnacked, analyzer.FinRetransmit:
		return incidentClass{"fin", f.Sender}
	case analyzer.ReuseIn2MSL, analyzer.ReuseRefused:
		return incidentClass{"reuse", ""} // the new SYN, and the holder's refusal of it
	}
	return incidentClass{event: string(f.Kind)}
}

// kindRank orders the findings of one incident: the one that says most first.
func kindRank(k analyzer.Kind) int {
	switch k {
	case analyzer.MissingFinalAck:
		return 0
	case analyzer.FirstFinUnacked:
		return 1
	case analyzer.FinRetransmit:
		return 2
	case analyzer.ReuseIn2MSL:
		return 3
	}
	return 4
}

// Incidents groups findings into incidents, in order of time (then first frame).
// Findings of one incident are of one connection (client, server, VLAN, tunnel,
// incarnation) and one event (incidentClass).
func Incidents(findings []analyzer.Finding, ignoreVLAN bool) []Incident {
	var g incidentGrouper
	out := g.group(make([]Incident, 0, len(findings)), findings, ignoreVLAN)
	SortIncidents(out)
	return out
}

// incidentGrouper groups findings into incidents, its buffers kept from one call to
// the next.
type incidentGrouper struct {
	keys    []incidentKey
	groupOf []int // the group of each finding
	// off, fill: where each group's findings start in fs, and where its next goes.
	off, fill []int
	fs        []*analyzer.Finding
	text      []byte
	kinds     []analyzer.Kind // what the incidents' Findings are cut from
	// borrow: the incidents' Summary and Filter are cut from text, valid until the
	// next group, not strings of their own: for a caller that encodes them before
	// it groups again (Recorder), one allocation an incident saved.
	borrow bool
}

type incidentKey struct {
	conn  analyzer.ConnID
	class incidentClass
}

// group appends to out the incidents of findings, in the order of their first
// findings. A search of the keys seen: the findings of one incarnation, which Add
// groups, are a few; a map for many.
func (g *incidentGrouper) group(out []Incident, findings []analyzer.Finding, ignoreVLAN bool) []Incident {
	g.keys, g.groupOf = g.keys[:0], g.groupOf[:0]
	if g.borrow {
		g.text = g.text[:0]
	}
	if len(findings) == 1 {
		// One group (most incarnations with a finding have one): no key to build.
		g.fs = append(g.fs[:0], &findings[0])
		return append(out, g.newIncident(g.fs, ignoreVLAN))
	}
	var index map[incidentKey]int
	if len(findings) > 16 {
		index = make(map[incidentKey]int)
	}
	for i := range findings {
		f := &findings[i]
		k := incidentKey{f.ID(), classOf(f)}
		n := -1
		if index != nil {
			if j, ok := index[k]; ok {
				n = j
			} else {
				index[k] = len(g.keys)
			}
		} else {
			for j := range g.keys {
				if g.keys[j] == k {
					n = j
					break
				}
			}
		}
		if n < 0 {
			n = len(g.keys)
			g.keys = append(g.keys, k)
		}
		g.groupOf = append(g.groupOf, n)
	}
	// The findings of each group in order, groups after one another (a counting
	// sort: the findings of a whole report are grouped in one pass, not one pass
	// a group). Group n is fs[off[n]:off[n+1]].
	g.off = append(g.off[:0], make([]int, len(g.keys)+1)...)
	for _, n := range g.groupOf {
		g.off[n+1]++
	}
	for n := range g.keys {
		g.off[n+1] += g.off[n]
	}
	g.fill = append(g.fill[:0], g.off[:len(g.keys)]...)
	g.fs = append(g.fs[:0], make([]*analyzer.Finding, len(findings))...)
	for i, n := range g.groupOf {
		g.fs[g.fill[n]] = &findings[i]
		g.fill[n]++
	}
	for n := range g.keys {
		out = append(out, g.newIncident(g.fs[g.off[n]:g.off[n+1]], ignoreVLAN))
	}
	return out
}

// SortIncidents puts incidents in order of time, then first frame, then kind.
func SortIncidents(incs []Incident) {
	if len(incs) <= 12 {
		for i := 1; i < len(incs); i++ {
			for j := i; j > 0 && incidentBefore(&incs[j], &incs[j-1]); j-- {
				incs[j], incs[j-1] = incs[j-1], incs[j]
			}
		}
		return
	}
	order := incidentOrder([][]Incident{incs})
	sorted := make([]Incident, len(incs))
	for i, o := range order {
		sorted[i] = incs[o.i]
	}
	copy(incs, sorted)
}

func incidentBefore(a, b *Incident) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if a.FirstFrame != b.FirstFrame {
		return a.FirstFrame < b.FirstFrame
	}
	return a.Kind < b.Kind
}

// incidentPlace is where an incident goes in the order of SortIncidents: its sort
// key, and where it is (list, index). Sorting these rather than the incidents moves
// 40 bytes, not 270, at each step.
type incidentPlace struct {
	sec   int64
	nsec  int32
	list  int32
	i     int
	frame uint64
	kind  analyzer.Kind
}

// incidentOrder returns the incidents of lists in the order of SortIncidents, those
// with equal keys in the order of lists, then of each list (a stable sort).
func incidentOrder(lists [][]Incident) []incidentPlace {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	order := make([]incidentPlace, 0, n)
	for li, l := range lists {
		for i := range l {
			in := &l[i]
			order = append(order, incidentPlace{in.Time.Unix(), int32(in.Time.Nanosecond()), int32(li), i, in.FirstFrame, in.Kind})
		}
	}
	slices.SortFunc(order, func(a, b incidentPlace) int {
		if c := cmp.Compare(a.sec, b.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
			return c
		}
		if c := cmp.Compare(a.frame, b.frame); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.kind), string(b.kind)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.list, b.list); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	return order
}

// NewIncident makes the incident of findings of one connection and one event.
func NewIncident(fs []*analyzer.Finding, ignoreVLAN bool) Incident {
	var g incidentGrouper
	return g.newIncident(fs, ignoreVLAN)
}

// newIncident is NewIncident: its Findings cut from g.kinds, its Summary and Filter
// one string.
func (g *incidentGrouper) newIncident(fs []*analyzer.Finding, ignoreVLAN bool) Incident {
	// By kindRank, stable: a few findings.
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && kindRank(fs[j].Kind) < kindRank(fs[j-1].Kind); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
	m := fs[0]
	in := Incident{
		Kind: m.Kind, Client: m.Client, Server: m.Server, VLAN: m.VLAN, Tunnel: m.Tunnel,
		Incarnation: m.Incarnation, Time: m.Time, Sender: m.Sender, Outcome: m.Outcome, Verdict: m.Verdict,
	}
	if cap(g.kinds)-len(g.kinds) < len(fs) {
		g.kinds = make([]analyzer.Kind, 0, max(256, len(fs)))
	}
	for _, f := range fs {
		g.kinds = append(g.kinds, f.Kind)
		if f.Time.Before(in.Time) {
			in.Time = f.Time
		}
		for _, fr := range f.Frames {
			if in.FirstFrame == 0 || fr < in.FirstFrame {
				in.FirstFrame = fr
			}
			in.LastFrame = max(in.LastFrame, fr)
		}
	}
	k := len(g.kinds)
	in.Findings = g.kinds[k-len(fs) : k : k]
	start := 0
	if g.borrow {
		start = len(g.text) // the texts of this group's incidents before stay
	}
	g.text = appendIncidentSummary(g.text[:start], m)
	n := len(g.text) - start
	g.text = appendDisplayFilter(g.text, m.Client, m.Server, m.VLAN, ignoreVLAN, m.Tunnel, in.FirstFrame, in.LastFrame)
	var text string
	if t := g.text[start:]; g.borrow {
		// Appending to text later may move it: what this string points to stays
		// as it is (the old array), until the next group starts over.
		text = unsafe.String(unsafe.SliceData(t), len(t))
	} else {
		text = string(t)
	}
	in.Summary, in.Filter = text[:n], text[n:]
	return in
}

// appendIncidentSummary appends the first clause of the main finding's message
// (what happened), with a reuse's verdict and outcome.
func appendIncidentSummary(b []byte, f *analyzer.Finding) []byte {
	s, _, _ := strings.Cut(f.Message, "; ")
	b = append(b, s...)
	if f.Kind == analyzer.ReuseIn2MSL {
		b = append(b, ": "...)
		for _, c := range []byte(f.Verdict) {
			if c == '_' {
				c = ' '
			}
			b = append(b, c)
		}
		if f.Outcome != "" {
			b = append(b, ", "...)
			b = append(b, f.Outcome...)
		}
	}
	return b
}

// DisplayFilter is a Wireshark display filter selecting the packets of a connection
// between frames first and last: both endpoints' addresses and ports (ip.addr or
// ipv6.addr), its VLAN tags and tunnel. An endpoint that is not valid leaves its
// condition out. ignoreVLAN: the connection was told apart without its
// VLAN tags (--ignore-vlan).
func DisplayFilter(client, server netip.AddrPort, vlan []uint16, ignoreVLAN bool, tunnel string, first, last uint64) string {
	return string(appendDisplayFilter(nil, client, server, vlan, ignoreVLAN, tunnel, first, last))
}

// appendDisplayFilter appends DisplayFilter's filter to b.
func appendDisplayFilter(b []byte, client, server netip.AddrPort, vlan []uint16, ignoreVLAN bool, tunnel string, first, last uint64) []byte {
	n0 := len(b)
	and := func(b []byte) []byte {
		if len(b) > n0 {
			b = append(b, " && "...)
		}
		return b
	}
	for _, ap := range [2]netip.AddrPort{client, server} {
		if !ap.IsValid() {
			continue
		}
		// An IPv4-mapped address (::ffff:10.0.0.1) is an IPv6 packet's: ipv6.addr.
		b = and(b)
		if ap.Addr().Is6() {
			b = append(b, "ipv6.addr=="...)
		} else {
			b = append(b, "ip.addr=="...)
		}
		b = analyzer.AppendAddr(b, ap.Addr().WithZone(""))
		b = append(b, " && tcp.port=="...)
		b = analyzer.AppendUint(b, uint64(ap.Port()))
	}
	// A tag is 802.1Q's or, outermost in QinQ, 802.1ad's (Wireshark names their
	// fields apart). Untagged: none, so that the same 4-tuple on a VLAN is left out;
	// with --ignore-vlan the tags are not part of the connection.
	for _, t := range vlan {
		b = append(and(b), "(vlan.id=="...)
		b = analyzer.AppendUint(b, uint64(t))
		b = append(b, " || ieee8021ad.id=="...)
		b = analyzer.AppendUint(b, uint64(t))
		b = append(b, ')')
	}
	if len(vlan) == 0 && !ignoreVLAN {
		b = append(and(b), "!vlan && !ieee8021ad"...)
	}
	switch {
	case strings.HasPrefix(tunnel, "vxlan vni "):
		b = append(append(and(b), "vxlan.vni=="...), strings.TrimPrefix(tunnel, "vxlan vni ")...)
	case strings.HasPrefix(tunnel, "gre key "):
		b = append(append(and(b), "gre.key=="...), strings.TrimPrefix(tunnel, "gre key ")...)
	case tunnel != "":
		b = append(and(b), "gre"...)
	}
	if first > 0 {
		b = append(and(b), "frame.number>="...)
		b = analyzer.AppendUint(b, first)
		b = append(b, " && frame.number<="...)
		b = analyzer.AppendUint(b, last)
	}
	return b
}

// IncidentCollector groups the findings of a streaming analysis into incidents as
// each incarnation's findings come (analyzer.Stream.Add): the findings of one event
// come from one incarnation's analysis. It copies what it keeps (the findings of a
// Stream that spills live in memory the next Add reuses).
type IncidentCollector struct {
	IgnoreVLAN bool // --ignore-vlan
	// SkipSafeReuses: keep no incident of a safe, accepted reuse (counted elsewhere).
	SkipSafeReuses bool
	// Limit: keep only the first Limit incidents in report order (SortIncidents)
	// and count the others (0: keep all), what the text report lists.
	Limit   int
	omitted int
	// PageLimit (--html, where only its page reads the incidents): keep only the
	// first PageLimit of the page's table (keepPage) and count them all (Page).
	PageLimit        int
	pageAll, pageBad int
	cut              pageCut // of the table as the latest keepPage left it
	// Page, when set, keeps the page's own incidents as well (its own
	// PageLimit), from the same grouping: the text report with --html lists
	// incidents by Limit and the page by PageLimit.
	Page *IncidentCollector
	list []Incident
	// bound: the last incident kept by the latest prune (its time, first frame
	// and kind), when there was one: an incident not before it cannot be among
	// the first Limit, and is counted at once.
	bound    Incident
	hasBound bool
	g        incidentGrouper
	added    []Incident
	words    map[string]string // the copies of the short strings kept (keep)
}

// Add groups fs, the findings of one incarnation's analysis.
func (c *IncidentCollector) Add(fs []analyzer.Finding) {
	if len(fs) == 0 {
		return
	}
	// Summary and Filter borrowed: copied below for the incidents kept only (a
	// text report skips most: safe reuses, those past its Limit).
	c.g.borrow = true
	c.added = c.g.group(c.added[:0], fs, c.IgnoreVLAN)
	SortIncidents(c.added)
	c.take(c.added)
	if c.Page != nil {
		c.Page.take(c.added)
	}
}

// take keeps, of the incidents of one Add (their strings borrowed), what the
// collector keeps.
func (c *IncidentCollector) take(added []Incident) {
	for i := range added {
		in := &added[i]
		if c.SkipSafeReuses && SafeAccepted(in.Kind, in.Verdict, in.Outcome) {
			continue
		}
		if c.hasBound && c.PageLimit == 0 && !incidentBefore(in, &c.bound) {
			c.omitted++ // prune would drop it: Limit incidents come before it
			continue
		}
		if c.PageLimit > 0 {
			c.pageAll++
			if !BenignIncident(in) {
				c.pageBad++
			}
			if c.cut.drops(in, c.PageLimit) {
				continue // keepPage would drop it: the table has enough before it
			}
		}
		// Summary and Filter copied, as one string; the rest is the findings'.
		text := in.Summary + in.Filter
		in.Summary, in.Filter = text[:len(in.Summary)], text[len(in.Summary):]
		in.Tunnel, in.Sender = c.keep(in.Tunnel), c.keep(in.Sender)
		in.Outcome, in.Verdict = analyzer.Outcome(c.keep(string(in.Outcome))), analyzer.Verdict(c.keep(string(in.Verdict)))
		if len(in.VLAN) > 0 {
			in.VLAN = append([]uint16(nil), in.VLAN...)
		} else {
			in.VLAN = nil
		}
		c.list = append(c.list, *in)
	}
	if c.Limit > 0 && len(c.list) >= 2*c.Limit {
		c.prune()
	}
	if c.PageLimit > 0 && len(c.list) >= 2*c.PageLimit {
		c.sort()
		c.list = keepPage(c.list, c.PageLimit)
		c.cut = pageCutOf(c.list, c.PageLimit)
	}
}

// pageCut is what an incident must come before to be listed in the HTML report's
// table, as far as the incidents kept so far tell: once the table is full (limit
// incidents kept, keepPage), a benign incident must come before the last benign one
// kept (an incident that is not benign can only take a benign one's place), and,
// with limit not benign ones kept, none can; one that is not benign must come
// before the last of those. Incidents kept since only tighten it: one it drops
// would be dropped by a later keepPage, of this collector or of the merge
// (MergeIncidents keeps each collector's order among equal keys).
type pageCut struct {
	full bool
	bad  int // the incidents kept that are not benign
	// lastBad, lastBenign: the keys (time, first frame, kind) of the last of each
	// kept, in report order, when there is one.
	lastBad, lastBenign Incident
}

// pageCutOf is the cut of a table in report order, as keepPage left it.
func pageCutOf(list []Incident, limit int) pageCut {
	cut := pageCut{full: len(list) >= limit}
	for i := range list {
		in := &list[i]
		key := Incident{Time: in.Time, FirstFrame: in.FirstFrame, Kind: in.Kind}
		if BenignIncident(in) {
			cut.lastBenign = key
		} else {
			cut.bad++
			cut.lastBad = key
		}
	}
	return cut
}

// drops says whether in cannot be among the first limit incidents of the table.
func (cut *pageCut) drops(in *Incident, limit int) bool {
	switch {
	case !cut.full:
		return false
	case BenignIncident(in):
		return cut.bad >= limit || !incidentBefore(in, &cut.lastBenign)
	default:
		return cut.bad >= limit && !incidentBefore(in, &cut.lastBad)
	}
}

// BenignIncident says whether an incident is nothing but a safe, accepted reuse:
// the HTML report's table lists those last.
func BenignIncident(in *Incident) bool {
	return len(in.Findings) == 1 && SafeAccepted(in.Kind, in.Verdict, in.Outcome)
}

// keepPage keeps of a list in report order the first limit incidents of the HTML
// report's table: those not benign first, then the benign ones, each in report
// order; the list stays in report order.
func keepPage(list []Incident, limit int) []Incident {
	bad := 0
	for i := range list {
		if !BenignIncident(&list[i]) {
			bad++
		}
	}
	keepBad := min(bad, limit)
	keepBenign := limit - keepBad
	out := list[:0]
	for i := range list {
		if BenignIncident(&list[i]) {
			if keepBenign == 0 {
				continue
			}
			keepBenign--
		} else {
			if keepBad == 0 {
				continue
			}
			keepBad--
		}
		out = append(out, list[i])
	}
	clear(list[len(out):])
	return out
}

// IncidentCounts are how many incidents a capture has, and how many of them are
// not benign (BenignIncident), when the document holds only those the HTML
// report's table lists (IncidentCollector.PageLimit).
type IncidentCounts struct {
	All, Bad int
}

// PageCounts sums the incidents the collectors counted (PageLimit).
func PageCounts(cs []*IncidentCollector) IncidentCounts {
	var n IncidentCounts
	for _, c := range cs {
		if c != nil {
			n.All += c.pageAll
			n.Bad += c.pageBad
		}
	}
	return n
}

// prune keeps the first Limit incidents of the list in report order. The sort is
// stable, so incidents of equal keys stay in the order they came, as MergeIncidents
// orders them.
func (c *IncidentCollector) prune() {
	c.sort()
	if len(c.list) > c.Limit {
		c.omitted += len(c.list) - c.Limit
		clear(c.list[c.Limit:])
		c.list = c.list[:c.Limit]
		last := &c.list[c.Limit-1]
		c.bound, c.hasBound = Incident{Time: last.Time, FirstFrame: last.FirstFrame, Kind: last.Kind}, true
	}
}

// sort puts the list in report order, stably: SortIncidents sorts a key for each
// and moves each incident once.
func (c *IncidentCollector) sort() {
	SortIncidents(c.list)
}

// keep returns a copy of s, one copy of each of the first few hundred strings
// (senders, outcomes, verdicts, tunnels: a few words, over and over).
func (c *IncidentCollector) keep(s string) string {
	if s == "" {
		return ""
	}
	if k, ok := c.words[s]; ok {
		return k
	}
	k := strings.Clone(s)
	if c.words == nil {
		c.words = make(map[string]string)
	}
	if len(c.words) < 256 {
		c.words[k] = k
	}
	return k
}

// MergeIncidents returns the incidents of the collectors in order, and how many
// more the collectors bounded by a Limit only counted (the first of the collectors'
// limits then bounds the result). Nil collectors are left out.
func MergeIncidents(cs []*IncidentCollector) ([]Incident, int) {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *IncidentCollector) bool { return c == nil })
	lists := make([][]Incident, len(cs))
	omitted, limit, page := 0, 0, 0
	for i, c := range cs {
		lists[i] = c.list
		omitted += c.omitted
		if limit == 0 {
			limit = c.Limit
		}
		page = max(page, c.PageLimit)
	}
	order := incidentOrder(lists)
	if limit > 0 && len(order) > limit {
		omitted += len(order) - limit
		order = order[:limit]
	}
	out := make([]Incident, len(order))
	for i, o := range order {
		out[i] = lists[o.list][o.i]
	}
	for _, c := range cs {
		c.list = nil
	}
	if page > 0 {
		out = keepPage(out, page)
	}
	return out, omitted
}

package report

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// Party sums the connections of one server endpoint, or of one client address: how
// they closed, who sent the first FIN, what was found, and the TIME_WAIT its host
// held at the peak.
type Party struct {
	Name        string                 `json:"name"`
	Connections int                    `json:"connections"`
	Closes      map[analyzer.Shape]int `json:"closes"`
	// ClosedBy: the closes whose first FIN came from the client, the server, or both
	// at once (simultaneous).
	ClosedBy map[string]int        `json:"closed_by"`
	Findings map[analyzer.Kind]int `json:"findings"`
	// FindingTotal: the findings of every kind.
	FindingTotal int `json:"finding_total"`
	// Host: its address; TimeWaitPeak the most TIME_WAIT 4-tuples that host held at
	// once (of every connection in the capture), first reached at TimeWaitPeakAt.
	Host           string    `json:"host"`
	TimeWaitPeak   int       `json:"time_wait_peak"`
	TimeWaitPeakAt time.Time `json:"time_wait_peak_at"`
	// Clients: PortsPeak, the most client ports the address tied up at once towards
	// one server endpoint (PortsServer), open or in TIME_WAIT on either side, first
	// reached at PortsPeakAt.
	PortsPeak   int       `json:"ports_peak,omitempty"`
	PortsPeakAt time.Time `json:"ports_peak_at,omitempty"`
	PortsServer string    `json:"ports_server,omitempty"`
}

// SafeReuses counts the reuses that were safe and accepted, per server endpoint and
// verdict: they are counted, not listed.
type SafeReuses struct {
	Server  string `json:"server"`
	Verdict string `json:"verdict"`
	Count   int    `json:"count"`
}

// Overview is the summary the text report opens with.
type Overview struct {
	Servers []Party
	Clients []Party
	// Reuses: the safe, accepted reuses, counted.
	Reuses []SafeReuses
}

// partyAcc: a party's counts (int32: one per connection or finding; small, as a
// capture may hold a party per connection, a SYN flood's sources).
type partyAcc struct {
	conns    int32
	total    int32
	closes   [8]int32 // per analyzer.Shapes
	closedBy [3]int32 // client, server, both
	findings [12]int32
}

// reuseKey is what SafeReuses counts by.
type reuseKey struct {
	server  netip.AddrPort
	verdict analyzer.Verdict
}

// counted is the SafeReuses of n reuses of k.
func (k reuseKey) counted(n int) SafeReuses {
	return SafeReuses{Server: analyzer.EndpointString(k.server), Verdict: string(k.verdict), Count: n}
}

type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

// OverviewCollector sums the incarnations a pipeline analyses into an Overview, and
// counts the safe accepted reuses; one per worker, merged (MergeOverview).
//
// The peaks (a host's TIME_WAIT, a client's ports towards a server) need the spans of
// every worker's connections: each connection's spans go to an external sort (package
// spill), past a bound in sorted runs in a temporary file, those of one host or one
// client→server pair together in start order (spanKey); MergeOverview merges the
// workers' sorts and sweeps each group (analyzer.PeakSweep). Memory follows the
// parties and the spans open at once, not the connections.
type OverviewCollector struct {
	twLen   time.Duration
	servers map[netip.AddrPort]*partyAcc
	clients map[netip.Addr]*partyAcc
	spanSorter
	reuses map[reuseKey]int
}

// spanSorter sorts the spans of TIME_WAIT per host and of client ports tied up per
// client → server pair (an OverviewCollector's, a ViewCollector's), each group's
// together in start order (spanKey).
type spanSorter struct {
	spans *spill.Sorter
	hash  func(id []byte) uint64 // of a span's group (spanKey): fnv1a; tests make every group collide
	buf   []byte                 // a span's record
}

func newSpanSorter(opt spill.Options) spanSorter {
	return spanSorter{spans: spill.New(opt), hash: fnv1a}
}

// NewOverviewCollector sums with TIME_WAIT length twLen, its spans sorted within the
// bounds opt.
func NewOverviewCollector(twLen time.Duration, opt spill.Options) *OverviewCollector {
	return &OverviewCollector{
		twLen:   twLen,
		servers: map[netip.AddrPort]*partyAcc{}, clients: map[netip.Addr]*partyAcc{},
		spanSorter: newSpanSorter(opt),
		reuses:     map[reuseKey]int{},
	}
}

// The kinds of spans sorted, in the top byte of a key's first element.
const (
	spanTimeWait = 1 // a host held TIME_WAIT: the record is the host's address
	spanTied     = 2 // a client port tied up: the port, then the pair (appendPair)
)

// spanKey sorts the spans of one group (a kind's host or pair, id) together, in
// start order: the kind and 56 bits of a hash of id, then from and to. Groups whose
// hashes collide interleave, each still in start order: the records tell them apart.
func spanKey(kind uint64, hash uint64, iv analyzer.Interval) spill.Key {
	return spill.Key{kind<<56 | hash>>8, uint64(iv.From) ^ 1<<63, uint64(iv.To) ^ 1<<63}
}

// fnv1a is the 64-bit FNV-1a hash of id: the hash of a span's group.
func fnv1a(id []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, b := range id {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return h
}

// spanOf is the span of a key.
func spanOf(k *spill.Key) analyzer.Interval {
	return analyzer.Interval{From: reassembly.Instant(k[1] ^ 1<<63), To: reassembly.Instant(k[2] ^ 1<<63)}
}

// appendPair appends a client address and a server endpoint: the address's length,
// the address, then the endpoint (netip's binary forms).
func appendPair(dst []byte, client netip.Addr, server netip.AddrPort) []byte {
	n := len(dst)
	dst = append(dst, 0)
	dst, _ = client.AppendBinary(dst) // cannot fail
	dst[n] = byte(len(dst) - n - 1)
	dst, _ = server.AppendBinary(dst) // cannot fail
	return dst
}

// addTimeWait sorts a span of TIME_WAIT held by host h.
func (c *spanSorter) addTimeWait(h netip.Addr, iv analyzer.Interval) {
	c.buf, _ = h.AppendBinary(c.buf[:0]) // cannot fail
	c.addSpan(spanTimeWait, c.buf, 0, iv)
}

// addTied sorts a span of a client port tied up towards server.
func (c *spanSorter) addTied(client netip.AddrPort, server netip.AddrPort, iv analyzer.Interval) {
	c.buf = appendPair(binary.LittleEndian.AppendUint16(c.buf[:0], client.Port()), client.Addr(), server)
	c.addSpan(spanTied, c.buf, 2, iv)
}

// addSpan sorts a span of kind, its record rec (its group: rec past its first skip
// bytes).
func (c *spanSorter) addSpan(kind uint64, rec []byte, skip int, iv analyzer.Interval) {
	_ = c.spans.Add(spanKey(kind, c.hash(rec[skip:]), iv), rec) // an error is kept: MergeKeys returns it
}

// SafeAccepted says whether a finding is a reuse that was safe and accepted: the
// ones counted, not listed.
func SafeAccepted(kind analyzer.Kind, verdict analyzer.Verdict, outcome analyzer.Outcome) bool {
	return kind == analyzer.ReuseIn2MSL && outcome == analyzer.OutcomeAccepted &&
		(verdict == analyzer.VerdictSafeBySequence || verdict == analyzer.VerdictSafeByTimestamps)
}

// Add sums one incarnation and its findings.
func (c *OverviewCollector) Add(inc *reassembly.Incarnation, fs []analyzer.Finding) {
	sv, cl := inc.Server(), inc.Client()
	s, k := c.servers[sv], c.clients[cl.Addr()]
	if s == nil {
		s = &partyAcc{}
		c.servers[sv] = s
	}
	if k == nil {
		k = &partyAcc{}
		c.clients[cl.Addr()] = k
	}
	shape := analyzer.CloseShape(inc)
	by := -1
	switch shape {
	case analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose:
		switch cf, sf := inc.ActiveClosers(); {
		case cf && sf:
			by = 2
		case sf:
			by = 1
		case cf:
			by = 0
		}
	}
	for _, p := range [2]*partyAcc{s, k} {
		p.conns++
		if i := slices.Index(analyzer.Shapes, shape); i >= 0 && i < len(p.closes) {
			p.closes[i]++
		}
		if by >= 0 {
			p.closedBy[by]++
		}
		for i := range fs {
			if j := slices.Index(analyzer.Kinds, fs[i].Kind); j >= 0 && j < len(p.findings) {
				p.findings[j]++
			}
			p.total++
		}
	}
	for i := range fs {
		if f := &fs[i]; SafeAccepted(f.Kind, f.Verdict, f.Outcome) {
			c.reuses[reuseKey{sv, f.Verdict}]++
		}
	}
	c.addSpans(inc, analyzer.SpansOf(inc, c.twLen))
}

// openTied is the end of the span of a client port still tied up at the end of the
// capture (not known while the capture is read).
const openTied = reassembly.Instant(1<<63 - 1)

// addSpans sorts inc's spans sp: its holders' TIME_WAIT, and its client port tied up
// (roles known).
func (c *spanSorter) addSpans(inc *reassembly.Incarnation, sp analyzer.Spans) {
	if sp.Held {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			if sp.TimeWait.Holder[r] {
				c.addTimeWait(inc.Half[r].Endpoint.Addr(), analyzer.Interval{From: sp.From, To: sp.To})
			}
		}
	}
	if inc.RolesKnown {
		to := sp.TiedTo
		if to == 0 {
			to = openTied
		}
		c.addTied(inc.Client(), inc.Server(), analyzer.Interval{From: inc.First.At, To: max(to, inc.First.At+1)})
	}
}

// MergeOverview sums the collectors into the Overview, parties ordered by findings,
// then connections, then name, and frees their spans. An error reading the spans
// back (or sorting them: a temporary file) leaves every peak out (zero), and is
// returned with the Overview.
func MergeOverview(cs []*OverviewCollector) (*Overview, error) {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *OverviewCollector) bool { return c == nil })
	if len(cs) == 0 {
		return nil, nil
	}
	return mergeOverview(cs, nil)
}

// mergeOverview is MergeOverview; with vm, the view's sweeps of the same spans are
// done in the same pass (MergeOverviewAndView).
func mergeOverview(cs []*OverviewCollector, vm *viewMerge) (*Overview, error) {
	twPeak, portPeak, err := mergePeaks(cs, vm)
	if err != nil {
		twPeak, portPeak = nil, nil
	}
	all := cs[0]
	for _, c := range cs[1:] {
		for k, p := range c.servers {
			all.servers[k] = addAcc(all.servers[k], p)
		}
		for k, p := range c.clients {
			all.clients[k] = addAcc(all.clients[k], p)
		}
		for k, n := range c.reuses {
			all.reuses[k] += n
		}
	}
	ov := &Overview{}
	for ap, acc := range all.servers {
		p := acc.party(ap.String())
		p.Host = ap.Addr().String()
		p.TimeWaitPeak, p.TimeWaitPeakAt = twPeak[ap.Addr()].n, twPeak[ap.Addr()].at
		ov.Servers = append(ov.Servers, p)
	}
	for a, acc := range all.clients {
		p := acc.party(a.String())
		p.Host = a.String()
		p.TimeWaitPeak, p.TimeWaitPeakAt = twPeak[a].n, twPeak[a].at
		pp := portPeak[a]
		p.PortsPeak, p.PortsPeakAt, p.PortsServer = pp.PortsPeak, pp.PortsPeakAt, pp.PortsServer
		ov.Clients = append(ov.Clients, p)
	}
	sortParties(ov.Servers)
	sortParties(ov.Clients)
	for k, n := range all.reuses {
		ov.Reuses = append(ov.Reuses, k.counted(n))
	}
	sort.Slice(ov.Reuses, func(i, j int) bool {
		a, b := ov.Reuses[i], ov.Reuses[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		return a.Verdict < b.Verdict
	})
	return ov, err
}

// peak is a host's TIME_WAIT peak, and when it was first reached.
type peak struct {
	n  int
	at time.Time
}

// overviewSweep is a group's sweep for the overview's peak and, when a view is
// merged with it, the view's.
type overviewSweep struct {
	peak analyzer.PeakSweep
	view viewSweep
}

// mergePeaks merges the collectors' spans: each host's TIME_WAIT peak (analyzer.PeakOf
// of its spans), and each client's highest port peak towards one server endpoint
// (analyzer.Peak of the pair's spans per port; ties to the least endpoint by name).
// vm, when not nil, sweeps the same spans for a view.
func mergePeaks(cs []*OverviewCollector, vm *viewMerge) (map[netip.Addr]peak, map[netip.Addr]Party, error) {
	sorters := make([]*spill.Sorter, len(cs))
	for i, c := range cs {
		sorters[i] = c.spans // an Add that failed: mergeGroups returns its error first
	}
	twPeak := map[netip.Addr]peak{}
	portPeak := map[netip.Addr]Party{}
	err := mergeGroups(sorters, func(s *overviewSweep, kind uint64, rec []byte, iv analyzer.Interval) {
		if vm != nil {
			vm.add(&s.view, kind, rec, iv)
		}
		if kind == spanTimeWait {
			s.peak.Add(iv)
		} else {
			s.peak.AddPort(binary.LittleEndian.Uint16(rec), iv)
		}
	}, func(s *overviewSweep, kind uint64, id []byte) {
		if vm != nil {
			vm.done(&s.view, kind, id)
		}
		n, at := s.peak.Peak()
		s.peak.Reset()
		if kind == spanTimeWait {
			twPeak[hostOf(id)] = peak{n, at.Time().UTC()}
			return
		}
		client, server := pairOf(id)
		name := server.String()
		if p, ok := portPeak[client]; !ok || n > p.PortsPeak || (n == p.PortsPeak && name < p.PortsServer) {
			portPeak[client] = Party{PortsPeak: n, PortsPeakAt: at.Time().UTC(), PortsServer: name}
		}
	})
	return twPeak, portPeak, err
}

// hostOf reads the host of a TIME_WAIT span's group (as addTimeWait wrote it).
func hostOf(id []byte) netip.Addr {
	var h netip.Addr
	_ = h.UnmarshalBinary(id) // as AppendBinary wrote it
	return h
}

// pairOf reads the client address and server endpoint of a tied span's group (as
// appendPair wrote them).
func pairOf(id []byte) (client netip.Addr, server netip.AddrPort) {
	_ = client.UnmarshalBinary(id[1 : 1+id[0]])
	_ = server.UnmarshalBinary(id[1+id[0]:])
	return client, server
}

// spanGroup is the sweep of one host's or one pair's spans (id).
type spanGroup struct {
	id    []byte
	sweep overviewSweep
}

// mergeGroups merges the spans of sorters (spanSorter's) and hands each group's to a
// sweep of its own, in start order (add: the span iv of record rec, of the kind
// spanTimeWait or spanTied), then ends the sweep (done, with the group's id: a
// host's address, or a pair's); a sweep is reused for another group once done. The
// groups whose hashes collide are read together, each in start order.
func mergeGroups(sorters []*spill.Sorter, add func(s *overviewSweep, kind uint64, rec []byte, iv analyzer.Interval), done func(s *overviewSweep, kind uint64, id []byte)) error {
	// The groups of the key's hash being read (usually one): the others, kept for
	// the next hash.
	var groups []*spanGroup
	live, bucket := 0, uint64(0)
	finish := func() {
		for _, g := range groups[:live] {
			done(&g.sweep, bucket>>56, g.id)
		}
		live = 0
	}
	err := spill.MergeKeys(sorters, func(k *spill.Key, rec []byte) error {
		if k[0] != bucket {
			finish()
			bucket = k[0]
		}
		id := rec
		if k[0]>>56 == spanTied {
			id = rec[2:]
		}
		var g *spanGroup
		for _, o := range groups[:live] {
			if bytes.Equal(o.id, id) {
				g = o
				break
			}
		}
		if g == nil {
			if live == len(groups) {
				groups = append(groups, &spanGroup{})
			}
			g = groups[live]
			live++
			g.id = append(g.id[:0], id...)
		}
		add(&g.sweep, k[0]>>56, rec, spanOf(k))
		return nil
	})
	finish()
	return err
}

func addAcc(a, b *partyAcc) *partyAcc {
	if a == nil {
		return b
	}
	a.conns += b.conns
	a.total += b.total
	for i := range a.closes {
		a.closes[i] += b.closes[i]
	}
	for i := range a.closedBy {
		a.closedBy[i] += b.closedBy[i]
	}
	for i := range a.findings {
		a.findings[i] += b.findings[i]
	}
	return a
}

func (acc *partyAcc) party(name string) Party {
	p := Party{Name: name, Connections: int(acc.conns), FindingTotal: int(acc.total),
		Closes: map[analyzer.Shape]int{}, Findings: map[analyzer.Kind]int{},
		ClosedBy: map[string]int{"client": int(acc.closedBy[0]), "server": int(acc.closedBy[1]), "both": int(acc.closedBy[2])}}
	for i, s := range analyzer.Shapes {
		if i < len(acc.closes) && acc.closes[i] > 0 {
			p.Closes[s] = int(acc.closes[i])
		}
	}
	for i, k := range analyzer.Kinds {
		if i < len(acc.findings) && acc.findings[i] > 0 {
			p.Findings[k] = int(acc.findings[i])
		}
	}
	return p
}

func sortParties(ps []Party) {
	sort.Slice(ps, func(i, j int) bool {
		a, b := &ps[i], &ps[j]
		if a.FindingTotal != b.FindingTotal {
			return a.FindingTotal > b.FindingTotal
		}
		if a.Connections != b.Connections {
			return a.Connections > b.Connections
		}
		return strings.Compare(a.Name, b.Name) < 0
	})
}

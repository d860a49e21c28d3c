package report

import (
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
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

// tiedSpan: one connection's client port tied up, towards the pair pairs[pair].
type tiedSpan struct {
	pair int32
	port uint16
	span analyzer.Interval
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
type OverviewCollector struct {
	twLen   time.Duration
	servers map[netip.AddrPort]*partyAcc
	clients map[netip.Addr]*partyAcc
	tw      map[netip.Addr][]analyzer.Interval
	pairs   map[pairKey]int32
	tied    []tiedSpan
	reuses  map[reuseKey]int
}

// NewOverviewCollector sums with TIME_WAIT length twLen.
func NewOverviewCollector(twLen time.Duration) *OverviewCollector {
	return &OverviewCollector{
		twLen:   twLen,
		servers: map[netip.AddrPort]*partyAcc{}, clients: map[netip.Addr]*partyAcc{},
		tw: map[netip.Addr][]analyzer.Interval{}, pairs: map[pairKey]int32{},
		reuses: map[reuseKey]int{},
	}
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
	sp := analyzer.SpansOf(inc, c.twLen)
	if sp.Held {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			if sp.TimeWait.Holder[r] {
				h := inc.Half[r].Endpoint.Addr()
				c.tw[h] = append(c.tw[h], analyzer.Interval{From: sp.From, To: sp.To})
			}
		}
	}
	if inc.RolesKnown {
		pk := pairKey{cl.Addr(), sv}
		pi, ok := c.pairs[pk]
		if !ok {
			pi = int32(len(c.pairs))
			c.pairs[pk] = pi
		}
		to := sp.TiedTo
		if to == 0 {
			to = 1<<63 - 1 // open at the end of the capture
		}
		c.tied = append(c.tied, tiedSpan{pi, cl.Port(), analyzer.Interval{From: inc.First.At, To: max(to, inc.First.At+1)}})
	}
}

// MergeOverview sums the collectors into the Overview, parties ordered by findings,
// then connections, then name.
func MergeOverview(cs []*OverviewCollector) *Overview {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *OverviewCollector) bool { return c == nil })
	if len(cs) == 0 {
		return nil
	}
	all := cs[0]
	for _, c := range cs[1:] {
		for k, p := range c.servers {
			all.servers[k] = addAcc(all.servers[k], p)
		}
		for k, p := range c.clients {
			all.clients[k] = addAcc(all.clients[k], p)
		}
		for h, l := range c.tw {
			all.tw[h] = append(all.tw[h], l...)
		}
		index := make([]int32, len(c.pairs))
		for pk, i := range c.pairs {
			j, ok := all.pairs[pk]
			if !ok {
				j = int32(len(all.pairs))
				all.pairs[pk] = j
			}
			index[i] = j
		}
		for _, t := range c.tied {
			t.pair = index[t.pair]
			all.tied = append(all.tied, t)
		}
		for k, n := range c.reuses {
			all.reuses[k] += n
		}
	}
	type peak struct {
		n  int
		at time.Time
	}
	twPeak := map[netip.Addr]peak{}
	for h, l := range all.tw {
		n, at := analyzer.PeakOf(l)
		twPeak[h] = peak{n, at.Time().UTC()}
	}
	portPeak := map[netip.Addr]Party{}
	byPair := make([]map[uint16][]analyzer.Interval, len(all.pairs))
	for _, t := range all.tied {
		if byPair[t.pair] == nil {
			byPair[t.pair] = map[uint16][]analyzer.Interval{}
		}
		byPair[t.pair][t.port] = append(byPair[t.pair][t.port], t.span)
	}
	for pk, pi := range all.pairs {
		n, at := analyzer.Peak(byPair[pi])
		if p, ok := portPeak[pk.client]; !ok || n > p.PortsPeak || (n == p.PortsPeak && pk.server.String() < p.PortsServer) {
			portPeak[pk.client] = Party{PortsPeak: n, PortsPeakAt: at.Time().UTC(), PortsServer: pk.server.String()}
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
	return ov
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

package report

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

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
func incidentClass(f *analyzer.Finding) string {
	switch f.Kind {
	case analyzer.MissingFinalAck, analyzer.FirstFinUnacked, analyzer.FinRetransmit:
		return "fin " + f.Sender
	case analyzer.ReuseIn2MSL, analyzer.ReuseRefused:
		return "reuse" // the new SYN, and the holder's refusal of it
	}
	return string(f.Kind)
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
	type key struct {
		conn  analyzer.ConnID
		class string
	}
	groups := map[key][]*analyzer.Finding{}
	var order []key
	for i := range findings {
		f := &findings[i]
		k := key{f.ID(), incidentClass(f)}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], f)
	}
	out := make([]Incident, 0, len(order))
	for _, k := range order {
		out = append(out, NewIncident(groups[k], ignoreVLAN))
	}
	SortIncidents(out)
	return out
}

// SortIncidents puts incidents in order of time, then first frame, then kind.
func SortIncidents(incs []Incident) {
	sort.SliceStable(incs, func(i, j int) bool {
		a, b := &incs[i], &incs[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.FirstFrame != b.FirstFrame {
			return a.FirstFrame < b.FirstFrame
		}
		return a.Kind < b.Kind
	})
}

// NewIncident makes the incident of findings of one connection and one event.
func NewIncident(fs []*analyzer.Finding, ignoreVLAN bool) Incident {
	sort.SliceStable(fs, func(i, j int) bool { return kindRank(fs[i].Kind) < kindRank(fs[j].Kind) })
	m := fs[0]
	in := Incident{
		Kind: m.Kind, Client: m.Client, Server: m.Server, VLAN: m.VLAN, Tunnel: m.Tunnel,
		Incarnation: m.Incarnation, Time: m.Time, Sender: m.Sender, Outcome: m.Outcome, Verdict: m.Verdict,
	}
	for _, f := range fs {
		in.Findings = append(in.Findings, f.Kind)
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
	in.Summary = incidentSummary(m)
	in.Filter = DisplayFilter(m.Client, m.Server, m.VLAN, ignoreVLAN, m.Tunnel, in.FirstFrame, in.LastFrame)
	return in
}

// incidentSummary is the first clause of the main finding's message (what
// happened), with a reuse's verdict and outcome.
func incidentSummary(f *analyzer.Finding) string {
	s, _, _ := strings.Cut(f.Message, "; ")
	if f.Kind == analyzer.ReuseIn2MSL {
		s += ": " + strings.ReplaceAll(string(f.Verdict), "_", " ")
		if f.Outcome != "" {
			s += ", " + string(f.Outcome)
		}
	}
	return s
}

// DisplayFilter is a Wireshark display filter selecting the packets of a connection
// between frames first and last: both endpoints' addresses and ports (ip.addr or
// ipv6.addr), its VLAN tags and tunnel. An endpoint that is not valid leaves its
// condition out. ignoreVLAN: the connection was told apart without its
// VLAN tags (--ignore-vlan).
func DisplayFilter(client, server netip.AddrPort, vlan []uint16, ignoreVLAN bool, tunnel string, first, last uint64) string {
	var conds []string
	for _, ap := range [2]netip.AddrPort{client, server} {
		if !ap.IsValid() {
			continue
		}
		// An IPv4-mapped address (::ffff:10.0.0.1) is an IPv6 packet's: ipv6.addr.
		field := "ip.addr"
		if ap.Addr().Is6() {
			field = "ipv6.addr"
		}
		conds = append(conds, field+"=="+analyzer.AddrString(ap.Addr().WithZone("")), "tcp.port=="+strconv.Itoa(int(ap.Port())))
	}
	// A tag is 802.1Q's or, outermost in QinQ, 802.1ad's (Wireshark names their
	// fields apart). Untagged: none, so that the same 4-tuple on a VLAN is left out;
	// with --ignore-vlan the tags are not part of the connection.
	for _, t := range vlan {
		n := strconv.Itoa(int(t))
		conds = append(conds, "(vlan.id=="+n+" || ieee8021ad.id=="+n+")")
	}
	if len(vlan) == 0 && !ignoreVLAN {
		conds = append(conds, "!vlan && !ieee8021ad")
	}
	switch {
	case strings.HasPrefix(tunnel, "vxlan vni "):
		conds = append(conds, "vxlan.vni=="+strings.TrimPrefix(tunnel, "vxlan vni "))
	case strings.HasPrefix(tunnel, "gre key "):
		conds = append(conds, "gre.key=="+strings.TrimPrefix(tunnel, "gre key "))
	case tunnel != "":
		conds = append(conds, "gre")
	}
	if first > 0 {
		conds = append(conds, "frame.number>="+strconv.FormatUint(first, 10), "frame.number<="+strconv.FormatUint(last, 10))
	}
	return strings.Join(conds, " && ")
}

// IncidentCollector groups the findings of a streaming analysis into incidents as
// each incarnation's findings come (analyzer.Stream.Add): the findings of one event
// come from one incarnation's analysis. It copies what it keeps (the findings of a
// Stream that spills live in memory the next Add reuses).
type IncidentCollector struct {
	IgnoreVLAN bool // --ignore-vlan
	// SkipSafeReuses: keep no incident of a safe, accepted reuse (counted elsewhere).
	SkipSafeReuses bool
	list           []Incident
}

// Add groups fs, the findings of one incarnation's analysis.
func (c *IncidentCollector) Add(fs []analyzer.Finding) {
	if len(fs) == 0 {
		return
	}
	for _, in := range Incidents(fs, c.IgnoreVLAN) {
		if c.SkipSafeReuses && SafeAccepted(in.Kind, in.Verdict, in.Outcome) {
			continue
		}
		in.Tunnel, in.Sender = strings.Clone(in.Tunnel), strings.Clone(in.Sender)
		in.Outcome, in.Verdict = analyzer.Outcome(strings.Clone(string(in.Outcome))), analyzer.Verdict(strings.Clone(string(in.Verdict)))
		in.Summary = strings.Clone(in.Summary)
		in.VLAN = append([]uint16(nil), in.VLAN...)
		c.list = append(c.list, in)
	}
}

// MergeIncidents returns the incidents of the collectors in order.
func MergeIncidents(cs []*IncidentCollector) []Incident {
	var out []Incident
	for _, c := range cs {
		out = append(out, c.list...)
	}
	SortIncidents(out)
	if out == nil {
		out = []Incident{}
	}
	return out
}

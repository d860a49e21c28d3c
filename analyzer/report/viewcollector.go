package report

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// ViewCollector measures what --states reports (the netstat view at one moment and
// the TIME_WAIT accounting: analyzer.States and analyzer.TimeWaitAccounting of every
// incarnation) from each incarnation as a streaming tracker hands it out, keeping
// no connection: the states counted per host and the closes per server endpoint.
// The spans it sweeps (TIME_WAIT per host, client ports tied up per client → server
// pair) are the ones the OverviewCollector beside it sorts for the summary's peaks:
// MergeOverviewAndView sweeps them once for both. One per worker, merged; the view
// does not depend on how incarnations were shared out, and is the one the
// incarnations all held at once give, exactly.
type ViewCollector struct {
	twLen time.Duration
	// at: the moment of --at (nil: the end of the capture), resolved at the first
	// incarnation (it may be relative to the capture's first packet).
	at     func() (time.Time, bool)
	atT    time.Time
	atOK   bool
	states map[netip.Addr]*stateCounts
	// closers: per server endpoint, its closes and those it began.
	closers map[netip.AddrPort]*[2]int32
}

// NewViewCollector collects with TIME_WAIT length twLen, the states at the moment at
// gives (nil: at the end of the capture). Its spans are those of the
// OverviewCollector that is given the same incarnations.
func NewViewCollector(twLen time.Duration, at func() (time.Time, bool)) *ViewCollector {
	return &ViewCollector{twLen: twLen, at: at, states: map[netip.Addr]*stateCounts{},
		closers: map[netip.AddrPort]*[2]int32{}}
}

// Add counts one incarnation, finished.
func (c *ViewCollector) Add(inc *reassembly.Incarnation) {
	if !c.atOK && c.at != nil {
		c.atT, c.atOK = c.at()
	}
	when := c.atT
	if c.at == nil {
		when = atCaptureEnd(inc)
	} else if !c.atOK {
		when = time.Time{}
	}
	if !when.IsZero() {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			countState(c.states, inc.Half[r].Endpoint.Addr(), analyzer.StateAt(inc, r, when, c.twLen))
		}
	}
	countCloser(c.closers, inc, analyzer.CloseShape(inc))
}

// viewSweep sweeps one group's spans: a host's TIME_WAIT (edges) or a pair's
// client ports (ports).
type viewSweep struct {
	edges analyzer.EdgeSweep
	ports analyzer.PeakSweep
	begun bool // edges was Reset for this group
}

// viewMerge sweeps the groups of spans for a view of the capture [start, end]:
// each host's TIME_WAIT (analyzer.EdgeSweep), each pair's port pressure (a span
// still open tied up until the end of the capture).
type viewMerge struct {
	start, end reassembly.Instant
	v          ViewOptions
	hosts      map[netip.Addr]analyzer.TimeWaitHost
	pressure   []analyzer.PortPressure
}

func (m *viewMerge) add(s *viewSweep, kind uint64, rec []byte, iv analyzer.Interval) {
	if kind == spanTimeWait {
		if !s.begun {
			s.edges.Reset(m.start, m.end, analyzer.ChartBuckets)
			s.begun = true
		}
		s.edges.Add(iv)
		return
	}
	if iv.To == openTied {
		iv.To = max(m.end, iv.From+1) // tied up until the end of the capture
	}
	s.ports.AddPort(binary.LittleEndian.Uint16(rec), iv)
}

func (m *viewMerge) done(s *viewSweep, kind uint64, id []byte) {
	if kind == spanTimeWait {
		h := hostOf(id)
		m.hosts[h] = s.edges.Host(h.String())
		s.begun = false
		return
	}
	n, at := s.ports.Peak()
	s.ports.Reset()
	client, server := pairOf(id)
	m.pressure = append(m.pressure, analyzer.NewPortPressure(client.String(), analyzer.EndpointString(server), n, at, m.v.Ports, m.v.PortPressure))
}

// MergeOverviewAndView sums the collectors into the Overview (MergeOverview) and the
// view of a capture [first, last] (v: --at, the port range and the pressure
// threshold), sweeping the overviews' spans once for both, and frees them. An error
// reading the spans back (or sorting them: a temporary file) leaves the peaks, the
// TIME_WAIT hosts and the port pressure out, and is returned with both.
func MergeOverviewAndView(ocs []*OverviewCollector, cs []*ViewCollector, v ViewOptions, first, last time.Time) (*Overview, view, error) {
	ocs = slices.DeleteFunc(slices.Clone(ocs), func(c *OverviewCollector) bool { return c == nil })
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *ViewCollector) bool { return c == nil })
	at := last
	if v.At != "" {
		at, _ = ParseAt(v.At, first) // checked by resolve
		for _, c := range cs {
			if c.atOK {
				at = c.atT // the moment the collectors counted at
			}
		}
	}
	states := map[netip.Addr]*stateCounts{}
	closers := map[netip.AddrPort]*[2]int32{}
	for _, c := range cs {
		for h, n := range c.states {
			m := states[h]
			if m == nil {
				m = new(stateCounts)
				states[h] = m
			}
			for j := range n {
				m[j] += n[j]
			}
		}
		for sv, n := range c.closers {
			m := closers[sv]
			if m == nil {
				m = new([2]int32)
				closers[sv] = m
			}
			m[0] += n[0]
			m[1] += n[1]
		}
	}
	sa := statesOf(states, at, false)
	out := view{At: sa.At, States: sa.States, Hosts: sa.Hosts}

	vm := &viewMerge{start: reassembly.InstantOf(first), end: reassembly.InstantOf(last), v: v, hosts: map[netip.Addr]analyzer.TimeWaitHost{}}
	var ov *Overview
	var err error
	if len(ocs) > 0 {
		ov, err = mergeOverview(ocs, vm)
	}
	if err != nil {
		vm.hosts, vm.pressure = nil, nil
	}
	for _, h := range analyzer.SortedHosts(vm.hosts) {
		out.TimeWait.Hosts = append(out.TimeWait.Hosts, vm.hosts[h])
	}
	for sv, n := range closers {
		out.TimeWait.Closers = append(out.TimeWait.Closers, analyzer.NewCloserShare(analyzer.EndpointString(sv), int(n[0]), int(n[1])))
	}
	out.TimeWait.PortPressure = vm.pressure
	analyzer.SortTimeWaitReport(&out.TimeWait)
	return ov, out, err
}

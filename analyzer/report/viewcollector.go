package report

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// ViewCollector measures what --states reports (the netstat view at one moment and
// the TIME_WAIT accounting: analyzer.States and analyzer.TimeWaitAccounting of every
// incarnation) from each incarnation as a streaming tracker hands it out, keeping
// no connection: the states counted per host, the closes per server endpoint, and
// the spans of TIME_WAIT per host and of client ports tied up per client → server
// pair, sorted on disk past a bound (as OverviewCollector's) and swept by MergeView.
// One per worker, merged; the view does not depend on how incarnations were shared
// out, and is the one the incarnations all held at once give, exactly.
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
	spanSorter
}

// NewViewCollector collects with TIME_WAIT length twLen, the states at the moment at
// gives (nil: at the end of the capture), its spans sorted within the bounds opt.
func NewViewCollector(twLen time.Duration, at func() (time.Time, bool), opt spill.Options) *ViewCollector {
	return &ViewCollector{twLen: twLen, at: at, states: map[netip.Addr]*stateCounts{},
		closers: map[netip.AddrPort]*[2]int32{}, spanSorter: newSpanSorter(opt)}
}

// Add counts one incarnation, finished.
func (c *ViewCollector) Add(inc *reassembly.Incarnation) {
	if !c.atOK && c.at != nil {
		c.atT, c.atOK = c.at()
	}
	when := c.atT
	if c.at == nil {
		// At the end of the capture: an incarnation handed out before it is left
		// in the state its last events put it in (PictureCollector.states).
		switch inc.End {
		case reassembly.EndCaptureEnd:
			when = inc.EndAt.Time()
		case reassembly.EndReplaced:
			when = time.Time{} // no socket once replaced
		default:
			when = farFuture
		}
	} else if !c.atOK {
		when = time.Time{}
	}
	if !when.IsZero() {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			countState(c.states, inc.Half[r].Endpoint.Addr(), analyzer.StateAt(inc, r, when, c.twLen))
		}
	}
	countCloser(c.closers, inc, analyzer.CloseShape(inc))
	c.addSpans(inc, analyzer.SpansOf(inc, c.twLen))
}

// viewSweep sweeps one group's spans: a host's TIME_WAIT (edges) or a pair's
// client ports (ports).
type viewSweep struct {
	edges analyzer.EdgeSweep
	ports analyzer.PeakSweep
	begun bool // edges was Reset for this group
}

// MergeView sums the collectors into the view of a capture [first, last] (v: --at,
// the port range and the pressure threshold), and frees their spans. An error
// reading the spans back (or sorting them: a temporary file) leaves the TIME_WAIT
// hosts and the port pressure out, and is returned with the view.
func MergeView(cs []*ViewCollector, v ViewOptions, first, last time.Time) (view, error) {
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
	sorters := make([]*spill.Sorter, len(cs))
	for i, c := range cs {
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
		sorters[i] = c.spans
	}
	sa := statesOf(states, at, false)
	out := view{At: sa.At, States: sa.States, Hosts: sa.Hosts}

	start, end := reassembly.InstantOf(first), reassembly.InstantOf(last)
	hosts := map[netip.Addr]analyzer.TimeWaitHost{}
	var pressure []analyzer.PortPressure
	err := mergeGroups(sorters, func(s *viewSweep, kind uint64, rec []byte, iv analyzer.Interval) {
		if kind == spanTimeWait {
			if !s.begun {
				s.edges.Reset(start, end, analyzer.ChartBuckets)
				s.begun = true
			}
			s.edges.Add(iv)
			return
		}
		if iv.To == openTied {
			iv.To = max(end, iv.From+1) // tied up until the end of the capture
		}
		s.ports.AddPort(binary.LittleEndian.Uint16(rec), iv)
	}, func(s *viewSweep, kind uint64, id []byte) {
		if kind == spanTimeWait {
			h := hostOf(id)
			hosts[h] = s.edges.Host(h.String())
			s.begun = false
			return
		}
		n, at := s.ports.Peak()
		s.ports.Reset()
		client, server := pairOf(id)
		pressure = append(pressure, analyzer.NewPortPressure(client.String(), analyzer.EndpointString(server), n, at, v.Ports, v.PortPressure))
	})
	if err != nil {
		hosts, pressure = nil, nil
	}
	for _, h := range analyzer.SortedHosts(hosts) {
		out.TimeWait.Hosts = append(out.TimeWait.Hosts, hosts[h])
	}
	for sv, n := range closers {
		out.TimeWait.Closers = append(out.TimeWait.Closers, analyzer.NewCloserShare(analyzer.EndpointString(sv), int(n[0]), int(n[1])))
	}
	out.TimeWait.PortPressure = pressure
	analyzer.SortTimeWaitReport(&out.TimeWait)
	return out, err
}

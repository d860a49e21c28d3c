package analyzer

import (
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// TimeWaitHost is one host's TIME_WAIT over the capture.
type TimeWaitHost struct {
	Host   string    `json:"host"`
	Peak   int       `json:"peak"`
	PeakAt time.Time `json:"peak_at"`
	AtEnd  int       `json:"at_end"`
	// Total: incarnations in which this host held TIME_WAIT.
	Total int `json:"total"`
	// Chart: the highest count in each of ChartBuckets equal slices of the capture.
	Chart []int `json:"chart"`
}

// CloserShare is, for one server endpoint, how many of its closes it initiated.
type CloserShare struct {
	Server string `json:"server"`
	Closes int    `json:"closes"`
	// ServerInitiated: closes whose active closer was the server (or both ends).
	ServerInitiated int     `json:"server_initiated"`
	Share           float64 `json:"share"`
}

// PortPressure is, for one client address and one server endpoint, the most client
// ports tied up at once (a connection open, or its 4-tuple in TIME_WAIT on either
// side) against the ephemeral port range.
type PortPressure struct {
	Client    string    `json:"client"`
	Server    string    `json:"server"`
	PeakPorts int       `json:"peak_ports"`
	PeakAt    time.Time `json:"peak_at"`
	RangeSize int       `json:"range"`
	Share     float64   `json:"share"`
	Flagged   bool      `json:"flagged"`
}

// TimeWaitReport is the TIME_WAIT accounting of a capture.
type TimeWaitReport struct {
	Hosts        []TimeWaitHost `json:"hosts"`
	Closers      []CloserShare  `json:"closers"`
	PortPressure []PortPressure `json:"port_pressure"`
}

// ChartBuckets is the width of the TIME_WAIT chart.
const ChartBuckets = 60

// PortRange is an ephemeral port range, inclusive.
type PortRange struct{ Lo, Hi uint16 }

// Size is the number of ports in the range.
func (p PortRange) Size() int { return int(p.Hi) - int(p.Lo) + 1 }

// LinuxPortRange returns Linux's default net.ipv4.ip_local_port_range.
func LinuxPortRange() PortRange { return PortRange{32768, 60999} }

// Interval is a span of capture time [From, To) on which something holds.
type Interval struct{ From, To reassembly.Instant }

// timeWaitIntervals returns, per holder role, when it was in TIME_WAIT: from the
// final ACK until the TIME_WAIT length ran out, an RST ended it, or a newer
// incarnation took the 4-tuple over.
func timeWaitIntervals(inc *reassembly.Incarnation, twLen time.Duration) (tw reassembly.TimeWait, iv Interval, ok bool) {
	tw = inc.TimeWait(twLen)
	if !tw.Held() {
		return tw, iv, false
	}
	iv = Interval{tw.Since, tw.Until}
	if inc.End == reassembly.EndReplaced && inc.EndAt < iv.To {
		iv.To = inc.EndAt
	}
	return tw, iv, iv.To > iv.From
}

// sweep finds the peak of overlapping intervals: the highest count, when it was
// first reached, and the count at end.
func sweep(ivs []Interval, end reassembly.Instant) (peak int, peakAt reassembly.Instant, atEnd int) {
	return EdgePeak(edgesOf(ivs), end)
}

// chart samples the overlap count of ivs over [start, end] in ChartBuckets equal
// slices: the highest count reached within each slice.
func chart(ivs []Interval, start, end reassembly.Instant) []int {
	return chartN(ivs, start, end, ChartBuckets)
}

// chartN is chart with n slices.
func chartN(ivs []Interval, start, end reassembly.Instant, n int) []int {
	return EdgeChart(edgesOf(ivs), start, end, n)
}

// TimeWaitAccounting measures TIME_WAIT per host over the capture [first, last], the
// share of closes each server endpoint initiates, and the client ports each client
// address ties up towards each server endpoint.
func TimeWaitAccounting(incs []*reassembly.Incarnation, first, last time.Time, twLen time.Duration, ports PortRange, threshold float64) TimeWaitReport {
	start, end := reassembly.InstantOf(first), reassembly.InstantOf(last)
	var rep TimeWaitReport
	perHost := map[netip.Addr][]Interval{}
	type closer struct{ closes, server int }
	closers := map[netip.AddrPort]*closer{}
	type pair struct {
		client netip.Addr
		server netip.AddrPort
	}
	tied := map[pair]map[uint16][]Interval{}

	for _, inc := range incs {
		tw, iv, held := timeWaitIntervals(inc, twLen)
		if held {
			for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
				if tw.Holder[r] {
					h := inc.Half[r].Endpoint.Addr()
					perHost[h] = append(perHost[h], iv)
				}
			}
		}
		switch CloseShape(inc) {
		case FourWay, ThreeWay, Simultaneous, HalfClose:
			sv := inc.Server()
			c := closers[sv]
			if c == nil {
				c = &closer{}
				closers[sv] = c
			}
			c.closes++
			if _, s := inc.ActiveClosers(); s {
				c.server++
			}
		}
		if !inc.RolesKnown {
			continue
		}
		// The client port is tied up from the first packet until the connection is
		// gone on both sides: its TIME_WAIT ends, or it closed or was reset without one.
		to := end
		if held {
			to = iv.To
		} else if closedAt, ok := closeEnd(inc); ok {
			to = closedAt
		}
		if inc.End == reassembly.EndReplaced && inc.EndAt < to {
			to = inc.EndAt
		}
		k := pair{inc.Client().Addr(), inc.Server()}
		if tied[k] == nil {
			tied[k] = map[uint16][]Interval{}
		}
		port := inc.Client().Port()
		tied[k][port] = append(tied[k][port], Interval{inc.First.At, max(to, inc.First.At+1)})
	}

	for _, h := range SortedHosts(perHost) {
		ivs := perHost[h]
		peak, at, atEnd := sweep(ivs, end)
		rep.Hosts = append(rep.Hosts, TimeWaitHost{
			Host: h.String(), Peak: peak, PeakAt: utc(at), AtEnd: atEnd, Total: len(ivs),
			Chart: chart(ivs, start, end),
		})
	}
	for sv, c := range closers {
		rep.Closers = append(rep.Closers, NewCloserShare(EndpointString(sv), c.closes, c.server))
	}
	for k, byPort := range tied {
		var ivs []Interval
		for _, list := range byPort {
			ivs = append(ivs, union(list)...)
		}
		peak, at, _ := sweep(ivs, end)
		rep.PortPressure = append(rep.PortPressure, NewPortPressure(k.client.String(), EndpointString(k.server), peak, at, ports, threshold))
	}
	SortTimeWaitReport(&rep)
	return rep
}

// closeEnd is when an incarnation without TIME_WAIT was gone on the wire: its RST,
// or the last packet of a close that completed.
func closeEnd(inc *reassembly.Incarnation) (reassembly.Instant, bool) {
	if at, ok := inc.EndingRst(); ok {
		return at, true
	}
	switch CloseShape(inc) {
	case FourWay, ThreeWay, Simultaneous, HalfClose:
		return inc.Last.At, true
	}
	return 0, false
}

// union merges overlapping intervals (one port's incarnations: a reuse overlaps the
// old TIME_WAIT it replaced), so a port counts once at a time.
func union(ivs []Interval) []Interval {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].From < ivs[j].From })
	out := ivs[:0:0]
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, iv.To)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

// Spans are an incarnation's spans as the TIME_WAIT accounting counts them: when
// its TIME_WAIT held (Held, From to To, held by the roles of TimeWait.Holder), and
// until when its client port was tied up (TiedTo; 0 when it never closed, tied
// until the end of the capture).
type Spans struct {
	TimeWait reassembly.TimeWait
	Held     bool
	From, To reassembly.Instant
	TiedTo   reassembly.Instant
}

// SpansOf measures inc's spans (as TimeWaitAccounting does) with TIME_WAIT length
// twLen.
func SpansOf(inc *reassembly.Incarnation, twLen time.Duration) Spans {
	tw, iv, held := timeWaitIntervals(inc, twLen)
	s := Spans{TimeWait: tw, Held: held, From: iv.From, To: iv.To}
	if held {
		s.TiedTo = iv.To
	} else if closedAt, ok := closeEnd(inc); ok {
		s.TiedTo = closedAt
		if inc.End == reassembly.EndReplaced && inc.EndAt < s.TiedTo {
			s.TiedTo = inc.EndAt
		}
	} else if inc.End == reassembly.EndReplaced {
		s.TiedTo = inc.EndAt
	}
	return s
}

// Peak is the highest number of the spans [from, to) overlapping, and when it was
// first reached; spans of one key (a port) are merged first, so a key counts once at
// a time.
func Peak(spans map[uint16][]Interval) (peak int, at reassembly.Instant) {
	var ivs []Interval
	for _, list := range spans {
		ivs = append(ivs, union(slices.Clone(list))...)
	}
	peak, at, _ = sweep(ivs, 0)
	return peak, at
}

// PeakOf is the highest number of the spans [from, to) overlapping and when it was
// first reached.
func PeakOf(spans []Interval) (peak int, at reassembly.Instant) {
	peak, at, _ = sweep(spans, 0)
	return peak, at
}

package analyzer

import (
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// Edge is a point of a count over time: Down spans end and Up spans start at At
// (an ending span frees its place before a starting one takes it). A count built
// from edges in At order, rather than from the spans themselves, is what a
// collector that forgets each connection keeps (report.PictureCollector).
type Edge struct {
	At       reassembly.Instant
	Up, Down int
}

// EdgesOf returns the edges of the spans ivs, in At order, one per instant.
func edgesOf(ivs []Interval) []Edge {
	m := make(map[reassembly.Instant]*Edge, 2*len(ivs))
	get := func(at reassembly.Instant) *Edge {
		e := m[at]
		if e == nil {
			e = &Edge{At: at}
			m[at] = e
		}
		return e
	}
	for _, iv := range ivs {
		get(iv.From).Up++
		get(iv.To).Down++
	}
	out := make([]Edge, 0, len(m))
	for _, e := range m {
		out = append(out, *e)
	}
	SortEdges(out)
	return out
}

// SortEdges puts edges in At order.
func SortEdges(es []Edge) { sort.Slice(es, func(i, j int) bool { return es[i].At < es[j].At }) }

// EdgePeak is the highest count of the edges es (in At order), when it was first
// reached, and the count at end.
func EdgePeak(es []Edge, end reassembly.Instant) (peak int, peakAt reassembly.Instant, atEnd int) {
	n := 0
	for _, e := range es {
		n += e.Up - e.Down
		if n > peak {
			peak, peakAt = n, e.At
		}
		if e.At <= end {
			atEnd = n
		}
	}
	return peak, peakAt, atEnd
}

// EdgeChart samples the count of the edges es (in At order) over [start, end] in n
// equal slices: the highest count reached within each slice.
func EdgeChart(es []Edge, start, end reassembly.Instant, n int) []int {
	buckets := int64(n)
	out := make([]int, n)
	span := int64(end.Sub(start)) + 1
	bucket := func(at reassembly.Instant) int {
		return int(min(max(int64(at.Sub(start))*buckets/span, 0), buckets-1))
	}
	count := 0
	for i, e := range es {
		count += e.Up - e.Down
		// count holds from e.At until the next edge: every slice in between sees it.
		next := end
		if i+1 < len(es) {
			next = es[i+1].At
		}
		if count == 0 || e.At > end || next < start {
			continue
		}
		for b := bucket(max(e.At, start)); b <= bucket(min(next, end)); b++ {
			out[b] = max(out[b], count)
		}
	}
	return out
}

// EdgeSteps is the count of the edges es (in At order) over [start, end] as steps:
// the count at start, then a step at every instant it changed, then the count at
// end; past maxSteps changes, the highest count in each of maxSteps equal slices.
func EdgeSteps(es []Edge, start, end reassembly.Instant, maxSteps int) []TimeWaitStep {
	n, i := 0, 0
	for ; i < len(es) && es[i].At <= start; i++ {
		n += es[i].Up - es[i].Down
	}
	out := []TimeWaitStep{{utc(start), n}}
	for ; i < len(es) && es[i].At <= end; i++ {
		n += es[i].Up - es[i].Down
		if n != out[len(out)-1].Count {
			out = append(out, TimeWaitStep{utc(es[i].At), n})
		}
	}
	if last := out[len(out)-1]; reassembly.InstantOf(last.At) != end {
		out = append(out, TimeWaitStep{utc(end), n})
	}
	if len(out) <= maxSteps+2 || maxSteps <= 0 {
		return out
	}
	// Too many changes to draw one by one: the peak per slice.
	span := end.Sub(start) + 1
	counts := EdgeChart(es, start, end, maxSteps)
	agg := make([]TimeWaitStep, len(counts))
	for b, c := range counts {
		agg[b] = TimeWaitStep{utc(start.Add(time.Duration(b) * span / time.Duration(maxSteps))), c}
	}
	return agg
}

// TimeWaitHostOf is one host's TIME_WAIT over [start, end] from the edges of its
// spans (in At order); total is how many spans there were.
func TimeWaitHostOf(host string, es []Edge, start, end reassembly.Instant, total int) TimeWaitHost {
	peak, at, atEnd := EdgePeak(es, end)
	return TimeWaitHost{Host: host, Peak: peak, PeakAt: utc(at), AtEnd: atEnd, Total: total,
		Chart: EdgeChart(es, start, end, ChartBuckets)}
}

// NewPortPressure is the port pressure of a client address towards a server
// endpoint, peak ports tied up at once first reached at at.
func NewPortPressure(client, server string, peak int, at reassembly.Instant, ports PortRange, threshold float64) PortPressure {
	share := float64(peak) / float64(ports.Size())
	return PortPressure{Client: client, Server: server, PeakPorts: peak, PeakAt: utc(at),
		RangeSize: ports.Size(), Share: round3(share), Flagged: share >= threshold}
}

// NewCloserShare is a server endpoint's share of the closes it initiated.
func NewCloserShare(server string, closes, serverInitiated int) CloserShare {
	return CloserShare{Server: server, Closes: closes, ServerInitiated: serverInitiated,
		Share: round3(float64(serverInitiated) / float64(closes))}
}

// SortTimeWaitReport puts the closers and the port pressure in report order.
func SortTimeWaitReport(rep *TimeWaitReport) {
	sort.Slice(rep.Closers, func(i, j int) bool {
		a, b := rep.Closers[i], rep.Closers[j]
		if a.Closes != b.Closes {
			return a.Closes > b.Closes
		}
		return a.Server < b.Server
	})
	sort.Slice(rep.PortPressure, func(i, j int) bool {
		a, b := rep.PortPressure[i], rep.PortPressure[j]
		if a.PeakPorts != b.PeakPorts {
			return a.PeakPorts > b.PeakPorts
		}
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		return a.Server < b.Server
	})
}

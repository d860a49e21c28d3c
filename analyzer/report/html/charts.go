package html

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

// charts draws the charts of a document: TIME_WAIT per host over time, closes per
// second by shape, findings over time, findings per server endpoint, port
// pressure per client address → server endpoint.
func charts(d *report.Document) []chart {
	s := d.Summary
	var out []chart
	if s.First == nil {
		return nil
	}
	first, last := *s.First, *s.Last
	span := last.Sub(first).Seconds()
	x1 := math.Max(span, 1e-6)
	xLabel := "seconds since the first packet (" + first.Format(time.RFC3339) + ")"
	if pc := d.Pictures; pc != nil {
		out = append(out, timeWaitChart(pc, first, x1, xLabel))
	}
	out = append(out, closesChart(d, first, span, xLabel), findingsChart(d, first, span, xLabel), endpointChart(d))
	if pc := d.Pictures; pc != nil && pc.TimeWait.PortPressure != nil {
		out = append(out, portChart(pc))
	}
	return out
}

func timeWaitChart(pc *report.Pictures, first time.Time, x1 float64, xLabel string) chart {
	hosts := append([]analyzer.TimeWaitHost(nil), pc.TimeWait.Hosts...)
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Peak > hosts[j].Peak })
	c := chart{ID: "chart-timewait", Title: "TIME_WAIT sockets per host over time"}
	// A live page's last sample may come after the last packet.
	for _, h := range hosts {
		if st := pc.Steps[h.Host]; len(st) > 0 {
			x1 = math.Max(x1, st[len(st)-1].At.Sub(first).Seconds())
		}
	}
	if len(hosts) > MaxHosts {
		c.Note = fmt.Sprintf("The %d hosts with the highest peaks; %d more held TIME_WAIT.", MaxHosts, len(hosts)-MaxHosts)
		hosts = hosts[:MaxHosts]
	}
	if len(hosts) == 0 {
		c.Note = "No host held TIME_WAIT in the capture."
	}
	var series []stepSeries
	for _, h := range hosts {
		st := pc.Steps[h.Host]
		ss := stepSeries{Name: fmt.Sprintf("%s (peak %d)", h.Host, h.Peak), Series: h.Host}
		for _, p := range st {
			x := p.At.Sub(first).Seconds()
			ss.X = append(ss.X, x)
			ss.Y = append(ss.Y, float64(p.Count))
			ss.Tips = append(ss.Tips, fmt.Sprintf("%s: %d in TIME_WAIT from +%ss (%s)", h.Host, p.Count, num(round3(x)), p.At.Format(time.RFC3339Nano)))
		}
		series = append(series, ss)
	}
	c.SVG = stepChart(c.ID+"-svg", c.Title, xLabel, "sockets in TIME_WAIT", 0, x1, series)
	return c
}

// timeSlices cuts [0, span] seconds into at most MaxTimeBuckets columns, about a
// second each for a short capture.
func timeSlices(span float64) (n int, width float64) {
	n = int(math.Min(MaxTimeBuckets, math.Max(1, math.Ceil(span))))
	width = span / float64(n)
	if width <= 0 {
		width = 1
	}
	return n, width
}

func bucketOf(x, width float64, n int) int {
	return min(max(int(x/width), 0), n-1)
}

func spanLabel(b int, width float64) string {
	return fmt.Sprintf("+%ss to +%ss", num(round3(float64(b)*width)), num(round3(float64(b+1)*width)))
}

func closesChart(d *report.Document, first time.Time, span float64, xLabel string) chart {
	n, width := timeSlices(span)
	counts := make([][]int, n)
	for i := range counts {
		counts[i] = make([]int, len(report.CloseShapes))
	}
	layer := map[analyzer.Shape]int{}
	for i, s := range report.CloseShapes {
		layer[s] = i
	}
	if pc := d.Pictures; pc != nil && pc.Closes != nil {
		for _, cc := range pc.Closes {
			b := counts[bucketOf(cc.At.Sub(first).Seconds(), width, n)]
			for li, k := range cc.Counts {
				b[li] += k
			}
		}
	} else {
		for i := range d.Connections {
			c := &d.Connections[i]
			li, ok := layer[c.Close]
			if !ok {
				continue
			}
			counts[bucketOf(c.End.Sub(first).Seconds(), width, n)][li]++
		}
	}
	c := chart{ID: "chart-closes", Title: "Closes per second by shape",
		Note: fmt.Sprintf("Each column is %ss; a close counts when its connection's last packet passed.", num(round3(width)))}
	names := make([]string, len(report.CloseShapes))
	for i, s := range report.CloseShapes {
		names[i] = string(s)
	}
	c.SVG = stackedBars(c.ID+"-svg", c.Title, xLabel, "closes per second", 0, math.Max(span, 1e-6), names, "per second", columns(counts, width, true))
	return c
}

// columns turns counts per column and layer into the columns of a stacked bar
// chart: counts, or counts per second.
func columns(counts [][]int, width float64, perSecond bool) []stackBucket {
	var out []stackBucket
	for b, cs := range counts {
		k := stackBucket{X0: float64(b) * width, X1: float64(b+1) * width, Label: spanLabel(b, width)}
		any := false
		for _, n := range cs {
			v := float64(n)
			if perSecond {
				v /= width
			}
			k.Values = append(k.Values, v)
			k.Counts = append(k.Counts, n)
			any = any || n > 0
		}
		if any {
			out = append(out, k)
		}
	}
	return out
}

func findingsChart(d *report.Document, first time.Time, span float64, xLabel string) chart {
	n, width := timeSlices(span)
	counts := make([][]int, n)
	for i := range counts {
		counts[i] = make([]int, len(analyzer.Kinds))
	}
	layer := map[analyzer.Kind]int{}
	for i, k := range analyzer.Kinds {
		layer[k] = i
	}
	fs := d.PageFindings()
	for i := range fs {
		f := &fs[i]
		counts[bucketOf(f.At.Time().Sub(first).Seconds(), width, n)][layer[f.Kind]]++
	}
	c := chart{ID: "chart-findings", Title: "Findings over time",
		Note: fmt.Sprintf("Each column is %ss.", num(round3(width)))}
	if len(fs) == 0 {
		c.Note = "No findings."
	}
	names := make([]string, len(analyzer.Kinds))
	for i, k := range analyzer.Kinds {
		names[i] = string(k)
	}
	c.SVG = stackedBars(c.ID+"-svg", c.Title, xLabel, "findings", 0, math.Max(span, 1e-6), names, "findings", columns(counts, width, false))
	return c
}

func endpointChart(d *report.Document) chart {
	type ep struct {
		server string
		counts map[analyzer.Kind]int
		total  int
	}
	byServer := map[netip.AddrPort]*ep{}
	present := map[analyzer.Kind]bool{}
	fs := d.PageFindings()
	for i := range fs {
		f := &fs[i]
		e := byServer[f.Server]
		if e == nil {
			e = &ep{server: analyzer.EndpointString(f.Server), counts: map[analyzer.Kind]int{}}
			byServer[f.Server] = e
		}
		e.counts[f.Kind]++
		e.total++
		present[f.Kind] = true
	}
	eps := make([]*ep, 0, len(byServer))
	for _, e := range byServer {
		eps = append(eps, e)
	}
	sort.Slice(eps, func(i, j int) bool {
		if eps[i].total != eps[j].total {
			return eps[i].total > eps[j].total
		}
		return eps[i].server < eps[j].server
	})
	c := chart{ID: "chart-endpoints", Title: "Findings per server endpoint"}
	if len(eps) > MaxBars {
		c.Note = fmt.Sprintf("The %d server endpoints with the most findings; %d more have findings.", MaxBars, len(eps)-MaxBars)
		eps = eps[:MaxBars]
	}
	if len(eps) == 0 {
		c.Note = "No findings."
	}
	var kinds []analyzer.Kind
	var layers []string
	for _, k := range analyzer.Kinds {
		if present[k] {
			kinds = append(kinds, k)
			layers = append(layers, string(k))
		}
	}
	var rows []hbar
	for _, e := range eps {
		r := hbar{Label: e.server, Tip: e.server + ": " + report.CountsText(kinds, e.counts)}
		for _, k := range kinds {
			r.Values = append(r.Values, e.counts[k])
		}
		rows = append(rows, r)
	}
	// Each kind in the colour the findings-over-time chart gives it.
	colourOf := func(li int) string { return colour(slices.Index(analyzer.Kinds, kinds[li])) }
	c.SVG = hbarsColoured(c.ID+"-svg", c.Title, "findings", layers, rows, colourOf)
	return c
}

func portChart(pc *report.Pictures) chart {
	pps := pc.TimeWait.PortPressure
	c := chart{ID: "chart-ports", Title: "Port pressure per client address → server endpoint",
		Note: "The most client ports tied up at once (a connection open, or its 4-tuple in TIME_WAIT on either side); in the alarm colour past --port-pressure."}
	if len(pps) > MaxBars {
		c.Note += fmt.Sprintf(" The %d pairs with the highest peaks; %d more.", MaxBars, len(pps)-MaxBars)
		pps = pps[:MaxBars]
	}
	var rows []hbar
	for _, pp := range pps {
		rows = append(rows, hbar{Label: pp.Client + " → " + pp.Server, Values: []int{pp.PeakPorts}, Flag: pp.Flagged,
			Tip: fmt.Sprintf("%s → %s: %d of %d ports (%.1f%%) at %s", pp.Client, pp.Server, pp.PeakPorts, pp.RangeSize, 100*pp.Share, pp.PeakAt.Format(time.RFC3339Nano))})
	}
	c.SVG = hbars(c.ID+"-svg", c.Title, "client ports tied up at the peak", []string{"ports"}, rows)
	return c
}

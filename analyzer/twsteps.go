package analyzer

import (
	"net/netip"
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// TimeWaitStep is the TIME_WAIT count of a host from At on: a point of the step
// function a chart of TIME_WAIT over time draws.
type TimeWaitStep struct {
	At    time.Time `json:"at"`
	Count int       `json:"count"`
}

// TimeWaitSteps returns, per host that held TIME_WAIT in [start, end], its TIME_WAIT
// count over that span as steps: the count at start, then a step at every instant
// the count changed, then the count at end. A host with more than maxSteps
// changes gets its span cut into maxSteps equal slices instead, each a step at the
// slice's start with the highest count reached in it (as the --states chart).
func TimeWaitSteps(incs []*reassembly.Incarnation, first, last time.Time, twLen time.Duration, maxSteps int) map[string][]TimeWaitStep {
	start, end := first.UnixNano(), last.UnixNano()
	perHost := map[netip.Addr][]interval{}
	for _, inc := range incs {
		tw, iv, held := timeWaitIntervals(inc, twLen)
		if !held {
			continue
		}
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			if tw.Holder[r] {
				h := inc.Half[r].Endpoint.Addr()
				perHost[h] = append(perHost[h], iv)
			}
		}
	}
	out := make(map[string][]TimeWaitStep, len(perHost))
	for h, ivs := range perHost {
		if s := steps(ivs, start, end, maxSteps); s != nil {
			out[h.String()] = s
		}
	}
	return out
}

// steps is TimeWaitSteps for one host's intervals.
func steps(ivs []interval, start, end int64, maxSteps int) []TimeWaitStep {
	type edge struct {
		at int64
		d  int
	}
	edges := make([]edge, 0, 2*len(ivs))
	for _, iv := range ivs {
		edges = append(edges, edge{iv.from, +1}, edge{iv.to, -1})
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].at < edges[j].at })
	// The count at start, then one step per distinct instant in (start, end].
	n, i := 0, 0
	for ; i < len(edges) && edges[i].at <= start; i++ {
		n += edges[i].d
	}
	out := []TimeWaitStep{{utc(start), n}}
	for i < len(edges) && edges[i].at <= end {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			n += edges[i].d
		}
		if n != out[len(out)-1].Count {
			out = append(out, TimeWaitStep{utc(at), n})
		}
	}
	if last := out[len(out)-1]; last.At.UnixNano() != end {
		out = append(out, TimeWaitStep{utc(end), n})
	}
	if len(out) <= maxSteps+2 || maxSteps <= 0 {
		return out
	}
	// Too many changes to draw one by one: the peak per slice.
	span := end - start + 1
	counts := chartN(ivs, start, end, maxSteps)
	agg := make([]TimeWaitStep, len(counts))
	for b, c := range counts {
		agg[b] = TimeWaitStep{utc(start + int64(b)*span/int64(maxSteps)), c}
	}
	return agg
}

package analyzer

import (
	"net/netip"
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
	start, end := reassembly.InstantOf(first), reassembly.InstantOf(last)
	perHost := map[netip.Addr][]Interval{}
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
func steps(ivs []Interval, start, end reassembly.Instant, maxSteps int) []TimeWaitStep {
	return EdgeSteps(edgesOf(ivs), start, end, maxSteps)
}

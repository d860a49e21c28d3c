package report

import (
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// Pictures is what the HTML report draws that the document's findings and
// connections do not hold: the TIME_WAIT accounting, each host's TIME_WAIT count
// over time, and the netstat view at the end of the capture (and at --at).
type Pictures struct {
	TimeWait analyzer.TimeWaitReport
	// Steps: per host, its TIME_WAIT count over the capture (analyzer.TimeWaitSteps).
	Steps  map[string][]analyzer.TimeWaitStep
	States []StatesAt
	// Closes: the closes per second by shape, when the document's connections do
	// not hold every close (a live capture counts them); nil: the connections say.
	Closes []CloseCounts
	// Ladders: the ladders to draw and what the charts read of the findings, when
	// the document holds neither connections nor findings (a report that streams
	// its records: LadderCollector); nil: the document's say.
	Ladders *Ladders
	// Incidents: how many incidents there are, when the document holds only
	// those the page's table lists (IncidentCollector.PageLimit); nil: the
	// document's are all.
	Incidents *IncidentCounts
	// PageIncidents: those the page's table lists, when the document's are the
	// text report's (IncidentCollector.Page); nil: the document's.
	PageIncidents []Incident
}

// CloseShapes are the shapes the closes chart counts, in its layers' order (a
// connection that never began its close is not one).
var CloseShapes = [...]analyzer.Shape{analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose, analyzer.Reset, analyzer.Unfinished}

// CloseCounts are the closes of a span of time that starts at At: Counts[i] of
// shape CloseShapes[i].
type CloseCounts struct {
	At     time.Time
	Counts [len(CloseShapes)]int
}

// StatesAt is the netstat view at one moment.
type StatesAt struct {
	At     time.Time
	Hosts  []string // in address order
	States map[string]map[string]int
	// Asked: the moment --at named (else the end of the capture).
	Asked bool
}

// MaxTimeWaitSteps bounds the steps of each host's TIME_WAIT series: past it the
// series is the peak per slice of the capture.
const MaxTimeWaitSteps = 600

// NewPictures measures what the HTML report draws from every incarnation of a
// capture [first, last].
func NewPictures(v ViewOptions, incs []*reassembly.Incarnation, first, last time.Time, twLen time.Duration) *Pictures {
	p := &Pictures{
		TimeWait: analyzer.TimeWaitAccounting(incs, first, last, twLen, v.Ports, v.PortPressure),
		Steps:    analyzer.TimeWaitSteps(incs, first, last, twLen, MaxTimeWaitSteps),
	}
	p.States = append(p.States, statesAt(incs, last, twLen, false))
	if v.At != "" {
		at, _ := ParseAt(v.At, first) // checked by resolve
		p.States = append(p.States, statesAt(incs, at, twLen, true))
	}
	return p
}

func statesAt(incs []*reassembly.Incarnation, at time.Time, twLen time.Duration, asked bool) StatesAt {
	states := analyzer.States(incs, at, twLen)
	out := StatesAt{At: at.UTC(), States: make(map[string]map[string]int), Asked: asked}
	for _, h := range analyzer.SortedHosts(states) {
		out.Hosts = append(out.Hosts, h.String())
		out.States[h.String()] = states[h]
	}
	return out
}

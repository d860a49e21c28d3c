package analyzer

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// Config tunes the analysis.
type Config struct {
	// TimeWait is the TIME_WAIT length used to compute time_wait_until.
	TimeWait time.Duration
}

type analysis struct {
	cfg      Config
	findings []Finding
	inc      *reassembly.Incarnation
}

// Analyze decides the close shape, TIME_WAIT and findings of every incarnation.
// Incarnations must have been finished (reassembly.Tracker.Finish).
func Analyze(incs []*reassembly.Incarnation, cfg Config) Report {
	st := NewStream(cfg, true)
	for _, inc := range incs {
		st.Add(inc)
	}
	return st.Report()
}

// Stream analyses incarnations one at a time, as a streaming tracker finishes them,
// and keeps the counts, the findings and (when asked) the connection records.
type Stream struct {
	a           analysis
	rep         Report
	connections bool
	recs        *Records // Spill: the records, encoded, in an external sort
}

// NewStream returns an empty Stream; connections says whether to keep a record per
// incarnation (file reports) or only the counts and findings (long live runs).
func NewStream(cfg Config, connections bool) *Stream {
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = reassembly.DefaultTimeWait
	}
	st := &Stream{a: analysis{cfg: cfg}, connections: connections,
		rep: Report{Closes: make(map[Shape]int), Counts: make(map[Kind]int)}}
	for _, s := range Shapes {
		st.rep.Closes[s] = 0
	}
	for _, k := range Kinds {
		st.rep.Counts[k] = 0
	}
	return st
}

// Add analyses one finished incarnation and returns its findings (also kept for the
// report).
func (st *Stream) Add(inc *reassembly.Incarnation) []Finding {
	a := &st.a
	if st.recs != nil {
		a.findings = a.findings[:0] // the last incarnation's went to st.recs
	}
	n := len(a.findings)
	a.inc = inc
	a.finUnanswered(inc)
	a.finRetransmit(inc)
	a.reuse(inc)
	a.reuseRefused(inc)
	a.afterClose(inc)
	c := a.connection(inc)
	st.rep.Closes[c.Close]++
	st.rep.Total++
	for _, f := range a.findings[n:] {
		st.rep.Counts[f.Kind]++
	}
	if st.recs != nil {
		// Encoded and sorted outside: a.findings is reused, no copy is made.
		st.recs.cur = c // not &c: c would go to the heap, every call
		st.recs.add(a.findings[n:])
		return a.findings[n:len(a.findings):len(a.findings)]
	}
	if st.connections {
		st.rep.Connections = append(st.rep.Connections, c)
	}
	return append([]Finding(nil), a.findings[n:]...)
}

// Report returns everything so far, connections in order of first frame and
// findings in order of time: the same input gives the same report whatever order the
// incarnations came in.
//
// A Stream that spills (Spill) returns its records in Records instead, sorted in the
// same order; its Report is for one call.
func (st *Stream) Report() Report {
	rep := st.rep
	if st.recs != nil {
		rep.Records = st.recs
		return rep
	}
	rep.Findings = st.a.findings
	sortReport(&rep)
	return rep
}

// sortReport puts connections in order of first frame and findings in order of time.
func sortReport(rep *Report) {
	sort.SliceStable(rep.Connections, func(i, j int) bool { return rep.Connections[i].FirstFrame < rep.Connections[j].FirstFrame })
	sort.SliceStable(rep.Findings, func(i, j int) bool {
		x, y := &rep.Findings[i], &rep.Findings[j]
		if x.at != y.at {
			return x.at < y.at
		}
		if x.Frames[0] != y.Frames[0] {
			return x.Frames[0] < y.Frames[0]
		}
		return x.Kind < y.Kind
	})
}

// Merge combines the Reports of Streams that analysed disjoint sets of incarnations
// (the 4-tuples of a capture shared out among trackers): counts added, records in
// the order one Stream would give. Streams that spill with one another (SpillWith)
// share their Records: the first one's stands for all, with the first error any of
// them met encoding.
func Merge(reps []Report) Report {
	if len(reps) == 1 {
		return reps[0]
	}
	out := Report{Closes: make(map[Shape]int), Counts: make(map[Kind]int)}
	for _, r := range reps {
		out.Total += r.Total
		for k, v := range r.Closes {
			out.Closes[k] += v
		}
		for k, v := range r.Counts {
			out.Counts[k] += v
		}
		out.Findings = append(out.Findings, r.Findings...)
		out.Connections = append(out.Connections, r.Connections...)
		if r.Records != nil {
			if out.Records == nil {
				out.Records = r.Records
			} else if out.Records.err == nil && r.Records.err != nil {
				out.Records.err = r.Records.err
			}
		}
	}
	sortReport(&out)
	return out
}

func (a *analysis) connection(inc *reassembly.Incarnation) Connection {
	c, s := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
	rec := Connection{
		Client: EndpointString(c.Endpoint), Server: EndpointString(s.Endpoint),
		RolesKnown: inc.RolesKnown, Incarnation: inc.Index,
		FirstFrame: inc.First.Frame, LastFrame: inc.Last.Frame,
		Start: utc(inc.First.At), End: utc(inc.Last.At), Packets: inc.Packets,
		Close: CloseShape(inc), ActiveCloser: activeCloser(inc),
		FINs:    Pair{Client: c.FinCount, Server: s.FinCount},
		RSTs:    Pair{Client: c.RstCount, Server: s.RstCount},
		Reused:  inc.Reuse != nil,
		History: inc.History.String(),
		FIN:     FinPair{Client: finAck(c), Server: finAck(s)},
	}
	if inc.Key.VLAN[0] != 0 {
		rec.VLAN = []uint16{inc.Key.VLAN[0]}
		if inc.Key.VLAN[1] != 0 {
			rec.VLAN = append(rec.VLAN, inc.Key.VLAN[1])
		}
	}
	tw := inc.TimeWait(int64(a.cfg.TimeWait))
	rec.TimeWaitHolder = pairName(tw.Holder[reassembly.Client], tw.Holder[reassembly.Server])
	if tw.Held() {
		rec.TimeWaitUntil = utc(tw.Until).Format(time.RFC3339Nano)
	}
	if _, r, ok := inc.FirstRst(); ok {
		rec.ResetBy = r.String()
	}
	switch inc.End {
	case reassembly.EndIdle:
		rec.Dropped = "idle"
	case reassembly.EndEvicted:
		rec.Dropped = "evicted"
	}
	if rec.Close == Unfinished && inc.End == reassembly.EndCaptureEnd {
		d := roundMS(inc.EndAt - inc.Last.At)
		rec.IdleBeforeEndMS = &d
	}
	return rec
}

func finAck(h *reassembly.Half) *FinAck {
	if !h.FinSeen() {
		return nil
	}
	first := h.FirstFin()
	fa := &FinAck{Frame: first.Frame}
	if h.FinAcked.Seen() {
		fa.AckedBy = h.FinAcked.Frame
		d := roundMS(h.FinAcked.At - first.At)
		fa.AckedAfterMS = &d
	}
	return fa
}

func (a *analysis) finding(k Kind, inc *reassembly.Incarnation, at int64) Finding {
	return Finding{
		Kind: k, Client: EndpointString(inc.Client()), Server: EndpointString(inc.Server()),
		Incarnation: inc.Index, Time: utc(at), at: at,
	}
}

func (a *analysis) add(f Finding) { a.findings = append(a.findings, f) }

// EndpointString renders ip:port, IPv6 as [addr]:port.
func EndpointString(ap netip.AddrPort) string { return ap.String() }

func utc(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// roundMS converts nanoseconds to milliseconds with microsecond precision.
func roundMS(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// ms renders a duration for messages: "1.234s", "201ms", "850µs".
func ms(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

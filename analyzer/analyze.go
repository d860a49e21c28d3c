package analyzer

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// Config tunes the analysis.
type Config struct {
	// TimeWait is the TIME_WAIT length used to compute time_wait_until.
	TimeWait time.Duration
	// Provisional: the capture goes on (a live capture's look at what is still
	// open): an incarnation that ends with the capture ends at the time of the look,
	// and the messages say so instead of "the capture ended".
	Provisional bool
}

type analysis struct {
	cfg      Config
	findings []Finding
	// tw: the TIME_WAIT of the incarnation being analysed. record: a record of it
	// is made (else only its close shape is counted).
	tw     reassembly.TimeWait
	record bool
	// names: the strings of the incarnation's record and findings (setNames), made
	// when the first of them needs them (named).
	names names
	named bool
	// scratch: where setNames puts them together, and sprintf a string: each copies
	// what it wrote to the arena, so that either may reuse it next.
	scratch []byte
	// msg: where a finding's message is put together (appendf).
	msg []byte
	// ar holds the strings, frame lists and optional numbers of the findings and
	// records (see arena).
	ar arena
}

// names are the strings of one incarnation's record, its findings' endpoints among
// them, rendered into a single string: one allocation per incarnation where each
// string had its own.
type names struct {
	history, timeWaitUntil string
	tunnel                 string   // capture.Tunnel's text; "": none
	vlan                   []uint16 // the client's tags, outer first; nil: untagged
	// serverVLAN: the server's tags when they differ from the client's (a mirror
	// port tagging one direction), [0] for none (VID 0: no VLAN); nil when the same.
	serverVLAN []uint16
}

// finAcks holds the FIN of each end of a record and the time to its ACK, in one
// piece of the arena.
type finAcks struct {
	fa [2]FinAck
	ms [2]float64
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
	sink        Sink       // SendTo: where each incarnation's record and findings go
	cur         Connection // the record handed to sink
	// closes and counts: what Add counts per shape (of Shapes) and kind (of Kinds),
	// until Report adds them to rep's maps: cheaper than hashing a string into a
	// map for every incarnation and finding.
	closes, counts []int
}

// NewStream returns an empty Stream; connections says whether to keep a record per
// incarnation (file reports) or only the counts and findings (long live runs).
func NewStream(cfg Config, connections bool) *Stream {
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = reassembly.DefaultTimeWait
	}
	st := &Stream{a: analysis{cfg: cfg, scratch: make([]byte, 0, 128)}, connections: connections,
		rep: Report{Closes: ShapeCounts[int](), Counts: KindCounts[int]()}}
	st.closes, st.counts = make([]int, len(Shapes)), make([]int, len(Kinds))
	return st
}

// Reserve makes room for n more connection records, when records are kept: for a
// caller about to add many at once (a live run's stop hands out every connection
// still tracked), whose records would otherwise be copied each time the list grows.
func (st *Stream) Reserve(n int) {
	if st.connections && st.sink == nil && n > 0 {
		st.rep.Connections = slices.Grow(st.rep.Connections, n)
	}
}

// Add analyses one finished incarnation and returns its findings (also kept for the
// report).
func (st *Stream) Add(inc *reassembly.Incarnation) []Finding {
	a := &st.a
	if st.sink != nil {
		// The last incarnation's findings and record went to st.sink.
		a.findings = a.findings[:0]
		a.ar.reset()
	}
	n := len(a.findings)
	mark := a.ar.mark()
	tw := inc.TimeWait(a.cfg.TimeWait)
	// A record only when one is kept: a text report without connections and a live
	// run count the shapes, and name the endpoints of the findings alone.
	a.tw, a.record, a.named = tw, st.connections, false
	a.finUnanswered(inc)
	a.finRetransmit(inc)
	a.reuse(inc)
	a.reuseRefused(inc)
	a.afterClose(inc, tw)
	a.injected(inc)
	var c Connection
	if a.record {
		c = a.connection(inc, tw)
	} else {
		c.Close = CloseShape(inc)
	}
	if i := slices.Index(Shapes, c.Close); i >= 0 {
		st.closes[i]++
	} else {
		st.rep.Closes[c.Close]++
	}
	st.rep.Total++
	for _, f := range a.findings[n:] {
		if i := slices.Index(Kinds, f.Kind); i >= 0 {
			st.counts[i]++
		} else {
			st.rep.Counts[f.Kind]++
		}
	}
	if st.sink != nil {
		// Kept outside: a.findings is reused, no copy is made.
		fs := a.findings[n:len(a.findings):len(a.findings)]
		if a.record {
			st.cur = c // not &c: c would go to the heap, every call
			st.sink.Add(&st.cur, fs)
		} else {
			st.sink.Add(nil, fs)
		}
		return fs
	}
	if st.connections {
		st.rep.Connections = append(st.rep.Connections, c)
	} else if len(a.findings) == n {
		// Nothing kept of this incarnation: its names go back to the arena (a
		// long live run would keep those of every connection).
		a.ar.release(mark)
	}
	return append([]Finding(nil), a.findings[n:]...)
}

// Report returns everything so far, connections in order of first frame and
// findings in order of time: the same input gives the same report whatever order the
// incarnations came in.
//
// A Stream that hands its records to a Sink (SendTo) returns the counts alone.
func (st *Stream) Report() Report {
	for i, n := range st.closes {
		st.rep.Closes[Shapes[i]] += n
		st.closes[i] = 0
	}
	for i, n := range st.counts {
		st.rep.Counts[Kinds[i]] += n
		st.counts[i] = 0
	}
	rep := st.rep
	if st.sink != nil {
		return rep
	}
	rep.Findings = st.a.findings
	sortReport(&rep)
	return rep
}

// sortReport puts connections in order of first frame and findings in report order
// (CompareFindings).
func sortReport(rep *Report) {
	sort.SliceStable(rep.Connections, func(i, j int) bool { return rep.Connections[i].FirstFrame < rep.Connections[j].FirstFrame })
	SortFindings(rep.Findings)
}

// SortFindings puts findings in report order (CompareFindings), keeping the order of
// equal ones.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool { return CompareFindings(&fs[i], &fs[j]) < 0 })
}

// Merge combines the Reports of Streams that analysed disjoint sets of incarnations
// (the 4-tuples of a capture shared out among trackers): counts added, records in
// the order one Stream would give, those of reps[0] first among equal keys (the sort
// is stable).
func Merge(reps []Report) Report {
	if len(reps) == 1 {
		return reps[0]
	}
	out := Report{Closes: ShapeCounts[int](), Counts: KindCounts[int]()}
	nf, nc := 0, 0
	for _, r := range reps {
		nf, nc = nf+len(r.Findings), nc+len(r.Connections)
	}
	// The lists grown once; the first's taken as it is when it has the room (the
	// reports are the caller's to give up).
	if nf > 0 {
		out.Findings = slices.Grow(reps[0].Findings, nf-len(reps[0].Findings))
	}
	if nc > 0 {
		out.Connections = slices.Grow(reps[0].Connections, nc-len(reps[0].Connections))
	}
	for i, r := range reps {
		out.Total += r.Total
		for k, v := range r.Closes {
			out.Closes[k] += v
		}
		for k, v := range r.Counts {
			out.Counts[k] += v
		}
		if i > 0 {
			out.Findings = append(out.Findings, r.Findings...)
			out.Connections = append(out.Connections, r.Connections...)
		}
	}
	sortReport(&out)
	return out
}

// setNames renders the strings of inc's findings and record (a.names), once an Add:
// the endpoints, and for a record the history and the end of TIME_WAIT (a.tw).
func (a *analysis) setNames(inc *reassembly.Incarnation) {
	if a.named {
		return
	}
	a.named = true
	b := a.scratch[:0]
	if a.record {
		b = append(b, inc.History.String()...) // on the stack: no allocation
	}
	history := len(b)
	if a.record && a.tw.Held() {
		b = appendRFC3339(b, a.tw.Until.Time().UTC())
	}
	until := len(b)
	b = inc.Key.Tunnel.AppendText(b)
	a.scratch = b
	s := a.ar.string(b)
	a.names = names{history: s[:history], timeWaitUntil: s[history:until], tunnel: s[until:]}
	cv := inc.Key.VLANOf(inc.Client())
	if cv[0] != 0 {
		a.names.vlan = a.ar.vlans.clone(cv[:tagCount(cv)])
	}
	if sv := inc.Key.VLANOf(inc.Server()); sv != cv {
		a.names.serverVLAN = a.ar.vlans.clone(sv[:max(tagCount(sv), 1)])
	}
}

// tagCount is how many tags a key's tags hold.
func tagCount(vl [2]uint16) int {
	switch {
	case vl[0] == 0:
		return 0
	case vl[1] == 0:
		return 1
	}
	return 2
}

// connection makes inc's record; tw is inc's TIME_WAIT.
func (a *analysis) connection(inc *reassembly.Incarnation, tw reassembly.TimeWait) Connection {
	a.setNames(inc)
	c, s := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
	rec := Connection{
		Client: inc.Client(), Server: inc.Server(),
		RolesKnown: inc.RolesKnown, Incarnation: inc.Index,
		FirstFrame: inc.First.Frame, LastFrame: inc.Last.Frame,
		Start: inc.First.At.Time().UTC(), End: inc.Last.At.Time().UTC(), Packets: inc.Packets,
		Close: CloseShape(inc), ActiveCloser: activeCloser(inc),
		FINs:    Pair{Client: c.FinCount, Server: s.FinCount},
		RSTs:    Pair{Client: c.RstCount, Server: s.RstCount},
		Reused:  inc.Reuse != nil,
		History: a.names.history,
	}
	if c.FinSeen() || s.FinSeen() {
		fins := a.ar.fins.one(finAcks{}) // reused with the arena by a Stream that spills
		rec.FIN = FinPair{Client: finAck(c, fins, reassembly.Client), Server: finAck(s, fins, reassembly.Server)}
	}
	rec.VLAN, rec.ServerVLAN, rec.Tunnel = a.names.vlan, a.names.serverVLAN, a.names.tunnel
	rec.TimeWaitHolder = pairName(tw.Holder[reassembly.Client], tw.Holder[reassembly.Server])
	rec.TimeWaitUntil = a.names.timeWaitUntil // "" unless tw.Held()
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
		rec.IdleBeforeEndMS = a.ar.ms(inc.EndAt.Sub(inc.Last.At))
	}
	return rec
}

// finAck fills in fins the FIN of h, the half of role r; nil if h sent none.
func finAck(h *reassembly.Half, fins *finAcks, r reassembly.Role) *FinAck {
	if !h.FinSeen() {
		return nil
	}
	first := h.FirstFin()
	fa := &fins.fa[r]
	*fa = FinAck{Frame: first.Frame}
	if h.FinAcked.Seen() {
		fa.AckedBy = h.FinAcked.Frame
		fins.ms[r] = roundMS(h.FinAcked.At.Sub(first.At))
		fa.AckedAfterMS = &fins.ms[r]
	}
	return fa
}

func (a *analysis) finding(k Kind, inc *reassembly.Incarnation, at reassembly.Instant) Finding {
	a.setNames(inc)
	return Finding{
		Kind: k, Client: inc.Client(), Server: inc.Server(), VLAN: a.names.vlan, ServerVLAN: a.names.serverVLAN, Tunnel: a.names.tunnel,
		Incarnation: inc.Index, Time: at.Time().UTC(),
	}
}

func (a *analysis) add(f Finding) { a.findings = append(a.findings, f) }

// sprintf is appendf to a string in the arena, written in a.scratch (not a.msg: a
// message may be being written there).
func (a *analysis) sprintf(format string, args ...arg) string {
	a.scratch = appendf(a.scratch[:0], format, args...)
	return a.ar.string(a.scratch)
}

// utc is the instant t as a time.Time in UTC, as the reports show times.
func utc(t reassembly.Instant) time.Time { return t.Time().UTC() }

// roundMS converts a duration to milliseconds with microsecond precision.
func roundMS(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

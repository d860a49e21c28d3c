package pipeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/metrics"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// Live capture (-i): the packets of an interface go through the streaming tracker,
// which hands each incarnation to the analyzer once nothing can change it and
// forgets it; findings are printed as they are seen, the report comes at the end.
// docs/live.md says what is printed when and what the report keeps.

// LiveOptions are the flags of live capture.
type LiveOptions struct {
	Iface       string
	List        bool
	Snaplen     int
	Count       uint64
	Duration    time.Duration
	BufferKiB   int
	NoPromisc   bool
	Write       string
	User        string
	Interval    time.Duration
	MaxFindings int
	MetricsAddr string
	// Tick is how often the run analyses the connections touched since the last
	// tick for provisional findings, flushes its output and refreshes the metrics
	// and the --html page (0: every 250 ms). Negative: after every read, for a
	// source that delivers packets faster than they were captured (a file
	// replayed), where the wall clock would tick seldom or never.
	Tick time.Duration
}

// Defaults of live capture.
const (
	DefaultMaxFindings = 10_000
	DefaultBufferKiB   = 32768
	// liveTick is LiveOptions.Tick unless set.
	liveTick = 250 * time.Millisecond
	// streamBatch: the analyzer Stream that decides finished incarnations keeps their
	// findings; it is replaced after this many, so memory stays flat.
	streamBatch = 4096
)

// LiveConfig is the command line of a live capture.
type LiveConfig struct {
	report.Options
	Live LiveOptions
}

// liveSource is where a live run reads from: a *pcap.Live (tests feed files).
type liveSource interface {
	Next(*capture.Segment) error
	Stats() capture.Stats
	KernelStats() (capture.KernelStats, error)
	Flush() error
	Close() error
	LinkName() string
	SnapLen() int
}

// provEntry is a finding printed as provisional for an incarnation still tracked.
type provEntry struct {
	f analyzer.Finding
}

// LiveRun is the state of one live capture. Everything runs in one goroutine (the
// tracker and the analyzer are not safe for concurrent use); the metrics server reads
// a snapshot under its own lock.
type LiveRun struct {
	o       LiveConfig
	src     liveSource
	every   time.Duration // tick period (LiveOptions.Tick; 0: a tick per read)
	out     *bufio.Writer
	stderr  io.Writer
	metrics *metrics.Metrics
	cfg     analyzer.Config
	tr      *reassembly.Tracker
	twLen   time.Duration

	stream    *analyzer.Stream // decides finished incarnations; replaced every streamBatch
	streamN   int
	endStream *analyzer.Stream // at the stop: also keeps the connection records
	stopping  bool

	start       time.Time
	connections uint64
	closes      map[analyzer.Shape]int
	counts      map[analyzer.Kind]int
	totals      map[analyzer.Kind]gate.KindTotal
	provCounts  map[analyzer.Kind]uint64
	withdrawn   map[analyzer.Kind]uint64

	kept     []analyzer.Finding // ring of the latest maxFindings final findings
	keptNext int
	omitted  uint64

	prov       map[reassembly.IncarnationID][]provEntry
	doneTick   map[reassembly.IncarnationID]struct{} // finished since the last tick
	touched    []*reassembly.Incarnation
	stopFinals []analyzer.Finding // NDJSON: findings decided at the stop
	printed    bool               // text: a finding was printed during the run

	lastSegAt   reassembly.Instant // capture time of the last segment
	lastSegWall time.Time          // when it was read
	kstats      capture.KernelStats
	warnedDrops bool
	warnedCold  bool // the tracker's temporary files failed (coldWarning), said once
	// saveErr and writeErr: the first error writing the packets (-w) and the output
	// during the run.
	saveErr, writeErr error
	local             map[netip.Addr]bool
	localAt           time.Time
	hosts             hostStates
	// states: the socket states of the packed incarnations, kept from walk to walk
	// (eachState) for the metrics and the live page alike.
	states reassembly.Memo

	// --html: what the page draws (livepage.go); Version names the build on it.
	page       livePage
	warnedPage bool
	Version    string

	// --interval
	lastLine    time.Time
	linePackets uint64
	lineConns   uint64
}

func NewLiveRun(o LiveConfig, src liveSource, stdout, stderr io.Writer, m *metrics.Metrics) *LiveRun {
	r := &LiveRun{
		o: o, src: src, every: tickOf(o.Live), out: bufio.NewWriterSize(stdout, 64<<10), stderr: stderr, metrics: m,
		cfg:        analyzer.Config{TimeWait: o.TimeWait},
		twLen:      o.TimeWait,
		closes:     analyzer.ShapeCounts[int](),
		counts:     analyzer.KindCounts[int](),
		totals:     analyzer.KindCounts[gate.KindTotal](),
		provCounts: map[analyzer.Kind]uint64{},
		withdrawn:  map[analyzer.Kind]uint64{},
		prov:       map[reassembly.IncarnationID][]provEntry{},
		doneTick:   map[reassembly.IncarnationID]struct{}{},
		start:      time.Now(),
	}
	r.stream = analyzer.NewStream(r.cfg, false)
	r.endStream = analyzer.NewStream(r.cfg, true)
	r.tr = reassembly.NewTracker(reassembly.Config{
		TimeWait: o.TimeWait, RFC1337: !o.View.Profile.RSTEndsTimeWait, SynGiveUp: o.View.Profile.SynGiveUp,
		Done: r.done, IdleTimeout: o.IdleTimeout, MaxConnections: o.MaxConns, Touched: true,
		// done copies what it reports (counts, findings, records): the tracker may
		// reuse each incarnation once done returns.
		DoneKeepsNothing: true,
	})
	r.lastLine = r.start
	if w := capture.LinkTypeWarning(src.Stats()); w != "" {
		// A link type finack does not decode: said once, now, rather than after a
		// run that can only end with 0 connections (the report says it again).
		fmt.Fprintf(stderr, "finack: WARNING: %s\n", w)
	}
	return r
}

// tickOf is the tick period of o (LiveOptions.Tick): 0 for a tick per read.
func tickOf(o LiveOptions) time.Duration {
	switch {
	case o.Tick == 0:
		return liveTick
	case o.Tick < 0:
		return 0
	}
	return o.Tick
}

// Loop reads until a stop: a signal (stop), -c, --duration, or a capture error
// (returned). stoppedBy says which.
func (r *LiveRun) Loop(stop *atomic.Bool) (stoppedBy string, err error) {
	var seg capture.Segment
	now := time.Now()
	nextTick := now.Add(r.every)
	var deadline time.Time
	if r.o.Live.Duration > 0 {
		deadline = r.start.Add(r.o.Live.Duration)
	}
	for {
		err := r.src.Next(&seg)
		switch {
		case err == nil:
			r.tr.Add(&seg)
			r.lastSegAt = reassembly.InstantOf(seg.Time)
		case err == io.EOF: // -c reached
			return "count", nil
		case err != capture.ErrWait:
			return "error", err
		}
		if stop.Load() {
			r.drain(&seg)
			return "signal", nil
		}
		now = time.Now()
		if err == nil {
			r.lastSegWall = now
		}
		if !deadline.IsZero() && !now.Before(deadline) {
			r.drain(&seg)
			return "duration", nil
		}
		if now.Before(nextTick) {
			continue
		}
		nextTick = now.Add(r.every)
		r.tick(now)
	}
}

// drain reads, at the stop (a signal, --duration), the packets the kernel still
// holds: libpcap hands them over a block at a time, within its read timeout, so the
// last moments before the stop may not have been delivered yet. It stops at the
// first read that brings none (ErrWait: the timeout passed with nothing more), or
// after drainFor on a busy interface. Every packet it reads is analysed (and saved
// by -w, as Next saves each): the report and the -w file end at the same packet.
func (r *LiveRun) drain(seg *capture.Segment) {
	started := time.Now()
	for time.Since(started) < drainFor {
		if r.src.Next(seg) != nil {
			return
		}
		r.tr.Add(seg)
		r.lastSegAt, r.lastSegWall = reassembly.InstantOf(seg.Time), time.Now()
	}
}

// drainFor bounds drain: twice the read timeout, time enough for libpcap to hand
// over the last block.
const drainFor = 2 * capture.DefaultReadTimeout

// clock is the capture time at wall time now: the last segment's timestamp advanced
// by the wall time since it was read (the wall clock itself before any segment). On
// a live interface it is the wall clock give or take the delivery delay; it keeps
// every timer of the analysis on capture time, as for files.
func (r *LiveRun) clock(now time.Time) reassembly.Instant {
	if r.lastSegAt == 0 {
		return reassembly.InstantOf(now)
	}
	return r.lastSegAt.Add(max(now.Sub(r.lastSegWall), 0))
}

// tick runs every liveTick: provisional findings, sweeping while packets do not come,
// libpcap statistics, metrics, the running summary, flushing.
func (r *LiveRun) tick(now time.Time) {
	at := r.clock(now)
	r.provisional(at)
	if now.Sub(r.lastSegWall) > time.Second {
		// Packets stopped coming (the tracker sweeps by itself while they come):
		// finish what is over. One second back, so that a packet read late with an
		// earlier timestamp does not meet a 4-tuple finished after it.
		r.tr.Sweep(max(r.lastSegAt, at.Add(-time.Second)))
	}
	if ks, err := r.src.KernelStats(); err == nil {
		r.kstats = ks
	}
	if err := r.tr.Stats().ColdError; err != nil && !r.warnedCold {
		r.warnedCold = true
		fmt.Fprintf(r.stderr, "finack: WARNING: %s\n", coldWarning(err))
	}
	if d := r.kstats.Dropped + r.kstats.IfDropped; d > 0 && !r.warnedDrops {
		r.warnedDrops = true
		fmt.Fprintf(r.stderr, "finack: WARNING: packets dropped so far: %d by the kernel (capture buffer full: raise -B), %d by the interface; findings may be artifacts of the drops\n",
			r.kstats.Dropped, r.kstats.IfDropped)
	}
	if r.metrics != nil {
		if r.metrics.HostsWanted() { // a scrape waits for them
			r.refreshLocal(now)
			r.hosts.compute(r.tr, &r.states, r.local, now, at.Time(), r.twLen)
			r.metrics.UpdateHosts(r.hosts.Snapshot(now))
		}
		r.metrics.Update(r.Snapshot(now))
	}
	if iv := r.o.Live.Interval; iv > 0 && now.Sub(r.lastLine) >= iv {
		r.intervalLine(now)
	}
	if r.o.HTML != "" && now.Sub(r.page.last) >= r.pageInterval() {
		r.refreshPage(now)
	}
	if err := r.src.Flush(); err != nil && r.saveErr == nil {
		r.saveErr = err // told with the report (Finish)
	}
	r.outErr(r.out.Flush())
}

// outErr keeps the first error writing the output during the run, told with the
// report (Finish).
func (r *LiveRun) outErr(err error) {
	if err != nil && r.writeErr == nil {
		r.writeErr = err
	}
}

// provisional analyses the incarnations that got packets since the last tick as if
// the capture ended now, and prints each finding not printed before for that
// incarnation (same kind, same sender).
func (r *LiveRun) provisional(now reassembly.Instant) {
	r.touched = r.tr.TakeTouched(r.touched[:0])
	if len(r.touched) > 0 {
		pcfg := r.cfg
		pcfg.Provisional = true // "when the provisional report was made", not "the capture ended"
		scratch := analyzer.NewStream(pcfg, false)
		for _, inc := range r.touched {
			if _, finished := r.doneTick[inc.ID()]; finished {
				continue // decided already: its final findings were printed
			}
			endAt := inc.EndAt
			if inc.End == reassembly.EndCaptureEnd {
				inc.EndAt = max(now, inc.Last.At)
			}
			fs := scratch.Add(inc)
			inc.EndAt = endAt
			for _, f := range fs {
				ps := r.prov[inc.ID()]
				if j := findProv(ps, f); j >= 0 {
					// Printed before: print it again when its outcome or verdict
					// changed (an unresolved FIN acknowledged since: recovered), not
					// at every further transmission.
					if ps[j].f.Outcome != f.Outcome || ps[j].f.Verdict != f.Verdict {
						ps[j].f = f
						r.emit("updated", &f)
					}
					continue
				}
				r.prov[inc.ID()] = append(ps, provEntry{f})
				r.provCounts[f.Kind]++
				r.emit("provisional", &f)
			}
		}
	}
	clear(r.touched)
	clear(r.doneTick)
}

func findProv(ps []provEntry, f analyzer.Finding) int {
	for i := range ps {
		if ps[i].f.Kind == f.Kind && ps[i].f.Sender == f.Sender {
			return i
		}
	}
	return -1
}

// SameOutcome reports whether a final finding says what its provisional one said.
func SameOutcome(a, b *analyzer.Finding) bool {
	cnt := func(p *uint64) uint64 {
		if p == nil {
			return 0
		}
		return *p
	}
	return a.Outcome == b.Outcome && a.Verdict == b.Verdict && a.Cause == b.Cause &&
		cnt(a.Count) == cnt(b.Count) && len(a.Frames) == len(b.Frames) && a.AckAfterTap == b.AckAfterTap &&
		a.TimeWaitHolder == b.TimeWaitHolder
}

// done receives each incarnation the tracker finished: its findings are final.
func (r *LiveRun) done(inc *reassembly.Incarnation) {
	var fs []analyzer.Finding
	switch {
	case r.stopping:
		fs = r.endStream.Add(inc)
	case r.o.Output == "ndjson" && r.o.Connections:
		// --connections: each connection's record as it is decided.
		one := analyzer.NewStream(r.cfg, true)
		fs = one.Add(inc)
		c := one.Report().Connections[0]
		r.encode(struct {
			Type string `json:"type"`
			*analyzer.Connection
		}{"connection", &c})
		r.doneTick[inc.ID()] = struct{}{}
	default:
		fs = r.stream.Add(inc)
		if r.streamN++; r.streamN >= streamBatch {
			r.stream, r.streamN = analyzer.NewStream(r.cfg, false), 0
		}
		r.doneTick[inc.ID()] = struct{}{}
	}
	r.connections++
	r.closes[analyzer.CloseShape(inc)]++
	if r.o.HTML != "" {
		r.page.countClose(inc.Last.At, analyzer.CloseShape(inc))
	}
	ps := r.prov[inc.ID()]
	delete(r.prov, inc.ID())
	matched := make([]bool, len(ps))
	for i := range fs {
		f := &fs[i]
		r.counts[f.Kind]++
		t := r.totals[f.Kind]
		t.Add(f)
		r.totals[f.Kind] = t
		r.keep(*f)
		j := findProv(ps, *f)
		if j >= 0 {
			matched[j] = true
		}
		switch {
		case r.stopping && r.o.Output == "ndjson":
			r.stopFinals = append(r.stopFinals, *f)
		case r.stopping:
			// the report that follows lists it
		case r.o.Output == "ndjson":
			r.emit("final", f)
		case j < 0 || !SameOutcome(&ps[j].f, f):
			r.emit("final", f)
		}
	}
	if r.o.Output == "ndjson" && !r.stopping {
		r.emitIncidents(fs)
	}
	for j := range ps {
		if matched[j] {
			continue
		}
		r.withdrawn[ps[j].f.Kind]++
		if !r.stopping || r.o.Output == "ndjson" {
			r.emit("withdrawn", &ps[j].f)
		}
	}
}

// keep adds a final finding to the ring the report lists.
func (r *LiveRun) keep(f analyzer.Finding) {
	max := r.o.Live.MaxFindings
	if max == 0 {
		r.omitted++
		return
	}
	if len(r.kept) < max {
		r.kept = append(r.kept, f)
		return
	}
	r.kept[r.keptNext] = f
	r.keptNext = (r.keptNext + 1) % max
	r.omitted++
}

// liveFinding is a finding as the live NDJSON stream writes it.
type liveFinding struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	*analyzer.Finding
}

// emit prints one finding as it is seen: status provisional (its incarnation is still
// tracked, the outcome may change), updated (a provisional finding whose outcome
// changed while its incarnation is still tracked), final (decided), or withdrawn (a
// provisional finding the final analysis did not confirm). Nothing with -o json.
func (r *LiveRun) emit(status string, f *analyzer.Finding) {
	switch r.o.Output {
	case "ndjson":
		r.encode(liveFinding{"finding", status, f})
	case "text":
		r.printed = true
		msg := f.Message
		if status == "withdrawn" {
			msg = "not confirmed when the connection was decided (was: " + msg + ")"
		}
		fmt.Fprintf(r.out, "%s %-11s %-17s  %s → %s #%d%s  frames %s\n    %s\n",
			f.Time.UTC().Format("15:04:05.000"), status, f.Kind, analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, analyzer.PlaceText(f.VLAN, f.Tunnel), report.FramesText(f.Frames), msg)
	}
}

// emitIncidents writes the NDJSON incident records of final findings (-o json's
// incidents, "type":"incident"): those of one connection as it is decided, or of
// the connections decided at the stop.
func (r *LiveRun) emitIncidents(fs []analyzer.Finding) {
	for _, in := range report.Incidents(fs, r.o.IgnoreVLAN) {
		r.encode(struct {
			Type string `json:"type"`
			*report.Incident
		}{"incident", &in})
	}
}

// encode writes one NDJSON record.
func (r *LiveRun) encode(v any) {
	enc := report.NewJSONEncoder(r.out)
	r.outErr(enc.Encode(v))
}

// intervalLine prints the running summary (--interval) to stderr.
func (r *LiveRun) intervalLine(now time.Time) {
	st := r.src.Stats()
	ts := r.tr.Stats()
	secs := now.Sub(r.lastLine).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "finack: %s +%s packets %d (%.0f/s), kernel dropped %d, interface dropped %d, tracked %d (peak %d), connections %d (%.0f/s), evicted %d, idle %d",
		now.UTC().Format("15:04:05"), now.Sub(r.start).Round(time.Second), st.Packets, float64(st.Packets-r.linePackets)/secs,
		r.kstats.Dropped, r.kstats.IfDropped, ts.Tracked, ts.PeakHeld, r.connections, float64(r.connections-r.lineConns)/secs,
		ts.Evicted, ts.Idle)
	fmt.Fprintf(&b, ", findings %s", report.CountsText(analyzer.Kinds, r.counts))
	// Provisional findings of the connections still open: printed, not yet decided.
	open := map[analyzer.Kind]int{}
	for _, ps := range r.prov {
		for i := range ps {
			open[ps[i].f.Kind]++
		}
	}
	fmt.Fprintf(&b, ", provisional %s", report.CountsText(analyzer.Kinds, open))
	fmt.Fprintln(r.stderr, b.String())
	r.lastLine, r.linePackets, r.lineConns = now, st.Packets, r.connections
}

// refreshLocal re-reads this host's addresses (every minute): TIME_WAIT is counted
// per local address.
func (r *LiveRun) refreshLocal(now time.Time) {
	if r.local != nil && now.Sub(r.localAt) < time.Minute {
		return
	}
	r.localAt = now
	m := map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				m[p.Addr().Unmap()] = true
			}
		}
	}
	r.local = m
}

// hostStates is the netstat view of the tracked incarnations at one moment: the
// sockets of each local address seen in the traffic per state, and the TIME_WAIT
// entries of every other address together.
type hostStates struct {
	at       time.Time
	local    map[netip.Addr]*[len(analyzer.StateNames)]int
	remoteTW int
	seen     map[netip.Addr]bool // local addresses the traffic has shown
}

// eachState calls fn with the address and state (its index in analyzer.StateNames)
// of each end of every incarnation tr holds that has a socket at capture time at.
// The states of a packed incarnation are remembered in memo until they may change
// (analyzer.StateUntil): most of those a live run holds are in TIME_WAIT for a
// minute, walked at every scrape, and unpacking each one every time is what this
// saves.
func eachState(tr *reassembly.Tracker, memo *reassembly.Memo, at reassembly.Instant, twLen time.Duration, fn func(addr netip.Addr, st int)) {
	when := at.Time()
	eval := func(inc *reassembly.Incarnation) (uint32, reassembly.Instant) {
		var v uint32
		for i, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			v |= uint32(stateNumber(analyzer.StateAt(inc, r, when, twLen))) << (4 * i)
		}
		if lo, _ := inc.Key.Endpoints(); inc.Half[reassembly.Client].Endpoint != lo {
			v |= clientIsHi
		}
		return v, analyzer.StateUntil(inc, at, twLen)
	}
	tr.EachMemo(memo, at, eval, func(k *reassembly.FlowKey, v uint32) {
		lo, hi := k.Endpoints()
		client, server := lo, hi
		if v&clientIsHi != 0 {
			client, server = hi, lo
		}
		if st := int(v & 15); st != 0 {
			fn(client.Addr(), st-1)
		}
		if st := int(v >> 4 & 15); st != 0 {
			fn(server.Addr(), st-1)
		}
	})
}

// clientIsHi marks, in eachState's values, an incarnation whose client is the
// higher endpoint of its key.
const clientIsHi = 1 << 8

// stateNumber is 1 + the index of st in analyzer.StateNames, 0 for "" (no socket).
func stateNumber(st string) int {
	for i, s := range analyzer.StateNames {
		if s == st {
			return i + 1
		}
	}
	return 0
}

func (h *hostStates) compute(tr *reassembly.Tracker, memo *reassembly.Memo, local map[netip.Addr]bool, now, at time.Time, twLen time.Duration) {
	h.at = now
	h.local = map[netip.Addr]*[len(analyzer.StateNames)]int{}
	h.remoteTW = 0
	eachState(tr, memo, reassembly.InstantOf(at), twLen, func(addr netip.Addr, st int) {
		if !local[addr] {
			if analyzer.StateNames[st] == analyzer.StateTimeWait {
				h.remoteTW++
			}
			return
		}
		c := h.local[addr]
		if c == nil {
			c = new([len(analyzer.StateNames)]int)
			h.local[addr] = c
		}
		c[st]++
	})
	// A local address gets series once the traffic has shown it, and keeps them
	// (zeros) when its sockets are gone; the addresses the traffic never showed
	// (loopback, link-local, other interfaces) get none.
	if h.seen == nil {
		h.seen = map[netip.Addr]bool{}
	}
	for a := range h.local {
		h.seen[a] = true
	}
	for a := range h.seen {
		if h.local[a] == nil && local[a] {
			h.local[a] = new([len(analyzer.StateNames)]int)
		}
	}
}

// snapshot copies the states for the metrics.
func (h *hostStates) Snapshot(now time.Time) metrics.Hosts {
	s := metrics.Hosts{At: now, RemoteTW: h.remoteTW, Local: make(map[netip.Addr][len(analyzer.StateNames)]int, len(h.local))}
	for a, c := range h.local {
		s.Local[a] = *c
	}
	return s
}

// Snapshot is what the metrics show now.
func (r *LiveRun) Snapshot(now time.Time) metrics.Snapshot {
	s := metrics.Snapshot{
		Capture: r.src.Stats(), Kernel: r.kstats, Tracker: r.tr.Stats(),
		Connections: r.connections, LastPacket: r.lastSegAt,
		Closes: map[analyzer.Shape]uint64{}, Findings: map[analyzer.Kind]uint64{},
		Provisional: map[analyzer.Kind]uint64{}, Withdrawn: map[analyzer.Kind]uint64{},
	}
	for k, n := range r.closes {
		s.Closes[k] = uint64(n)
	}
	for _, k := range analyzer.Kinds {
		s.Findings[k] = uint64(r.counts[k])
		s.Provisional[k] = r.provCounts[k]
		s.Withdrawn[k] = r.withdrawn[k]
	}
	return s
}

// LiveSummary is what a live report adds to the summary (summary.live).
type LiveSummary struct {
	Interface string  `json:"interface"`
	LinkType  string  `json:"link_type"`
	SnapLen   int     `json:"snapshot_length"`
	Started   string  `json:"started"`
	Stopped   string  `json:"stopped"`
	Seconds   float64 `json:"seconds"`
	StoppedBy string  `json:"stopped_by"`
	// Kernel: libpcap's counts (pcap_stats).
	Received  uint64 `json:"received"`
	Dropped   uint64 `json:"dropped"`
	IfDropped uint64 `json:"interface_dropped"`
	// Warning is set when packets were dropped.
	Warning string `json:"warning,omitempty"`
	// The streaming tracker.
	IdleTimeoutSeconds float64 `json:"idle_timeout_s"`
	MaxConnections     int     `json:"max_connections"`
	HeldAtEnd          int     `json:"held_at_end"`
	PeakHeld           int     `json:"peak_held"`
	Expired            uint64  `json:"expired"`
	Idle               uint64  `json:"idle"`
	Evicted            uint64  `json:"evicted"`
	// Findings: those listed (the latest max_findings), those left out, and the
	// provisional findings withdrawn.
	FindingsListed  int    `json:"findings_listed"`
	FindingsOmitted uint64 `json:"findings_omitted"`
	Provisional     uint64 `json:"provisional_findings"`
	Withdrawn       uint64 `json:"withdrawn_findings"`
	Saved           string `json:"saved_to,omitempty"`
}

// Finish stops the capture, decides every incarnation still tracked, writes the
// report and returns the exit code.
func (r *LiveRun) Finish(stoppedBy string, readErr error) int {
	now := time.Now()
	at := r.clock(now)
	// Findings of incarnations touched since the last tick still show as provisional
	// first, so that every final one has its chance to be printed early.
	r.provisional(at)
	closeErr := r.src.Close() // takes libpcap's final counts before closing
	if r.saveErr != nil {
		closeErr = r.saveErr // the first failure of -w, whose file is incomplete from there
	}
	if ks, err := r.src.KernelStats(); err == nil {
		r.kstats = ks
	}
	st := r.src.Stats()
	ts := r.tr.Stats()
	r.stopping = true
	r.endStream.Reserve(ts.Tracked) // (every one is handed out to it now)
	if r.o.HTML != "" {
		// The netstat view of what is tracked at the stop, before deciding it.
		r.page.sample(r.tr, &r.states, at, r.twLen)
	}
	r.tr.Finish(max(at, r.lastSegAt))
	if err := r.tr.Err(); err != nil && readErr == nil {
		// The tracker stopped (its temporary files could not be read back): the
		// report says so as it would of a capture error.
		readErr = err
	}

	// The report: counts over the whole run, the findings kept, the connections that
	// were still tracked at the stop.
	endRep := r.endStream.Report()
	findings := r.keptFindings()
	rep := analyzer.Report{Findings: findings, Connections: endRep.Connections, Total: int(r.connections),
		Closes: r.closes, Counts: r.counts}
	o := r.o.Options
	o.Files = []string{}
	doc := report.NewDocument(o, st, rep, readErr)
	doc.Summary.Connections = int(r.connections)
	var prov, wd uint64
	for _, k := range analyzer.Kinds {
		prov += r.provCounts[k]
		wd += r.withdrawn[k]
	}
	ls := &LiveSummary{
		Interface: r.o.Live.Iface, LinkType: r.src.LinkName(), SnapLen: r.src.SnapLen(),
		Started: r.start.UTC().Format(time.RFC3339Nano), Stopped: now.UTC().Format(time.RFC3339Nano),
		Seconds: roundSeconds(now.Sub(r.start)), StoppedBy: stoppedBy,
		Received: r.kstats.Received, Dropped: r.kstats.Dropped, IfDropped: r.kstats.IfDropped,
		IdleTimeoutSeconds: r.o.IdleTimeout.Seconds(), MaxConnections: r.o.MaxConns,
		HeldAtEnd: ts.Tracked, PeakHeld: ts.PeakHeld, Expired: ts.Expired, Idle: ts.Idle, Evicted: ts.Evicted,
		FindingsListed: len(findings), FindingsOmitted: r.omitted, Provisional: prov, Withdrawn: wd,
		Saved: r.o.Live.Write,
	}
	if d := r.kstats.Dropped + r.kstats.IfDropped; d > 0 {
		ls.Warning = fmt.Sprintf("%d packets were dropped (%d by the kernel: the capture buffer was full, raise -B; %d by the interface): findings may be artifacts of the drops (a dropped final ACK or FIN looks like a missing one)",
			d, r.kstats.Dropped, r.kstats.IfDropped)
	}
	doc.Summary.Live, _ = json.Marshal(ls) // plain fields: cannot fail
	doc.Summary.LiveHeader = ls.writeTextHeader

	var err error
	switch r.o.Output {
	case "json":
		err = report.WriteJSON(r.out, doc)
	case "ndjson":
		err = r.writeEndNDJSON(doc)
	default:
		if r.printed {
			r.out.WriteString("\n")
		}
		err = report.WriteText(r.out, doc, r.o.Connections, 0)
	}
	if err == nil {
		err = r.writeErr
	}
	if err == nil {
		err = r.out.Flush()
	}
	code := ExitOK
	if err != nil {
		fmt.Fprintf(r.stderr, "finack: writing the report: %v\n", err)
		code = ExitError
	}
	if closeErr != nil {
		fmt.Fprintf(r.stderr, "finack: -w %s: %v\n", r.o.Live.Write, closeErr)
		code = ExitError
	}
	if r.o.HTML != "" {
		if err := r.finalPage(doc, now); err != nil {
			fmt.Fprintf(r.stderr, "finack: --html %s: %v\n", r.o.HTML, err)
			code = ExitError
		}
	}
	if ls.Warning != "" {
		fmt.Fprintf(r.stderr, "finack: WARNING: %s\n", ls.Warning)
	}
	if readErr != nil {
		fmt.Fprintf(r.stderr, "finack: -i %s: %v\n", r.o.Live.Iface, readErr)
		return ExitError
	}
	if code != ExitOK {
		return code
	}
	for _, v := range gate.Failures(r.o.FailRules, r.totals) {
		fmt.Fprintf(r.stderr, "finack: %s: %s\n", r.o.Live.Iface, v)
		code = ExitFinding
	}
	return code
}

// writeEndNDJSON ends a live NDJSON stream: the connections still tracked at the
// stop, the findings decided at the stop (status final) and their incidents, the
// summary. With the records printed during the run, every finding appears exactly
// once as final, every incident once.
func (r *LiveRun) writeEndNDJSON(d report.Document) error {
	enc := report.NewJSONEncoder(r.out)
	if err := report.EncodeConnections(enc, d.Connections); err != nil {
		return err
	}
	for i := range r.stopFinals {
		if err := enc.Encode(liveFinding{"finding", "final", &r.stopFinals[i]}); err != nil {
			return err
		}
	}
	r.emitIncidents(r.stopFinals) // its errors: writeErr
	return enc.Encode(struct {
		Type  string `json:"type"`
		Error string `json:"error,omitempty"`
		*report.Summary
	}{"summary", d.Error, &d.Summary})
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// writeTextHeader prints the lines a live report starts with (text), in place of the
// "file" line of a file's report.
func (s *LiveSummary) writeTextHeader(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("interface    %s (link type %s, snapshot length %d), %s to %s (%gs, stopped by %s)\n",
		s.Interface, s.LinkType, s.SnapLen, s.Started, s.Stopped, s.Seconds, s.StoppedBy)
	if s.Warning != "" {
		p("WARNING      %s\n", s.Warning)
	}
	p("kernel       %d packets received by filter, %d dropped by kernel, %d dropped by interface\n", s.Received, s.Dropped, s.IfDropped)
	p("tracked      %d connections at the end (peak %d); finished early: %d idle (--idle-timeout %s), %d evicted (--max-connections %d)\n",
		s.HeldAtEnd, s.PeakHeld, s.Idle, time.Duration(s.IdleTimeoutSeconds*float64(time.Second)), s.Evicted, s.MaxConnections)
	if s.FindingsOmitted > 0 {
		p("listed       the latest %d findings; %d earlier ones are counted, not listed (--max-findings)\n", s.FindingsListed, s.FindingsOmitted)
	}
	if s.Saved != "" {
		p("saved        %s\n", s.Saved)
	}
}

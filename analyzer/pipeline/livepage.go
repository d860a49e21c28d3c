package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/report/html"
	"github.com/finack/finack/reassembly"
)

// The HTML report of a live capture (--html): written when the capture stops, and,
// with --metrics-addr, served at / and rebuilt every --interval (every
// DefaultPageInterval without one), the page reloading itself as often. A live run
// keeps no incarnation once decided, so the page draws what it measures as it
// goes: each host's TIME_WAIT count at every rebuild, the closes per second, the
// findings it keeps (--max-findings) and the netstat view of what it tracks now.

// DefaultPageInterval is how often the live page is rebuilt without --interval.
const DefaultPageInterval = 10 * time.Second

// Bounds of what the live page keeps: TIME_WAIT samples per host (past it, every
// other one goes, the peak of each pair kept) and seconds of close counts (past
// it, adjacent seconds are merged).
const (
	livePageSamples = report.MaxTimeWaitSteps
	livePageSeconds = 20_000
)

// livePage is what a live run measures for its page.
type livePage struct {
	steps   map[string][]analyzer.TimeWaitStep
	closes  []report.CloseCounts
	closeAt int64 // the Unix second of the last entry of closes
	states  report.StatesAt
	last    time.Time // the last rebuild
}

func (r *LiveRun) pageInterval() time.Duration {
	if r.o.Live.Interval > 0 {
		return r.o.Live.Interval
	}
	return DefaultPageInterval
}

// countClose adds a decided connection's close to the closes per second (shapes
// the chart does not draw aside).
func (p *livePage) countClose(at reassembly.Instant, s analyzer.Shape) {
	shape := slices.Index(report.CloseShapes[:], s)
	if shape < 0 {
		return
	}
	sec := int64(at) / int64(time.Second)
	if n := len(p.closes); n == 0 || sec > p.closeAt {
		if n >= livePageSeconds {
			// Merge pairs: the columns of the chart are coarser than this anyway.
			out := p.closes[:0]
			for i := 0; i < n; i += 2 {
				c := p.closes[i]
				if i+1 < n {
					for k, v := range p.closes[i+1].Counts {
						c.Counts[k] += v
					}
				}
				out = append(out, c)
			}
			p.closes = out
		}
		p.closes = append(p.closes, report.CloseCounts{At: time.Unix(sec, 0).UTC()})
		p.closeAt = sec
	}
	p.closes[len(p.closes)-1].Counts[shape]++
}

// sample walks the tracked incarnations at capture time at: the netstat view per
// host and a TIME_WAIT sample per host.
func (p *livePage) sample(tr *reassembly.Tracker, memo *reassembly.Memo, at reassembly.Instant, twLen time.Duration) {
	states := map[netip.Addr]map[string]int{}
	eachState(tr, memo, at, twLen, func(h netip.Addr, st int) {
		if states[h] == nil {
			states[h] = map[string]int{}
		}
		states[h][analyzer.StateNames[st]]++
	})
	when := at.Time().UTC()
	p.states = report.StatesAt{At: when, States: map[string]map[string]int{}}
	for _, h := range analyzer.SortedHosts(states) {
		p.states.Hosts = append(p.states.Hosts, h.String())
		p.states.States[h.String()] = states[h]
	}
	if p.steps == nil {
		p.steps = map[string][]analyzer.TimeWaitStep{}
	}
	seen := map[string]bool{}
	for h, m := range states {
		if n := m[analyzer.StateTimeWait]; n > 0 || p.steps[h.String()] != nil {
			p.add(h.String(), when, n)
			seen[h.String()] = true
		}
	}
	for h := range p.steps {
		if !seen[h] {
			p.add(h, when, 0) // its TIME_WAIT is over
		}
	}
}

func (p *livePage) add(host string, at time.Time, n int) {
	s := p.steps[host]
	if len(s) >= livePageSamples {
		out := s[:0]
		for i := 0; i < len(s); i += 2 {
			c := s[i]
			if i+1 < len(s) {
				c.Count = max(c.Count, s[i+1].Count)
			}
			out = append(out, c)
		}
		s = out
	}
	p.steps[host] = append(s, analyzer.TimeWaitStep{At: at, Count: n})
}

// pictures are what the page draws of the run so far.
func (p *livePage) pictures() *report.Pictures {
	pc := &report.Pictures{Steps: p.steps, States: []report.StatesAt{p.states}, Closes: p.closes}
	if pc.Closes == nil {
		pc.Closes = []report.CloseCounts{}
	}
	for h, s := range p.steps {
		th := analyzer.TimeWaitHost{Host: h}
		for _, x := range s {
			if x.Count > th.Peak {
				th.Peak, th.PeakAt = x.Count, x.At
			}
		}
		th.AtEnd = s[len(s)-1].Count
		pc.TimeWait.Hosts = append(pc.TimeWait.Hosts, th)
	}
	sort.Slice(pc.TimeWait.Hosts, func(i, j int) bool { return pc.TimeWait.Hosts[i].Host < pc.TimeWait.Hosts[j].Host })
	return pc
}

// keptFindings are the findings the run keeps, in time order.
func (r *LiveRun) keptFindings() []analyzer.Finding {
	findings := make([]analyzer.Finding, 0, len(r.kept))
	findings = append(findings, r.kept[r.keptNext:]...)
	findings = append(findings, r.kept[:r.keptNext]...)
	analyzer.SortFindings(findings)
	return findings
}

// refreshPage rebuilds the live page (every pageInterval): the file --html names
// and, with --metrics-addr, the page served at /.
func (r *LiveRun) refreshPage(now time.Time) {
	r.page.sample(r.tr, &r.states, r.clock(now), r.twLen)
	r.page.last = now
	o := r.o.Options
	o.Files = []string{}
	rep := analyzer.Report{Findings: r.keptFindings(), Total: int(r.connections), Closes: r.closes, Counts: r.counts}
	doc := report.NewDocument(o, r.src.Stats(), rep, nil)
	doc.Summary.Live, _ = json.Marshal(struct {
		Interface string `json:"interface"`
	}{r.o.Live.Iface})
	doc.Pictures = r.page.pictures()
	res := &report.Result{Name: r.o.Live.Iface, Doc: doc}
	opts := html.Options{Refresh: r.pageInterval(), Generated: now, Version: r.Version, Live: r.o.Live.Iface}
	if r.metrics != nil {
		var b bytes.Buffer
		if err := html.Write(&b, res, opts); err == nil {
			r.metrics.SetPage(b.Bytes())
		}
	}
	if err := html.WriteFile(r.o.HTML, res, opts); err != nil && !r.warnedPage {
		r.warnedPage = true
		fmt.Fprintf(r.stderr, "finack: WARNING: --html %s: %v\n", r.o.HTML, err)
	}
}

// finalPage writes the page of the report at the stop.
// The netstat view and the last TIME_WAIT sample were taken before the tracker
// decided what it held.
func (r *LiveRun) finalPage(doc report.Document, now time.Time) error {
	doc.Pictures = r.page.pictures()
	res := &report.Result{Name: r.o.Live.Iface, Doc: doc}
	opts := html.Options{Generated: now, Version: r.Version, Live: r.o.Live.Iface}
	if r.metrics != nil {
		var b bytes.Buffer
		if err := html.Write(&b, res, opts); err == nil {
			r.metrics.SetPage(b.Bytes())
		}
	}
	return html.WriteFile(r.o.HTML, res, opts)
}

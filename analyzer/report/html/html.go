// Package html writes the HTML report (--html): one self-contained page, its CSS,
// script and SVG charts inline, that fetches nothing and so opens offline (from a
// CI artifact, a mail attachment). It draws the document of package report: an
// overview, charts of TIME_WAIT, closes and findings over time, findings per
// server endpoint and port pressure, a table of incidents that sorts and filters,
// the ladder of each flagged connection (a bounded number) and the netstat view.
package html

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

//go:embed page.tmpl
var pageTmpl string

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

var tmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(pageTmpl))

// Bounds that keep the page of a large capture small: the incident rows, the
// hosts of the TIME_WAIT chart, the bars of the per-endpoint and port-pressure
// charts, the columns of the charts over time.
const (
	MaxIncidents   = 2000
	MaxHosts       = 6
	MaxBars        = 20
	MaxTimeBuckets = 120
	MaxStateHosts  = 200
)

// Options are what the page needs besides the capture's result.
type Options struct {
	// Refresh: a live page reloads itself this often (0: never).
	Refresh time.Duration
	// Generated: when the page was written.
	Generated time.Time
	// Version of finack that wrote it.
	Version string
	// Live: the interface of a live capture ("" for files).
	Live string
}

// page is what the template renders.
type page struct {
	Title     string
	Refresh   int
	Generated string
	Version   string
	CSS       template.CSS
	JS        template.JS

	Overview []kv
	Verdict  string
	Error    string
	Warnings []string

	Charts []chart

	Incidents     []incident
	IncidentKinds []string
	IncidentsNote string

	Ladders     []ladderView
	LaddersNote string

	States     []statesView
	StateNames []string
}

type kv struct{ K, V string }

type chart struct {
	ID, Title, Note string
	SVG             template.HTML
}

type ladderView struct {
	ID    string
	L     report.Ladder
	Kinds string
	SVG   template.HTML
}

type statesView struct {
	Title string
	Rows  []statesRow
	Note  string
}

type statesRow struct {
	Host   string
	Counts []int
}

// Write renders the page of one capture's result.
func Write(w io.Writer, r *report.Result, o Options) error {
	p := build(r, o)
	return tmpl.Execute(w, p)
}

// WriteFile writes the page to path whole or not at all: a temporary file beside
// it, renamed over it, so a browser reloading a live page never reads half of one.
func WriteFile(path string, r *report.Result, o Options) error {
	if o.Generated.IsZero() {
		o.Generated = time.Now()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".finack-html-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(tmp, 64<<10)
	err = Write(w, r, o)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // best effort: err is the error to tell
	}
	return err
}

func build(r *report.Result, o Options) *page {
	d := &r.Doc
	s := d.Summary
	p := &page{CSS: template.CSS(pageCSS), JS: template.JS(pageJS), Version: o.Version,
		Generated: o.Generated.UTC().Format(time.RFC3339), Error: d.Error, Warnings: s.Warnings}
	if o.Refresh > 0 {
		p.Refresh = max(int(math.Round(o.Refresh.Seconds())), 1)
	}
	what := strings.Join(s.Files, ", ")
	if o.Live != "" {
		what = "live capture on " + o.Live
	}
	p.Title = "finack: " + what
	p.Overview = append(p.Overview, kv{"capture", what})
	if s.Filter != "" {
		p.Overview = append(p.Overview, kv{"filter", s.Filter})
	}
	p.Overview = append(p.Overview, kv{"packets", fmt.Sprintf("%d (%d TCP segments)", s.Packets, s.Segments)})
	if s.First != nil {
		p.Overview = append(p.Overview, kv{"time", fmt.Sprintf("%s to %s (%s)", s.First.Format(time.RFC3339Nano), s.Last.Format(time.RFC3339Nano), s.Last.Sub(*s.First))})
	}
	p.Overview = append(p.Overview,
		kv{"connections", fmt.Sprintf("%d TCP (TIME_WAIT length %s)", s.Connections, time.Duration(s.TimeWaitSeconds*float64(time.Second)))},
		kv{"closes", report.CountsText(analyzer.Shapes, s.Closes)},
		kv{"findings", report.CountsText(analyzer.Kinds, s.FindingCounts)})

	incs := incidents(d)
	p.Verdict = verdict(d, incs)
	p.Charts = charts(d)
	all := len(incs)
	if pc := d.Pictures; pc != nil && pc.Incidents != nil {
		all = pc.Incidents.All
	}
	p.incidentTable(incs, all)
	p.ladders(r)
	p.states(d, o.Live != "")
	return p
}

// verdict says in one sentence what the capture shows.
func verdict(d *report.Document, incs []incident) string {
	s := d.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%d connection%s", s.Connections, plural(s.Connections))
	bad, benign := 0, 0
	for _, in := range incs {
		if in.Benign {
			benign++
		} else {
			bad++
		}
	}
	if pc := d.Pictures; pc != nil && pc.Incidents != nil {
		bad, benign = pc.Incidents.Bad, pc.Incidents.All-pc.Incidents.Bad // incs: those listed
	}
	switch {
	case bad == 0 && benign == 0:
		b.WriteString(", and nothing went wrong in their closes")
	case bad == 0:
		fmt.Fprintf(&b, ", and nothing went wrong in their closes: %d reuse%s of a 4-tuple in TIME_WAIT, every one safe and accepted", benign, plural(benign))
	default:
		fmt.Fprintf(&b, ": %d incident%s to look at (%s)", bad, plural(bad), report.CountsText(analyzer.Kinds, badKinds(d)))
		if benign > 0 {
			fmt.Fprintf(&b, ", and %d safe, accepted reuse%s of a 4-tuple in TIME_WAIT", benign, plural(benign))
		}
	}
	if pc := d.Pictures; pc != nil {
		if len(pc.TimeWait.Closers) > 0 {
			c := pc.TimeWait.Closers[0]
			who := "its clients close first"
			if c.Share >= 0.5 {
				who = "it closes first"
			}
			fmt.Fprintf(&b, "; the busiest server %s: %s (%.0f%% of %d closes)", c.Server, who, 100*c.Share, c.Closes)
		}
		var top *analyzer.TimeWaitHost
		for i := range pc.TimeWait.Hosts {
			if h := &pc.TimeWait.Hosts[i]; top == nil || h.Peak > top.Peak {
				top = h
			}
		}
		if top != nil {
			fmt.Fprintf(&b, "; TIME_WAIT peaked at %d on %s at %s", top.Peak, top.Host, top.PeakAt.Format(time.RFC3339))
		}
	}
	b.WriteString(".")
	return b.String()
}

func badKinds(d *report.Document) map[analyzer.Kind]int {
	m := map[analyzer.Kind]int{}
	fs := d.PageFindings()
	for i := range fs {
		if fs[i].Bad {
			m[fs[i].Kind]++
		}
	}
	return m
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// incidentTable lists the incidents that went wrong first, then the benign ones,
// at most MaxIncidents of all (incs may hold only those), in time order.
func (p *page) incidentTable(incs []incident, all int) {
	sort.SliceStable(incs, func(i, j int) bool { return !incs[i].Benign && incs[j].Benign })
	if all > MaxIncidents {
		p.IncidentsNote = fmt.Sprintf("%d more incidents not listed (the page lists %d, those that went wrong first): -o json has every finding.", all-MaxIncidents, MaxIncidents)
		incs = incs[:min(len(incs), MaxIncidents)]
	}
	sort.SliceStable(incs, func(i, j int) bool { return incs[i].At.Before(incs[j].At) })
	p.Incidents = incs
	seen := map[string]bool{}
	for _, in := range incs {
		for _, k := range in.Kinds {
			seen[k] = true
		}
	}
	for _, k := range analyzer.Kinds {
		if seen[string(k)] {
			p.IncidentKinds = append(p.IncidentKinds, string(k))
		}
	}
}

func (p *page) ladders(r *report.Result) {
	ls, undrawn, why := r.Ladders()
	for i, l := range ls {
		id := fmt.Sprintf("ladder-%d", i+1)
		p.Ladders = append(p.Ladders, ladderView{ID: id, L: l, Kinds: strings.Join(l.Kinds, ", "), SVG: ladderSVG(id+"-svg", l)})
	}
	switch {
	case why != "":
		p.LaddersNote = why
	case undrawn > 0:
		p.LaddersNote = fmt.Sprintf("%d more connections with findings are not drawn (the page draws %d, those that went wrong first): finack --ladder draws every one.", undrawn, len(ls))
	}
}

func (p *page) states(d *report.Document, live bool) {
	p.StateNames = analyzer.StateNames[:]
	pc := d.Pictures
	if pc == nil {
		return
	}
	for _, st := range pc.States {
		v := statesView{Title: "at the end of the capture, " + st.At.Format(time.RFC3339Nano)}
		if live {
			v.Title = "of the connections tracked at " + st.At.Format(time.RFC3339Nano)
		}
		if st.Asked {
			v.Title = "at --at, " + st.At.Format(time.RFC3339Nano)
		}
		hosts := st.Hosts
		if len(hosts) > MaxStateHosts {
			v.Note = fmt.Sprintf("%d more hosts not listed: finack --states lists every one.", len(hosts)-MaxStateHosts)
			hosts = hosts[:MaxStateHosts]
		}
		for _, h := range hosts {
			row := statesRow{Host: h}
			for _, n := range analyzer.StateNames {
				row.Counts = append(row.Counts, st.States[h][n])
			}
			v.Rows = append(v.Rows, row)
		}
		p.States = append(p.States, v)
	}
}

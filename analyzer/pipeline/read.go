package pipeline

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/report/html"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
	"github.com/finack/finack/reassembly"
)

// ReadCapture reads one capture (o.files: rotated pieces, merged by time) and
// analyses it. err says the capture could not be opened; a damaged input gives the
// document of what was read before the damage, with Error set. analyze (check.go)
// renders it.
func ReadCapture(o report.Options, pr Progress) (doc report.Document, rep analyzer.Report, err error) {
	phase(pr, "") // reading (--separate reads the captures one after the other)
	r, err := capture.Open(o.Files, capture.Options{Filter: o.Filter, Compile: bpf.Compile, Progress: counter(pr), IgnoreVLAN: o.IgnoreVLAN, Count: o.Count,
		ReuseBuffers: o.Separate}) // (--separate reads the captures one after the other)
	if err != nil {
		return report.Document{}, analyzer.Report{}, err
	}
	defer func() { _ = r.Close() }() // read-only: reading told every error that matters
	cfg := reassembly.Config{TimeWait: o.TimeWait, RFC1337: !o.View.Profile.RSTEndsTimeWait, SynGiveUp: o.View.Profile.SynGiveUp}
	acfg := analyzer.Config{TimeWait: o.TimeWait}
	if o.HoldIncarnations {
		// Every incarnation kept until the end, the views and pictures drawn from
		// them all: the reference of the collectors below (tests).
		tr := reassembly.NewTracker(cfg)
		readErr := readAll(r, tr.Add, pr)
		st := r.Stats()
		phase(pr, PhaseFinish)
		tr.Finish(captureEnd(st))
		if err := tr.Err(); err != nil && readErr == nil {
			readErr = err
		}
		// As analyzer.Analyze, each incarnation's findings summed as they come.
		as := analyzer.NewStream(acfg, true)
		ov := report.NewOverviewCollector(o.TimeWait, o.Spill)
		phase(pr, PhaseAnalyse)
		for _, inc := range tr.Incarnations() {
			ov.Add(inc, as.Add(inc))
		}
		phase(pr, PhaseViews)
		rep = as.Report()
		doc = report.NewDocument(o, st, rep, readErr)
		doc.Overview = mergeOverview(&doc, []*report.OverviewCollector{ov})
		if o.View.States {
			v := report.NewView(o.View, tr.Incarnations(), st.First, st.Last, o.TimeWait)
			doc.View = &v
		}
		if o.HTML != "" {
			doc.Pictures = report.NewPictures(o.View, tr.Incarnations(), st.First, st.Last, o.TimeWait)
		}
		return doc, rep, nil
	}
	// The trackers stream: each hands an incarnation to its analysis once nothing
	// can change it, and forgets it; memory follows the connections open or in
	// TIME_WAIT at once. A record per connection only when something shows or uses
	// it: a text report without --connections and -o junit keep counts and findings.
	keep := (o.Output != "text" && o.Output != "junit") || o.Connections || o.Export != "" || o.Ladder || o.HTML != "" || o.WriteBaseline != ""
	workers := max(o.Workers, 1)
	streams := make([]*analyzer.Stream, workers)
	done := make([]func(*reassembly.Incarnation), workers)
	incidents := make([]*report.IncidentCollector, workers)
	overviews := make([]*report.OverviewCollector, workers)
	pictures := make([]*report.PictureCollector, workers)  // --html: what its charts draw
	views := make([]*report.ViewCollector, workers)        // --states: its view
	recorders := make([]*report.Recorder, workers)         // nil: the records kept in memory
	ladders := make([]*report.LadderCollector, workers)    // --html with recorders: its ladders
	evidence := make([]*report.EvidenceCollector, workers) // --export, --ladder with recorders: what their second pass reads
	baselines := make([]*report.Recorder, workers)         // --write-baseline with recorders: its -o json records
	var totals []map[analyzer.Kind]gate.KindTotal          // --fail-on or -o junit with recorders: the findings summed by kind
	var compared []*gate.FindingList                       // --baseline with recorders: what its comparison reads of the findings
	if report.KeepsCompared(o) {
		compared = make([]*gate.FindingList, workers)
		for i := range compared {
			compared[i] = new(gate.FindingList)
		}
	}
	if report.StreamsReport(o) && (len(o.FailRules) > 0 || o.Output == "junit") {
		totals = make([]map[analyzer.Kind]gate.KindTotal, workers)
	}
	for i := range streams {
		st := analyzer.NewStream(acfg, keep)
		if report.StreamsReport(o) {
			// The plain report: records encoded as printed, sorted on disk past a
			// bound (spill.go), not held until the end; a sort per worker, each
			// with its share of the bound, merged as the report is written.
			share := o.Spill.Share(workers)
			var sink analyzer.Sink
			if o.WriteBaseline != "" {
				// --write-baseline: the -o json report as well, sorted on its own
				// (the two share the bound).
				share = share.Share(2)
				jo := o
				jo.Output = "json"
				recorders[i], baselines[i] = report.NewRecorder(o, share), report.NewRecorder(jo, share)
				sink = report.Both(recorders[i], baselines[i])
			} else {
				recorders[i] = report.NewRecorder(o, share)
				sink = recorders[i]
			}
			switch {
			case o.Export != "" || o.Ladder:
				// The second pass's connections and findings (--html's ladders
				// picked from them too, as from a document that holds them).
				evidence[i] = report.NewEvidenceCollector(sink)
				sink = evidence[i]
			case o.HTML != "":
				// --html: the ladders it draws picked as the records pass.
				ladders[i] = report.NewLadderCollector(sink)
				sink = ladders[i]
			}
			st.SendTo(sink)
		}
		streams[i] = st
		// The text report lists no safe accepted reuse: it counts them (Overview);
		// the page's table has them (benign rows).
		// It keeps only the ones it lists (--max-findings), and counts the others.
		// -o json and ndjson: the Recorders group and sort them (CollectsIncidents).
		textOnly := o.Output == "text" && o.HTML == ""
		var col *report.IncidentCollector
		if report.CollectsIncidents(o) {
			col = &report.IncidentCollector{IgnoreVLAN: o.IgnoreVLAN, SkipSafeReuses: textOnly}
			if textOnly {
				col.Limit = o.MaxFindings
			}
			if o.HTML != "" && o.Output != "text" && report.StreamsReport(o) {
				// Only the page reads them (the report's own are its Recorders'):
				// it lists MaxIncidents and counts the rest.
				col.PageLimit = html.MaxIncidents
			}
			if o.HTML != "" && o.Output == "text" && report.StreamsReport(o) {
				// Both read them: the text report as without --html, the page
				// its own (MaxIncidents, the safe reuses among them).
				col.SkipSafeReuses, col.Limit = true, o.MaxFindings
				col.Page = &report.IncidentCollector{IgnoreVLAN: o.IgnoreVLAN, PageLimit: html.MaxIncidents}
			}
		}
		// The summary per endpoint: what only the text report shows (it costs memory
		// per client address; its spans, a few per connection, are sorted on disk
		// past the bound of its share of o.Spill).
		// (--states: every output has it: the view sweeps its spans, and the
		// counted reuses are in its order.)
		var ov *report.OverviewCollector
		if o.Output == "text" || o.View.States {
			ov = report.NewOverviewCollector(o.TimeWait, o.Spill.Share(workers))
		}
		var vc *report.ViewCollector
		if o.View.States {
			// --states: the netstat view and the TIME_WAIT accounting, from the
			// incarnations as they pass (their spans: the overview's).
			vc = report.NewViewCollector(o.TimeWait, atOf(o.View, r))
		}
		views[i] = vc
		var pc *report.PictureCollector
		if o.HTML != "" {
			pc = report.NewPictureCollector(o.TimeWait, atOf(o.View, r))
		}
		incidents[i], overviews[i], pictures[i] = col, ov, pc
		lc := ladders[i]
		var tot map[analyzer.Kind]gate.KindTotal
		if totals != nil {
			tot = analyzer.KindCounts[gate.KindTotal]()
			totals[i] = tot
		}
		done[i] = func(inc *reassembly.Incarnation) {
			if lc != nil {
				lc.Ending(inc.End)
			}
			fs := st.Add(inc)
			if tot != nil {
				gate.AddFindings(tot, fs)
			}
			if compared != nil {
				compared[i].Append(fs)
			}
			if col != nil {
				col.Add(fs)
			}
			if ov != nil {
				ov.Add(inc, fs)
			}
			if pc != nil {
				pc.Add(inc)
			}
			if vc != nil {
				vc.Add(inc)
			}
		}
	}
	cfg.KeepCounts = true // incarnation numbers as a tracker that keeps everything gives them
	// The analysis copies what it reports (findings and records are built from the
	// incarnation's values): the trackers may reuse each incarnation once analysed.
	cfg.DoneKeepsNothing = true
	cfg.IdleTimeout, cfg.MaxConnections = o.IdleTimeout, o.MaxConns
	tst, readErr := TrackAll(r, cfg, done, pr)
	st := r.Stats()
	endCapture(pr, st.Packets)
	phase(pr, PhaseSummary)
	reps := make([]analyzer.Report, len(streams))
	for i, s := range streams {
		reps[i] = s.Report()
	}
	rep = analyzer.Merge(reps)
	// The incidents come from the collectors (or the Recorders): NewDocument is
	// not given the findings to group, which a run keeps by the tens of thousands.
	counts := rep
	counts.Findings = nil
	doc = report.NewDocument(o, st, counts, readErr)
	if rep.Findings != nil {
		doc.Findings = rep.Findings
	}
	doc.Records = report.MergeRecords(recorders)
	doc.Evidence = report.MergeEvidence(evidence)
	doc.BaselineRecords = report.MergeRecords(baselines)
	if o.Separate {
		// The other captures come before the report: this one's records wait on
		// disk, not in memory.
		doc.Records.Park()
		doc.BaselineRecords.Park()
	}
	if totals != nil {
		doc.KindTotals = gate.MergeTotals(totals)
	}
	if compared != nil {
		doc.Compared = gate.MergeFindings(compared)
	}
	doc.Incidents, doc.IncidentsOmitted = report.MergeIncidents(incidents)
	if o.View.States {
		ov, v, err := report.MergeOverviewAndView(overviews, views, o.View, st.First, st.Last)
		if err != nil {
			doc.Warnings = append(doc.Warnings, fmt.Sprintf("temporary file: %v; the summary's TIME_WAIT and port peaks, and the TIME_WAIT accounting's hosts and port pressure, are left out (set TMPDIR to a directory with room)", err))
		}
		doc.Overview, doc.View = ov, &v
	} else {
		doc.Overview = mergeOverview(&doc, overviews)
	}
	if o.HTML != "" {
		doc.Pictures = report.MergePictures(pictures, o.View, st.First, st.Last)
		if ladders[0] != nil {
			doc.Pictures.Ladders = report.MergeLadders(ladders)
		}
		if incidents[0] != nil && incidents[0].PageLimit > 0 {
			n := report.PageCounts(incidents)
			doc.Pictures.Incidents = &n
		}
		if incidents[0] != nil && incidents[0].Page != nil {
			pages := make([]*report.IncidentCollector, len(incidents))
			for i, c := range incidents {
				pages[i] = c.Page
			}
			n := report.PageCounts(pages)
			doc.Pictures.Incidents = &n
			doc.Pictures.PageIncidents, _ = report.MergeIncidents(pages)
			if doc.Pictures.PageIncidents == nil {
				doc.Pictures.PageIncidents = []report.Incident{}
			}
		}
	}
	doc.Summary.Dropped = report.DroppedOf(o, tst)
	if tst.ColdError != nil {
		doc.Warnings = append(doc.Warnings, coldWarning(tst.ColdError))
	}
	return doc, rep, nil
}

// atOf gives the moment of --at (false: none, or not known yet), for collectors
// that count as the capture is read: a +DURATION counts from the first timestamp.
func atOf(v report.ViewOptions, r *capture.Reader) func() (time.Time, bool) {
	if v.At == "" {
		return nil
	}
	return func() (time.Time, bool) {
		first, ok := r.FirstSeen()
		if !ok {
			return time.Time{}, false
		}
		at, err := report.ParseAt(v.At, first)
		return at, err == nil
	}
}

// mergeOverview merges the summary of the collectors cs into doc's; a temporary file
// that failed leaves its peaks out, with a warning.
func mergeOverview(doc *report.Document, cs []*report.OverviewCollector) *report.Overview {
	ov, err := report.MergeOverview(cs)
	if err != nil {
		doc.Warnings = append(doc.Warnings, fmt.Sprintf("temporary file: %v; the summary's TIME_WAIT and port peaks are left out (set TMPDIR to a directory with room)", err))
	}
	return ov
}

// coldWarning says that a tracker's temporary files failed (reassembly's cold
// store): what it kept there stays in memory from then on.
func coldWarning(err error) string {
	return fmt.Sprintf("temporary file: %v; connections in TIME_WAIT were kept in memory from then on (set TMPDIR to a directory with room)", err)
}

// readAll feeds every segment of r to add; it returns the error that stopped the
// reading (nil at the end of the input).
func readAll(r *capture.Reader, add func(*capture.Segment), pr Progress) error {
	var seg capture.Segment
	n := uint(0)
	for {
		err := r.Next(&seg)
		if err == io.EOF {
			endCapture(pr, r.Stats().Packets)
			return nil
		}
		if err != nil {
			endCapture(pr, r.Stats().Packets)
			return err
		}
		add(&seg)
		if n++; n%progressPublish == 0 && pr != nil {
			pr.SetPackets(r.Stats().Packets)
		}
	}
}

// captureEnd is the capture time trackers finish at (Tracker.Finish): the last
// timestamp; 0 for a capture without packets.
func captureEnd(st capture.Stats) reassembly.Instant {
	if st.Last.IsZero() {
		return 0
	}
	return reassembly.InstantOf(st.Last)
}

// progressPublish is how many segments ReadCapture reads between publishing the
// frame count (a power of two).
const progressPublish = 1024

// Progress is told how far the reading got, for a progress line.
type Progress interface {
	// Counter is what the capture reader adds the bytes it reads to (nil: none).
	Counter() *atomic.Int64
	// SetPackets publishes the frames read so far in the current capture.
	SetPackets(n uint64)
	// EndCapture counts the frames of a capture read to its end.
	EndCapture(n uint64)
	// Phase says what the run is doing once the capture is read (one of the
	// Phase constants; "" while reading).
	Phase(what string)
}

// What a run does after the read, for the progress line: the last connections
// finished and analysed (the bulk of the work past the read when the capture ends
// with many of them open or in TIME_WAIT), the summing up; a tracker that holds every
// incarnation (HoldIncarnations) analyses them and draws the views after.
const (
	PhaseFinish  = "finishing the connections still open"
	PhaseAnalyse = "analysing the connections"
	PhaseViews   = "building the views"
	PhaseSummary = "summing up"
)

func phase(pr Progress, what string) {
	if pr != nil {
		pr.Phase(what)
	}
}

func counter(pr Progress) *atomic.Int64 {
	if pr == nil {
		return nil
	}
	return pr.Counter()
}

func endCapture(pr Progress, n uint64) {
	if pr != nil {
		pr.EndCapture(n)
	}
}

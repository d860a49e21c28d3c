package pipeline

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestSpillWritesRuns: with a small bound the plain report's records do go to disk
// (-o junit's findings too, sorted by kind: TestJUnitStreamedAsHeld), and what
// needs every record (--ladder, --states, ...) keeps them, as a
// report asked to hold them (HoldRecords) does. --fail-on streams: it needs only the
// totals by kind (TestFailOnTotalsStreamed); so does --baseline, keeping the
// findings alone (TestBaselineKeepsCompared), and --write-baseline, sorting the
// baseline's records apart (TestWriteBaselineIsJSONReport).
func TestSpillWritesRuns(t *testing.T) {
	file := pcapDir + "/many-connections.pcap"
	for _, tc := range []struct {
		name   string
		o      report.Options
		stream bool
	}{
		{"json", report.Options{Output: "json"}, true},
		{"ndjson", report.Options{Output: "ndjson"}, true},
		{"tsv", report.Options{Output: "tsv"}, true},
		{"text --connections", report.Options{Output: "text", Connections: true}, true},
		{"text", report.Options{Output: "text"}, true},
		{"junit", report.Options{Output: "junit"}, true},
		{"--fail-on", report.Options{Output: "json", FailOn: []string{"any"}}, true},
		{"--separate", report.Options{Output: "json", Separate: true}, true},
		{"--states", report.Options{Output: "text", View: report.ViewOptions{States: true}}, true},
		{"--states -o json", report.Options{Output: "json", View: report.ViewOptions{States: true}}, true},
		{"HoldIncarnations", report.Options{Output: "json", HoldIncarnations: true}, false},
		{"--ladder", report.Options{Output: "text", Ladder: true}, true},
		{"--export", report.Options{Output: "json", Export: "x.pcap"}, true},
		{"--write-baseline", report.Options{Output: "text", WriteBaseline: "x.json"}, true},
		{"--baseline", report.Options{Output: "text", Baselines: []string{"x.json"}}, true},
		{"json, HoldRecords", report.Options{Output: "json", HoldRecords: true}, false},
	} {
		o := tc.o
		o.Files, o.TimeWait = []string{file}, 60*time.Second
		o.Spill = spill.Options{MaxRecords: 3}
		doc, _, err := ReadCapture(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.Records != nil; got != tc.stream {
			t.Errorf("%s: streams the records %v, want %v", tc.name, got, tc.stream)
			continue
		}
		if !tc.stream {
			continue
		}
		if r := doc.Records; r.Runs() == 0 && max(r.NumConnections(), r.NumFindings(), r.NumIncidents()) > 3 {
			t.Errorf("%s: no run written with a bound of 3 records (%d connections, %d findings, %d incidents)",
				tc.name, r.NumConnections(), r.NumFindings(), r.NumIncidents())
		}
		// -o json and ndjson: the incidents are among the records.
		if keeps := o.Output == "json" || o.Output == "ndjson"; doc.Records.KeepsIncidents() != keeps {
			t.Errorf("%s: incidents among the records %v, want %v", tc.name, doc.Records.KeepsIncidents(), keeps)
		}
		var buf bytes.Buffer
		var werr error
		switch o.Output {
		case "json":
			werr = report.WriteJSON(&buf, doc)
		case "ndjson":
			werr = report.WriteNDJSON(&buf, doc)
		case "tsv":
			werr = report.WriteTSV(&buf, doc)
		case "junit":
			werr = report.WriteOutput(&buf, o, []*report.Result{{Name: "many-connections.pcap", Doc: doc}})
		default:
			werr = report.WriteText(&buf, doc, o.Connections, 0)
		}
		if werr != nil {
			t.Errorf("%s: %v", tc.name, werr)
		}
	}
}

// TestFailOnTotalsStreamed: with --fail-on and the records streamed, the totals by
// kind summed as the findings go by (Document.KindTotals, every worker's) are those
// of the findings a run that holds them all reports, on every committed capture,
// with one and with three workers.
func TestFailOnTotalsStreamed(t *testing.T) {
	files, err := filepath.Glob(pcapDir + "/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", pcapDir, err)
	}
	rules, err := gate.ParseFailOn([]string{"any"})
	if err != nil {
		t.Fatal(err)
	}
	withFindings := 0
	for _, file := range files {
		base := report.Options{Output: "json", Files: []string{file}, TimeWait: 60 * time.Second, FailOn: []string{"any"}, FailRules: rules}
		held := base
		held.HoldRecords = true
		hdoc, _, err := ReadCapture(held, nil)
		if err != nil {
			continue // (a capture that cannot be opened: none is kept either way)
		}
		if hdoc.KindTotals != nil {
			t.Fatalf("%s: totals summed while the findings are held", file)
		}
		want := gate.KindTotals(hdoc.Findings)
		if len(hdoc.Findings) > 0 {
			withFindings++
		}
		for _, workers := range []int{1, 3} {
			o := base
			o.Workers = workers
			doc, _, err := ReadCapture(o, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if doc.Records == nil || doc.KindTotals == nil {
				t.Fatalf("%s, %d workers: records streamed %v, totals summed %v", file, workers, doc.Records != nil, doc.KindTotals != nil)
			}
			if !reflect.DeepEqual(doc.KindTotals, want) {
				t.Errorf("%s, %d workers: totals streamed\n%v\nwant those of the findings held\n%v", file, workers, doc.KindTotals, want)
			}
			if err := doc.Records.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	if withFindings < 10 {
		t.Errorf("only %d captures with findings: the comparison shows little", withFindings)
	}
}

// TestBaselineKeepsCompared: with --baseline the records stream and what the
// comparison reads of the findings is kept as well (Compared, not the findings
// themselves): that of the same findings in the same order as a run that holds
// every record, on every committed capture, with one and three workers and a bound
// that sends the records to disk.
func TestBaselineKeepsCompared(t *testing.T) {
	files, err := filepath.Glob(pcapDir + "/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", pcapDir, err)
	}
	withFindings := 0
	for _, file := range files {
		base := report.Options{Output: "json", Files: []string{file}, TimeWait: 60 * time.Second, Baselines: []string{"x.json"}}
		held := base
		held.HoldRecords = true
		hdoc, _, err := ReadCapture(held, nil)
		if err != nil {
			continue
		}
		if len(hdoc.Findings) > 0 {
			withFindings++
		}
		for _, workers := range []int{1, 3} {
			o := base
			o.Workers, o.Spill = workers, spill.Options{MaxRecords: 2}
			doc, _, err := ReadCapture(o, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if doc.Records == nil || len(doc.Connections) != 0 {
				t.Fatalf("%s, %d workers: records streamed %v, %d connection records held", file, workers, doc.Records != nil, len(doc.Connections))
			}
			if want := gate.FindingsOf(hdoc.Findings); len(doc.Findings) != 0 || !reflect.DeepEqual(doc.Compared, want) {
				t.Errorf("%s, %d workers: %d findings held, %d kept for the comparison, want none and the %d of the run that holds every record, in order",
					file, workers, len(doc.Findings), len(doc.Compared), len(want))
			}
			if err := doc.Records.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	if withFindings < 10 {
		t.Errorf("only %d captures with findings: the comparison shows little", withFindings)
	}
}

// TestSpillIncidents: -o json and ndjson keep no incident in memory: the Recorders
// group them, and with a small bound write them to disk in runs.
func TestSpillIncidents(t *testing.T) {
	const file, incidents = "gen-stale-earlier-incarnations.pcap", 5 // its expected report's
	for _, out := range []string{"json", "ndjson"} {
		for _, workers := range []int{1, 2} {
			o := report.Options{Output: out, Files: []string{pcapDir + "/" + file}, TimeWait: 60 * time.Second, Workers: workers,
				Spill: spill.Options{MaxRecords: 2}}
			doc, _, err := ReadCapture(o, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := doc.Records
			if len(doc.Incidents) != 0 || !r.KeepsIncidents() || r.NumIncidents() != incidents || r.Runs() == 0 {
				t.Errorf("-o %s, %d workers: %d incidents in memory, %d among the records (want none and %d), %d runs",
					out, workers, len(doc.Incidents), r.NumIncidents(), incidents, r.Runs())
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		}
	}
}

// BenchmarkReportRecords times the path of a record from the analysis to the report,
// per incarnation, in each format that streams its records: Stream.Add (analysis;
// the Recorder's encoding and external sort) and the writing of the report, the records read back
// in order. The incarnations are tracked once, before: FINACK_BENCH_PCAP names a large
// capture (go run ./cmd/finack-gen -big 2000000 -o /tmp/big.pcap), the default is
// a small committed one.
func BenchmarkReportRecords(b *testing.B) {
	file := os.Getenv("FINACK_BENCH_PCAP")
	if file == "" {
		file = pcapDir + "/many-connections.pcap"
	}
	r, err := capture.Open([]string{file}, capture.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tr := reassembly.NewTracker(reassembly.Config{})
	var seg capture.Segment
	for r.Next(&seg) == nil {
		tr.Add(&seg)
	}
	st := r.Stats()
	synth.CheckClose(b, r)
	tr.Finish(captureEnd(st))
	incs := tr.Incarnations()

	for _, o := range []report.Options{
		{Output: "json"},
		{Output: "ndjson"},
		{Output: "text"},
		{Output: "text", Connections: true},
	} {
		name := o.Output
		if o.Connections {
			name += "_connections"
		}
		b.Run(name, func(b *testing.B) {
			o.Files, o.TimeWait = []string{file}, 60*time.Second
			dir := b.TempDir()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				s := analyzer.NewStream(analyzer.Config{TimeWait: o.TimeWait}, o.Output != "text" || o.Connections)
				rec := report.NewRecorder(o, spill.Options{Dir: dir})
				s.SendTo(rec)
				for _, inc := range incs {
					s.Add(inc)
				}
				doc := report.NewDocument(o, st, s.Report(), nil)
				doc.Records = report.MergeRecords([]*report.Recorder{rec})
				var err error
				switch o.Output {
				case "json":
					err = report.WriteJSON(io.Discard, doc)
				case "ndjson":
					err = report.WriteNDJSON(io.Discard, doc)
				default:
					err = report.WriteText(io.Discard, doc, o.Connections, 0)
				}
				if err != nil {
					b.Fatal(err)
				}
				n += len(incs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/incarnation")
		})
	}
}

// TestBatchMemoryReused: the batches' memory of a capture read goes to the next
// capture read (batchMems) in a --separate run: captures read one after the
// other, with one worker and three, each give the report they give when read
// first, whatever was read before.
func TestBatchMemoryReused(t *testing.T) {
	// A capture of many batches (60,000 packets), and small ones.
	big := synth.WriteBigFile(t, synth.BigOptions{Seed: 9, Packets: 60000, Concurrency: 80, Clients: 30, Servers: 5})
	files := []string{big, pcapDir + "/final-ack-dropped.pcap", big, pcapDir + "/reuse-server-timewait.pcap"}
	report1 := func(file string, workers int) string {
		o := report.Options{Output: "json", Files: []string{file}, TimeWait: 60 * time.Second, Workers: workers, Separate: true}
		doc, _, err := ReadCapture(o, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := report.WriteJSON(&b, doc); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := map[string]string{}
	for round := range 3 {
		for i, f := range files {
			workers := 1 + 2*((round+i)%2)
			got := report1(f, workers)
			if want, ok := first[f]; !ok {
				first[f] = got
			} else if got != want {
				t.Fatalf("round %d, %s with %d workers: the report differs from its first", round, f, workers)
			}
		}
	}
}

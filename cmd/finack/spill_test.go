package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// TestSpillSameReport: every capture's report, in each format that streams its
// records (-o json, -o ndjson, -o tsv, text with and without --connections), is byte for byte
// the report held in memory, whether the records fit in memory or go to disk in runs
// of 3 records (or of 1, merged 2 runs at a time).
func TestSpillSameReport(t *testing.T) {
	defer func(o spill.Options, on bool) { report.SpillOptions, report.StreamReports = o, on }(report.SpillOptions, report.StreamReports)
	bounds := []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}, {MaxBytes: 1}}
	for _, set := range captureSets(t) {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			for _, form := range [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"-o", "tsv"}, {"--connections"}, {}} {
				a := append(append([]string(nil), args...), form...)
				report.StreamReports = false
				want, wantErr, wantCode := runIn(t, pcapDir, a...)
				report.StreamReports = true
				for _, b := range bounds {
					report.SpillOptions = b
					got, gotErr, code := runIn(t, pcapDir, a...)
					if got != want || gotErr != wantErr || code != wantCode {
						t.Errorf("finack %v, spill bound %+v: the report differs from the one held in memory (exit %d, want %d; stderr %q, want %q):\n%s",
							a, b, code, wantCode, gotErr, wantErr, lineDiff(want, got))
					}
				}
				report.SpillOptions = spill.Options{}
			}
		})
	}
}

// TestSpillWritesRuns: with a small bound the plain report's records do go to disk,
// and what needs every record (--fail-on, -o junit, --separate, ...) keeps them.
func TestSpillWritesRuns(t *testing.T) {
	defer func(o spill.Options) { report.SpillOptions = o }(report.SpillOptions)
	report.SpillOptions = spill.Options{MaxRecords: 3}
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
		{"junit", report.Options{Output: "junit"}, false},
		{"--fail-on", report.Options{Output: "json", FailOn: []string{"any"}}, false},
		{"--separate", report.Options{Output: "json", Separate: true}, false},
		{"--states", report.Options{Output: "text", View: report.ViewOptions{States: true}}, false},
		{"--ladder", report.Options{Output: "text", Ladder: true}, false},
		{"--write-baseline", report.Options{Output: "text", WriteBaseline: "x.json"}, false},
	} {
		o := tc.o
		o.Files, o.TimeWait = []string{file}, 60*time.Second
		doc, _, err := pipeline.ReadCapture(o, nil)
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
		if r := doc.Records; r.Runs() == 0 && max(r.NumConnections(), r.NumFindings()) > 3 {
			t.Errorf("%s: no run written with a bound of 3 records (%d connections, %d findings)",
				tc.name, doc.Records.NumConnections(), doc.Records.NumFindings())
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
		default:
			werr = report.WriteText(&buf, doc, o.Connections, 0)
		}
		if werr != nil {
			t.Errorf("%s: %v", tc.name, werr)
		}
	}
}

// BenchmarkReportRecords times the path of a record from the analysis to the report,
// per incarnation, in each format that streams its records: Stream.Add (analysis,
// encoding, the external sort) and the writing of the report, the records read back
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
	r.Close()
	tr.Finish(pipeline.CaptureEnd(st))
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
				s.Spill(report.ReportEncoder(o), spill.Options{Dir: dir})
				for _, inc := range incs {
					s.Add(inc)
				}
				doc := report.NewDocument(o, st, s.Report(), nil)
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

// The lines of the text report as fmt wrote them, before appendFindingText and
// appendConnectionText wrote them by hand: the reference.
func refFindingText(f *analyzer.Finding) string {
	frames := make([]string, len(f.Frames))
	for i, n := range f.Frames {
		frames[i] = fmt.Sprint(n)
	}
	vlan := ""
	if len(f.VLAN) > 0 {
		vlan = fmt.Sprintf(" vlan %v", f.VLAN)
	}
	if len(f.ServerVLAN) > 0 {
		vlan += fmt.Sprintf(" server vlan %v", f.ServerVLAN)
	}
	if f.Tunnel != "" {
		vlan += " " + f.Tunnel
	}
	return fmt.Sprintf("%-17s  %s → %s #%d%s  frames %s\n    %s\n", f.Kind, analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, vlan, strings.Join(frames, ","), f.Message)
}

func refConnectionText(c *analyzer.Connection) string {
	roles := ""
	if !c.RolesKnown {
		roles = " (roles guessed: no handshake seen)"
	}
	tw := "none"
	if c.TimeWaitHolder != "none" {
		tw = fmt.Sprintf("%s until %s", c.TimeWaitHolder, c.TimeWaitUntil)
	}
	vlan := ""
	if len(c.VLAN) > 0 {
		vlan = fmt.Sprintf(" vlan %v", c.VLAN)
	}
	if len(c.ServerVLAN) > 0 {
		vlan += fmt.Sprintf(" server vlan %v", c.ServerVLAN)
	}
	if c.Tunnel != "" {
		vlan += " " + c.Tunnel
	}
	if c.Dropped != "" {
		roles += " (dropped: " + c.Dropped + ")"
	}
	var fin strings.Builder
	for _, e := range []struct {
		who string
		fa  *analyzer.FinAck
	}{{"c", c.FIN.Client}, {"s", c.FIN.Server}} {
		if e.fa == nil {
			continue
		}
		fmt.Fprintf(&fin, "  FIN %s %d", e.who, e.fa.Frame)
		if e.fa.AckedBy != 0 {
			fmt.Fprintf(&fin, "→%d +%gms", e.fa.AckedBy, *e.fa.AckedAfterMS)
		} else {
			fin.WriteString("→unacked")
		}
	}
	return fmt.Sprintf("  %6d  %s → %s #%d%s  %s  closer %s  TIME_WAIT %s  frames %d-%d, %d packets, FIN %d/%d, RST %d/%d%s  %s%s\n",
		c.FirstFrame, analyzer.EndpointString(c.Client), analyzer.EndpointString(c.Server), c.Incarnation, vlan, c.Close, c.ActiveCloser, tw,
		c.FirstFrame, c.LastFrame, c.Packets, c.FINs.Client, c.FINs.Server, c.RSTs.Client, c.RSTs.Server, roles,
		c.History, fin.String())
}

// TestTextRecords: the text report's lines, written by hand, are what fmt wrote, on
// random records (recordFiller, jsonrec_test.go) and on the edge cases of the JSON
// encoders' tests.
func TestTextRecords(t *testing.T) {
	check := func(c *analyzer.Connection, f *analyzer.Finding) {
		t.Helper()
		for _, fa := range []*analyzer.FinAck{c.FIN.Client, c.FIN.Server} {
			if fa != nil && fa.AckedBy != 0 && fa.AckedAfterMS == nil {
				fa.AckedAfterMS = f64(0) // never so in a record; fmt's line would panic
			}
		}
		if got, want := string(report.AppendConnectionText([]byte("x"), c)), "x"+refConnectionText(c); got != want {
			t.Fatalf("connection line:\n got  %q\n want %q\nrecord %#v", got, want, c)
		}
		if got, want := string(report.AppendFindingText([]byte("x"), f)), "x"+refFindingText(f); got != want {
			t.Fatalf("finding line:\n got  %q\n want %q\nrecord %#v", got, want, f)
		}
	}
	for _, ep := range jsonEdgeEndpoints {
		check(&analyzer.Connection{Client: ep, Server: ep}, &analyzer.Finding{Client: ep, Server: ep})
	}
	for _, s := range jsonEdgeStrings {
		c := analyzer.Connection{Close: analyzer.Shape(s), ActiveCloser: s, TimeWaitHolder: s,
			TimeWaitUntil: s, History: s, ResetBy: s, Dropped: s}
		f := analyzer.Finding{Kind: analyzer.Kind(s), Message: s}
		check(&c, &f)
	}
	for _, x := range jsonEdgeFloats {
		for _, x := range []float64{x, -x, math.NaN(), math.Inf(1), math.Inf(-1)} {
			c := analyzer.Connection{TimeWaitHolder: "none", FIN: analyzer.FinPair{Client: &analyzer.FinAck{Frame: 1, AckedBy: 2, AckedAfterMS: f64(x)}}}
			check(&c, &analyzer.Finding{})
		}
	}
	for _, frame := range []uint64{0, 7, 99999, 123456, 1234567, math.MaxUint64} {
		c := analyzer.Connection{FirstFrame: frame, TimeWaitHolder: "none", VLAN: []uint16{1, 4095}}
		check(&c, &analyzer.Finding{Kind: "a_very_long_kind_name_indeed", Frames: []uint64{frame, frame}})
	}
	g := &recordFiller{r: rand.New(rand.NewSource(3))}
	for range 20000 {
		var c analyzer.Connection
		g.fill(t, reflect.ValueOf(&c).Elem())
		if g.r.Intn(3) == 0 {
			c.TimeWaitHolder = "none"
		}
		var f analyzer.Finding
		g.fill(t, reflect.ValueOf(&f).Elem())
		check(&c, &f)
	}
}

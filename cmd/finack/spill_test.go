package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/spill"
)

// TestSpillSameReport: every capture's report, in each format that streams its
// records (-o json, -o ndjson, text with and without --connections), is byte for byte
// the report held in memory, whether the records fit in memory or go to disk in runs
// of 3 records (or of 1, merged 2 runs at a time).
func TestSpillSameReport(t *testing.T) {
	defer func(o spill.Options, on bool) { spillOptions, streamReports = o, on }(spillOptions, streamReports)
	bounds := []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}, {MaxBytes: 1}}
	for _, set := range captureSets(t) {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			for _, form := range [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"--connections"}, {}} {
				a := append(append([]string(nil), args...), form...)
				streamReports = false
				want, wantErr, wantCode := runIn(t, pcapDir, a...)
				streamReports = true
				for _, b := range bounds {
					spillOptions = b
					got, gotErr, code := runIn(t, pcapDir, a...)
					if got != want || gotErr != wantErr || code != wantCode {
						t.Errorf("finack %v, spill bound %+v: the report differs from the one held in memory (exit %d, want %d; stderr %q, want %q):\n%s",
							a, b, code, wantCode, gotErr, wantErr, lineDiff(want, got))
					}
				}
				spillOptions = spill.Options{}
			}
		})
	}
}

// TestSpillWritesRuns: with a small bound the plain report's records do go to disk,
// and what needs every record (--fail-on, -o junit, --separate, ...) keeps them.
func TestSpillWritesRuns(t *testing.T) {
	defer func(o spill.Options) { spillOptions = o }(spillOptions)
	spillOptions = spill.Options{MaxRecords: 3}
	file := pcapDir + "/many-connections.pcap"
	for _, tc := range []struct {
		name   string
		o      options
		stream bool
	}{
		{"json", options{output: "json"}, true},
		{"ndjson", options{output: "ndjson"}, true},
		{"text --connections", options{output: "text", connections: true}, true},
		{"text", options{output: "text"}, true},
		{"junit", options{output: "junit"}, false},
		{"--fail-on", options{output: "json", failOn: []string{"any"}}, false},
		{"--separate", options{output: "json", separate: true}, false},
		{"--states", options{output: "text", view: viewOptions{states: true}}, false},
		{"--ladder", options{output: "text", ladder: true}, false},
		{"--write-baseline", options{output: "text", writeBaseline: "x.json"}, false},
	} {
		o := tc.o
		o.files, o.timeWait = []string{file}, 60*time.Second
		doc, _, err := readCapture(o)
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.records != nil; got != tc.stream {
			t.Errorf("%s: streams the records %v, want %v", tc.name, got, tc.stream)
			continue
		}
		if !tc.stream {
			continue
		}
		if r := doc.records; r.Runs() == 0 && max(r.NumConnections(), r.NumFindings()) > 3 {
			t.Errorf("%s: no run written with a bound of 3 records (%d connections, %d findings)",
				tc.name, doc.records.NumConnections(), doc.records.NumFindings())
		}
		var buf bytes.Buffer
		var werr error
		switch o.output {
		case "json":
			werr = writeJSON(&buf, doc)
		case "ndjson":
			werr = writeNDJSON(&buf, doc)
		default:
			werr = writeText(&buf, doc, o.connections)
		}
		if werr != nil {
			t.Errorf("%s: %v", tc.name, werr)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/spill"
)

// TestSpillSameReport: every capture's report, in each format that streams its
// records (-o json, -o ndjson, -o tsv, text with and without --connections; with
// --fail-on, whose rules then read the totals summed as the findings streamed; with
// --baseline, which keeps the findings as the records stream: the capture's own
// expected report, and another capture's, against which every finding is new; with
// --separate, whose captures' records wait on disk for the report), is
// byte for byte the report held in memory, with the same messages and exit code,
// whether the records fit in memory or go to disk in runs of 3 records (or of 1,
// merged 2 runs at a time).
func TestSpillSameReport(t *testing.T) {
	bounds := []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}, {MaxBytes: 1}}
	for _, set := range captureSets(t) {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			forms := [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"-o", "tsv"}, {"--connections"}, {},
				{"-o", "json", "--fail-on", "any>2,fin_retransmit:!fin_on_ack,reuse_in_2msl:safe_by_sequence"}, {"--fail-on", "any"},
				{"-o", "json", "--baseline", "client-close-v6.pcap.expected.json"}, {"-o", "ndjson", "--baseline", "client-close-v6.pcap.expected.json"},
				{"-o", "tsv", "--baseline", "client-close-v6.pcap.expected.json"},
				{"--separate", "-o", "json"}, {"--separate", "-o", "ndjson", "--baseline", "client-close-v6.pcap.expected.json"}, {"--separate", "--connections"}}
			if _, err := os.Stat(filepath.Join(pcapDir, set[0]+".expected.json")); err == nil {
				forms = append(forms, []string{"--baseline", set[0] + ".expected.json", "--fail-on", "any"})
			}
			for _, form := range forms {
				a := append(append([]string(nil), args...), form...)
				want, wantErr, wantCode := runTunedIn(t, pcapDir, func(o *options) { o.HoldRecords = true }, a...)
				for _, b := range bounds {
					got, gotErr, code := runTunedIn(t, pcapDir, func(o *options) { o.Spill = b }, a...)
					if got != want || gotErr != wantErr || code != wantCode {
						t.Errorf("finack %v, spill bound %+v: the report differs from the one held in memory (exit %d, want %d; stderr %q, want %q):\n%s",
							a, b, code, wantCode, gotErr, wantErr, lineDiff(want, got))
					}
				}
			}
		})
	}
}

// TestEvidenceSameAsHeld: with --export and --ladder the report streams its records
// too, the second pass reading what the EvidenceCollectors kept of each connection
// and finding; the report (the export's frames, the ladders), the exported file
// (pcap and pcapng, byte for byte) and the HTML page are those of a run that holds
// every record, for every capture, whether the records fit in memory or go to disk
// in runs of 3, with 1 worker or 3.
func TestEvidenceSameAsHeld(t *testing.T) {
	footer := regexp.MustCompile(`<footer>Written by finack [^<]* at [^<;]*`)
	dir := t.TempDir()
	exported := func(t *testing.T, path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		_ = os.Remove(path) // the next run writes it again
		return footer.ReplaceAllString(string(b), "<footer>")
	}
	pcapOut, ngOut, page := filepath.Join(dir, "x.pcap"), filepath.Join(dir, "x.pcapng"), filepath.Join(dir, "p.html")
	streamed := 0
	for _, set := range captureSets(t) {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			forms := [][]string{{"--export", pcapOut}, {"--export", ngOut, "-o", "json"}, {"--ladder"}, {"--ladder", "-o", "json"},
				{"--export", pcapOut, "--ladder", "--html", page}, {"--export", ngOut, "-o", "ndjson"}, {"--ladder", "-o", "tsv"},
				{"--separate", "--export", ngOut, "--ladder"}}
			for _, form := range forms {
				a := append(append([]string(nil), args...), form...)
				var held *options
				want, wantErr, wantCode := runTunedIn(t, pcapDir, func(o *options) { o.HoldRecords, held = true, o }, a...)
				wantFiles := exported(t, pcapOut) + exported(t, ngOut) + exported(t, page)
				if held.Export == "" && !held.Ladder {
					t.Fatalf("finack %v: neither --export nor --ladder", a)
				}
				for _, w := range []string{"1", "3"} {
					for _, b := range []spill.Options{{}, {MaxRecords: 3}} {
						aw := append(append([]string(nil), a...), "--workers", w)
						var o *options
						got, gotErr, code := runTunedIn(t, pcapDir, func(oo *options) { oo.Spill, o = b, oo }, aw...)
						gotFiles := exported(t, pcapOut) + exported(t, ngOut) + exported(t, page)
						if !report.StreamsReport(o.Options) {
							t.Fatalf("finack %v: the report does not stream its records", aw)
						}
						streamed++
						if got != want || gotErr != wantErr || code != wantCode {
							t.Errorf("finack %v, spill bound %+v: the report differs from the one held in memory (exit %d, want %d; stderr %q, want %q):\n%s",
								aw, b, code, wantCode, gotErr, wantErr, lineDiff(want, got))
						}
						if gotFiles != wantFiles {
							t.Errorf("finack %v, spill bound %+v: the exported file or page differs from the one of the held records", aw, b)
						}
					}
				}
			}
		})
	}
	if streamed == 0 {
		t.Fatal("no capture compared")
	}
}

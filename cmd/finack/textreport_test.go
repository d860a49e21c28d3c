package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/capture/synth"
)

// TestTextReportBig: on a generated capture of tens of thousands of connections
// between many hosts, with findings of every kind, the default text report fits in
// 200 lines, and one of its first 40 lines names the busiest server endpoint with
// its connection count (that of the -o json records); the incidents listed stop at
// --max-findings with the line that says how many more, and --max-findings 0 lists
// every one.
func TestTextReportBig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates 400,000 packets")
	}
	dir := writeBig(t, synth.BigOptions{Packets: 400_000, Seed: 5, Concurrency: 2000, Clients: 300, Servers: 20})
	text, stderr, code := runIn(t, dir, "-r", "big.pcap")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) > 200 {
		t.Errorf("%d lines, want at most 200:\n%s", len(lines), text)
	}
	js, _, _ := runIn(t, dir, "-r", "big.pcap", "-o", "json")
	d := parseHostile(t, js)
	if d.Summary.Connections < 20_000 {
		t.Fatalf("%d connections: the capture is not big", d.Summary.Connections)
	}
	perServer := map[string]int{}
	for _, c := range d.Connections {
		perServer[analyzer.EndpointString(c.Server)]++
	}
	top, n := "", 0
	for s, k := range perServer {
		if k > n || (k == n && s < top) {
			top, n = s, k
		}
	}
	want := regexp.MustCompile(`^  ` + regexp.QuoteMeta(top) + ` +` + fmt.Sprint(n) + ` connections; `)
	found := false
	for _, l := range lines[:min(40, len(lines))] {
		found = found || want.MatchString(l)
	}
	if !found {
		t.Errorf("no line %q in the first 40:\n%s", want, strings.Join(lines[:min(40, len(lines))], "\n"))
	}
	more := regexp.MustCompile(`^  \.\.\. and (\d+) more: -o json has every one, --max-findings 0 lists them all$`)
	var left int
	for _, l := range lines {
		if m := more.FindStringSubmatch(l); m != nil {
			if _, err := fmt.Sscan(m[1], &left); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
		}
	}
	if left == 0 {
		t.Fatalf("no %q line: the capture should have more incidents than the default lists", more)
	}
	all, _, _ := runIn(t, dir, "-r", "big.pcap", "--max-findings", "0")
	listed := strings.Count(all, "\n      wireshark: ")
	if got := strings.Count(text, "\n      wireshark: "); got != report.DefaultMaxFindings || listed != got+left {
		t.Errorf("listed %d by default (want %d) and %d with --max-findings 0 (want %d + %d)", got, report.DefaultMaxFindings, listed, got, left)
	}
	// The collectors keep only the incidents listed (per worker, then merged): the
	// ones listed are the first of every one, whatever --max-findings and --workers.
	allLines := strings.Split(all, "\n")
	head := slices.IndexFunc(allLines, func(l string) bool { return strings.HasPrefix(l, "incidents (") })
	if head < 0 {
		t.Fatalf("no incidents in\n%s", all)
	}
	for _, tc := range []struct{ max, workers int }{{25, 1}, {25, 2}, {1, 2}, {7, 1}, {60, 2}} {
		out, _, _ := runIn(t, dir, "-r", "big.pcap", "--max-findings", fmt.Sprint(tc.max), "--workers", fmt.Sprint(tc.workers))
		want := slices.Clone(allLines[:head+1])
		first := head + 1
		for first < len(allLines) && (strings.HasPrefix(allLines[first], "  reuse of a 4-tuple") || strings.HasPrefix(allLines[first], "  ... and ")) {
			first++
		}
		want = append(want, allLines[head+1:first]...)
		want = append(want, allLines[first:first+3*tc.max]...)
		want = append(want, fmt.Sprintf("  ... and %d more: -o json has every one, --max-findings 0 lists them all", listed-tc.max))
		if got := strings.TrimSuffix(out, "\n"); got != strings.Join(want, "\n") {
			t.Errorf("--max-findings %d --workers %d: report differs from the first incidents of --max-findings 0:\n%s", tc.max, tc.workers, got[max(0, len(got)-2000):])
		}
	}
}

// TestTextReportLocale: the text report is ASCII when the locale is not UTF-8 (as
// ls decides: LC_ALL, then LC_CTYPE, then LANG; none is C), UTF-8 otherwise.
func TestTextReportLocale(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		ascii bool
	}{
		{map[string]string{"LC_ALL": "C"}, true},
		{map[string]string{"LC_ALL": "", "LC_CTYPE": "", "LANG": ""}, true},
		{map[string]string{"LC_ALL": "", "LC_CTYPE": "", "LANG": "en_US.UTF-8"}, false},
		{map[string]string{"LC_ALL": "", "LC_CTYPE": "POSIX", "LANG": "en_US.UTF-8"}, true},
		{map[string]string{"LC_ALL": "de_DE.utf8"}, false},
	} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, _, _ := runIn(t, pcapDir, "-r", "final-ack-never.pcap", "--connections", "--states")
			nonASCII := strings.IndexFunc(out, func(r rune) bool { return r > 127 }) >= 0
			if nonASCII == tc.ascii || !strings.Contains(out, map[bool]string{true: " -> ", false: " → "}[tc.ascii]) {
				t.Errorf("ascii %v: report\n%s", tc.ascii, out)
			}
		})
	}
}

// TestTextReportError: a capture that cannot be read, or stops on damage, says so in
// the report itself, not only on stderr.
func TestTextReportError(t *testing.T) {
	dir := t.TempDir()
	full, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-never.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.pcap"), full[:len(full)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.pcap"), []byte("not a capture at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cut.pcap", "junk.pcap", "missing.pcap"} {
		out, _, code := runIn(t, dir, "-r", name)
		if code != 2 || !regexp.MustCompile(`(?m)^error +\S`).MatchString(out) {
			t.Errorf("%s: exit %d, report without an error line:\n%s", name, code, out)
		}
	}
}

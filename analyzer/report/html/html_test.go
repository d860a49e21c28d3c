package html

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

func finding(kind analyzer.Kind, client string, inc int, frames ...uint64) analyzer.Finding {
	return analyzer.Finding{Kind: kind, Client: client, Server: "10.0.0.2:80", Incarnation: inc, Frames: frames,
		Time: time.Unix(1000, int64(frames[0])).UTC(), Message: string(kind)}
}

// TestIncidents: findings of one connection naming a frame in common are one
// incident; another incarnation, another 4-tuple or no frame in common is another.
func TestIncidents(t *testing.T) {
	reuse := finding(analyzer.ReuseIn2MSL, "10.0.0.1:5000", 2, 30, 40, 41)
	reuse.Outcome, reuse.Verdict = analyzer.OutcomeAccepted, analyzer.VerdictSafeByTimestamps
	unsafe := finding(analyzer.ReuseIn2MSL, "10.0.0.1:5001", 2, 50, 60)
	unsafe.Outcome, unsafe.Verdict = analyzer.OutcomeAccepted, analyzer.VerdictUnsafe
	for _, tc := range []struct {
		name     string
		findings []analyzer.Finding
		want     []string // per incident: kinds; frames; benign
	}{
		{"an unanswered FIN", []analyzer.Finding{
			finding(analyzer.MissingFinalAck, "10.0.0.1:5000", 1, 10, 11, 12, 13, 14),
			finding(analyzer.FinRetransmit, "10.0.0.1:5000", 1, 10, 11, 12, 13)},
			[]string{"missing_final_ack,fin_retransmit; 10,11,12,13,14; false"}},
		{"two incarnations", []analyzer.Finding{
			finding(analyzer.MissingFinalAck, "10.0.0.1:5000", 1, 10, 11),
			finding(analyzer.FinRetransmit, "10.0.0.1:5000", 2, 10, 11)},
			[]string{"missing_final_ack; 10,11; false", "fin_retransmit; 10,11; false"}},
		{"no frame in common", []analyzer.Finding{
			finding(analyzer.FinRetransmit, "10.0.0.1:5000", 1, 10, 11),
			finding(analyzer.StaleSegment, "10.0.0.1:5000", 1, 20)},
			[]string{"fin_retransmit; 10,11; false", "stale_segment; 20; false"}},
		{"reuses", []analyzer.Finding{reuse, unsafe},
			[]string{"reuse_in_2msl; 30,40,41; true", "reuse_in_2msl; 50,60; false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, in := range incidents(&report.Document{Findings: tc.findings}) {
				fr := strings.Trim(strings.ReplaceAll(fmt.Sprint(in.Frames), " ", ","), "[]")
				got = append(got, fmt.Sprintf("%s; %s; %v", strings.Join(in.Kinds, ","), fr, in.Benign))
				if !strings.Contains(in.Filter, fmt.Sprintf("frame.number>=%d && frame.number<=%d", in.Frames[0], in.Frames[len(in.Frames)-1])) {
					t.Errorf("filter %q lacks the frame range", in.Filter)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("incidents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestWiresharkFilter: IPv4 and IPv6 fields, and the frame range.
func TestWiresharkFilter(t *testing.T) {
	for _, tc := range []struct{ client, server, want string }{
		{"10.0.0.1:5000", "10.0.0.2:80", "ip.addr==10.0.0.1 && tcp.port==5000 && ip.addr==10.0.0.2 && tcp.port==80 && frame.number>=3 && frame.number<=9"},
		{"[fd00::1]:5000", "[fd00::2]:80", "ipv6.addr==fd00::1 && tcp.port==5000 && ipv6.addr==fd00::2 && tcp.port==80 && frame.number>=3 && frame.number<=9"},
	} {
		if got := report.WiresharkFilter(tc.client, tc.server, 3, 9); got != tc.want {
			t.Errorf("%s → %s: %q, want %q", tc.client, tc.server, got, tc.want)
		}
	}
}

// TestPageBounds: a capture with more incidents than MaxIncidents lists those that
// went wrong first and says how many it left out; more server endpoints than
// MaxBars get MaxBars bars and a note.
func TestPageBounds(t *testing.T) {
	first := time.Unix(1000, 0).UTC()
	last := first.Add(10 * time.Second)
	var fs []analyzer.Finding
	for i := range MaxIncidents + 500 {
		f := analyzer.Finding{Kind: analyzer.ReuseIn2MSL, Client: fmt.Sprintf("10.0.%d.%d:4000", i/250, i%250), Server: fmt.Sprintf("10.1.0.%d:80", i%30),
			Incarnation: 2, Frames: []uint64{uint64(10 + i)}, Time: first.Add(time.Duration(i) * time.Millisecond),
			Outcome: analyzer.OutcomeAccepted, Verdict: analyzer.VerdictSafeBySequence}
		if i%1000 == 999 {
			f.Verdict = analyzer.VerdictUnsafe
		}
		fs = append(fs, f)
	}
	doc := report.Document{Findings: fs, Summary: report.Summary{First: &first, Last: &last,
		FindingCounts: map[analyzer.Kind]int{analyzer.ReuseIn2MSL: len(fs)}, Closes: map[analyzer.Shape]int{}}}
	var b bytes.Buffer
	if err := Write(&b, &report.Result{Doc: doc}, Options{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "<tr data-kinds="); n != MaxIncidents {
		t.Errorf("%d incident rows, want %d", n, MaxIncidents)
	}
	if n := strings.Count(page, "<tr data-kinds=\"reuse_in_2msl\">"); n != 2 {
		t.Errorf("%d unsafe reuses listed, want both", n)
	}
	if !strings.Contains(page, "500 more incidents not listed") {
		t.Error("no note of the incidents left out")
	}
	if n := strings.Count(page, `<g class="hbar"`); n != MaxBars {
		t.Errorf("%d endpoint bars, want %d", n, MaxBars)
	}
	if !strings.Contains(page, fmt.Sprintf("The %d server endpoints with the most findings; %d more have findings.", MaxBars, 30-MaxBars)) {
		t.Error("no note of the endpoints left out")
	}
}

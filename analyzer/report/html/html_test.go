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

// TestPageBounds: a capture of 100,000 connections, each with a finding, gives a
// page under 10 MB: the incidents capped at MaxIncidents, those that went wrong
// first, with a note of how many were left out; the server endpoints capped at
// MaxBars; the closes aggregated into columns.
func TestPageBounds(t *testing.T) {
	const n = 100_000
	first := time.Unix(1000, 0).UTC()
	last := first.Add(100 * time.Second)
	var fs []analyzer.Finding
	var conns []analyzer.Connection
	for i := range n {
		client := fmt.Sprintf("10.0.%d.%d:%d", i/60000, i%250, 1024+i%60000)
		server := fmt.Sprintf("10.1.0.%d:80", i%30)
		at := first.Add(time.Duration(i) * time.Millisecond)
		f := analyzer.Finding{Kind: analyzer.ReuseIn2MSL, Client: client, Server: server,
			Incarnation: 2, Frames: []uint64{uint64(10 + 3*i), uint64(11 + 3*i)}, Time: at,
			Outcome: analyzer.OutcomeAccepted, Verdict: analyzer.VerdictSafeBySequence, Message: "a reuse within TIME_WAIT, safe and accepted"}
		if i%40_000 == 39_999 {
			f.Verdict = analyzer.VerdictUnsafe
		}
		fs = append(fs, f)
		conns = append(conns, analyzer.Connection{Client: client, Server: server, Incarnation: 2, Start: at, End: at.Add(time.Millisecond), Close: analyzer.ThreeWay})
	}
	doc := report.Document{Findings: fs, Connections: conns, Summary: report.Summary{First: &first, Last: &last, Connections: n,
		FindingCounts: map[analyzer.Kind]int{analyzer.ReuseIn2MSL: n}, Closes: map[analyzer.Shape]int{analyzer.ThreeWay: n}}}
	var b bytes.Buffer
	if err := Write(&b, &report.Result{Doc: doc}, Options{}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	t.Logf("page of %d connections: %d bytes", n, len(page))
	if len(page) > 10<<20 {
		t.Errorf("page of %d connections: %d bytes, want at most 10 MB", n, len(page))
	}
	if got := strings.Count(page, "<tr data-kinds="); got != MaxIncidents {
		t.Errorf("%d incident rows, want %d", got, MaxIncidents)
	}
	if got := strings.Count(page, "<tr data-kinds=\"reuse_in_2msl\">"); got != 2 {
		t.Errorf("%d unsafe reuses listed, want both", got)
	}
	if !strings.Contains(page, fmt.Sprintf("%d more incidents not listed", n-MaxIncidents)) {
		t.Error("no note of the incidents left out")
	}
	if got := strings.Count(page, `<g class="hbar"`); got != MaxBars {
		t.Errorf("%d endpoint bars, want %d", got, MaxBars)
	}
	if !strings.Contains(page, fmt.Sprintf("The %d server endpoints with the most findings; %d more have findings.", MaxBars, 30-MaxBars)) {
		t.Error("no note of the endpoints left out")
	}
	if got := strings.Count(page, `data-layer="three_way"`); got != 100 {
		t.Errorf("%d columns of closes, want one per second: 100", got)
	}
}

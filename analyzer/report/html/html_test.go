package html

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

func finding(kind analyzer.Kind, client string, inc int, frames ...uint64) analyzer.Finding {
	return analyzer.Finding{Kind: kind, Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort("10.0.0.2:80"), Incarnation: inc, Frames: frames,
		Time: time.Unix(1000, int64(frames[0])).UTC(), Message: string(kind)}
}

// TestIncidents: the table's rows are the document's incidents (report.Incidents):
// an unanswered FIN's findings one row, each incarnation its own; a safe, accepted
// reuse marked benign (hidden on demand), an unsafe one not; frames as a range and
// the incident's Wireshark filter.
func TestIncidents(t *testing.T) {
	reuse := finding(analyzer.ReuseIn2MSL, "10.0.0.1:5000", 2, 30, 40, 41)
	reuse.Outcome, reuse.Verdict = analyzer.OutcomeAccepted, analyzer.VerdictSafeByTimestamps
	unsafe := finding(analyzer.ReuseIn2MSL, "10.0.0.1:5001", 2, 50, 60)
	unsafe.Outcome, unsafe.Verdict = analyzer.OutcomeAccepted, analyzer.VerdictUnsafe
	fin := func(k analyzer.Kind, inc int, frames ...uint64) analyzer.Finding {
		f := finding(k, "10.0.0.1:5000", inc, frames...)
		f.Sender = "server"
		return f
	}
	for _, tc := range []struct {
		name     string
		findings []analyzer.Finding
		want     []string // per row: kinds; frames; benign
	}{
		{"an unanswered FIN", []analyzer.Finding{
			fin(analyzer.MissingFinalAck, 1, 10, 11, 12, 13, 14),
			fin(analyzer.FinRetransmit, 1, 10, 11, 12, 13)},
			[]string{"missing_final_ack,fin_retransmit; 10-14; false"}},
		{"two incarnations", []analyzer.Finding{
			fin(analyzer.MissingFinalAck, 1, 10, 11),
			fin(analyzer.FinRetransmit, 2, 20, 21)},
			[]string{"missing_final_ack; 10-11; false", "fin_retransmit; 20-21; false"}},
		{"reuses", []analyzer.Finding{reuse, unsafe},
			[]string{"reuse_in_2msl; 30-41; true", "reuse_in_2msl; 50-60; false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := report.Document{Findings: tc.findings, Incidents: report.Incidents(tc.findings, false)}
			var got []string
			for _, in := range incidents(&doc) {
				got = append(got, fmt.Sprintf("%s; %s; %v", strings.Join(in.Kinds, ","), in.Frames, in.Benign))
				if !strings.HasSuffix(in.Filter, fmt.Sprintf("frame.number>=%d && frame.number<=%s", in.FirstFrame, in.Frames[strings.LastIndex(in.Frames, "-")+1:])) {
					t.Errorf("filter %q lacks the frame range %s", in.Filter, in.Frames)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("incidents:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
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
		client := netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.%d:%d", i/60000, i%250, 1024+i%60000))
		server := netip.MustParseAddrPort(fmt.Sprintf("10.1.0.%d:80", i%30))
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
	doc := report.Document{Findings: fs, Incidents: report.Incidents(fs, false), Connections: conns, Summary: report.Summary{First: &first, Last: &last, Connections: n,
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

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
)

// closeFinding is what TestCloseJudgment reads of a finding.
type closeFinding struct {
	Kind, Cause, Outcome, Message, Sender string
	Frames                                []uint64
	Count                                 *uint64
	DurationMS                            *float64 `json:"duration_ms"`
	AckLostAfterTap                       bool     `json:"ack_lost_after_tap"`
}

func closeFindings(t *testing.T, file string, args ...string) []closeFinding {
	t.Helper()
	out, errOut, code := runIn(t, pcapDir, append([]string{"-r", file, "-o", "json"}, args...)...)
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct{ Findings []closeFinding }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Findings
}

// TestCloseJudgment: closes the tap could misjudge (generated captures, see
// capture/synth/closes.go), each checked for the frames, times and words that
// make the judgment right.
func TestCloseJudgment(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		check      func(t *testing.T, fs []closeFinding)
	}{
		{"silent first closer holds no TIME_WAIT", "gen-silent-closer.pcap", func(t *testing.T, fs []closeFinding) {
			for _, f := range fs {
				if f.Kind == "rst_in_time_wait" || f.Kind == "late_segment_in_time_wait" {
					t.Errorf("%s for a client that never acknowledged the server's FIN: %s", f.Kind, f.Message)
				}
			}
		}},
		{"the close's own ACKs are not late", "gen-simultaneous-close-tail.pcap", func(t *testing.T, fs []closeFinding) {
			n := 0
			for _, f := range fs {
				if f.Kind != "late_segment_in_time_wait" {
					continue
				}
				n++
				// Frame 25: the old copy of the server's data, 3 s after the
				// crossing final ACKs; the repeated final ACK (frame 11) is not late.
				if !slices.Equal(f.Frames, []uint64{25}) || f.DurationMS == nil || *f.DurationMS < 2990 || *f.DurationMS > 3010 {
					t.Errorf("late frames %v after %v ms, want [25] about 3000 ms after TIME_WAIT began: %s", f.Frames, f.DurationMS, f.Message)
				}
			}
			if n != 1 {
				t.Errorf("%d late_segment_in_time_wait findings, want 1", n)
			}
		}},
		{"FreeBSD/macOS FIN on the ACK", "gen-bsd-fin-on-ack.pcap", func(t *testing.T, fs []closeFinding) {
			for _, f := range fs {
				if f.Kind != "fin_retransmit" || f.Cause != "fin_on_ack" || strings.Contains(f.Message, "lost after the tap") || !strings.Contains(f.Message, "nothing was lost") {
					t.Errorf("%s/%s: %s", f.Kind, f.Cause, f.Message)
				}
			}
		}},
		{"LAST_ACK ends at the first ACK; one round-trip test", "gen-final-ack-second-ack.pcap", func(t *testing.T, fs []closeFinding) {
			var missing []closeFinding
			for _, f := range fs {
				if f.Kind == "missing_final_ack" {
					missing = append(missing, f)
				}
				if f.Kind == "fin_retransmit" && f.Cause == "resent_early" {
					// The same FIN must not be "ACK lost after the tap" elsewhere.
					for _, g := range fs {
						if g.Kind == "missing_final_ack" && g.Frames[0] == f.Frames[0] && g.AckLostAfterTap {
							t.Errorf("FIN %d resent early and its ACK lost after the tap: %s", f.Frames[0], g.Message)
						}
					}
				}
			}
			if len(missing) != 1 {
				t.Fatalf("%d missing_final_ack, want 1 (the early re-send lost nothing)", len(missing))
			}
			m := missing[0]
			// Frames 10 (FIN), 11 (again at +17 ms), 12 (the ACK at +27 ms).
			if !slices.Equal(m.Frames, []uint64{10, 11, 12}) || m.DurationMS == nil || *m.DurationMS != 27 || *m.Count != 1 {
				t.Errorf("frames %v, %v ms, count %v: want [10 11 12], 27 ms, 1 unanswered: %s", m.Frames, m.DurationMS, *m.Count, m.Message)
			}
		}},
		{"simultaneous close, one FIN never acknowledged", "gen-simultaneous-unacked.pcap", func(t *testing.T, fs []closeFinding) {
			found := false
			for _, f := range fs {
				if f.Kind == "missing_final_ack" {
					found = true
					if f.Outcome != "unresolved" || f.Sender != "client" || *f.Count != 10 || !strings.Contains(f.Message, "CLOSING") {
						t.Errorf("outcome %s sender %s count %d: %s", f.Outcome, f.Sender, *f.Count, f.Message)
					}
				}
			}
			if !found {
				t.Error("no missing_final_ack")
			}
		}},
		{"FIN copies that each drew an ACK were sent", "gen-loopback-fin-copies.pcap", func(t *testing.T, fs []closeFinding) {
			if len(fs) != 1 || fs[0].Kind != "fin_retransmit" || !slices.Equal(fs[0].Frames, []uint64{8, 10}) || *fs[0].Count != 1 {
				t.Errorf("findings %+v, want one fin_retransmit of frames 8 and 10", fs)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, closeFindings(t, tc.file)) })
	}
}

// TestSilentCloserStates: the netstat view of the silent first closer. 95 s in, the
// server is in LAST_ACK and the client, whose FIN_WAIT_2 ran out before the server's
// FIN came, has no socket (not TIME_WAIT); 30 s in it was in FIN_WAIT2.
func TestSilentCloserStates(t *testing.T) {
	for _, tc := range []struct {
		at, want, not string
	}{
		{"+95s", "LAST_ACK 1", "TIME_WAIT"},
		{"+30s", "FIN_WAIT2 1", "TIME_WAIT"},
	} {
		out, errOut, code := runIn(t, pcapDir, "-r", "gen-silent-closer.pcap", "--states", "--at", tc.at)
		if code != pipeline.ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		i := strings.Index(out, "states at")
		if i < 0 {
			t.Fatalf("no states table:\n%s", out)
		}
		table := out[i:]
		table = table[:strings.Index(table, "\n\n")]
		if !strings.Contains(table, tc.want) || strings.Contains(table, tc.not) {
			t.Errorf("at %s: want %q and no %q in\n%s", tc.at, tc.want, tc.not, table)
		}
	}
}

// TestOpenOutcomeWording: a FIN whose sender may still retransmit it when the capture
// ends (outcome unresolved) is "not yet acknowledged", in the finding, its incident
// and the text report; "never acknowledged" is for a sender that gave up (outcome
// never). The expected reports are the reports (TestExpectedReports).
func TestOpenOutcomeWording(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(pcapDir, "*.expected.json"))
	seen := map[analyzer.Outcome]int{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Findings  []analyzer.Finding
			Incidents []report.Incident
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		text, err := os.ReadFile(strings.TrimSuffix(path, ".json") + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		type said struct {
			outcome analyzer.Outcome
			what    string
		}
		var all []said
		for _, f := range doc.Findings {
			if f.Kind == analyzer.MissingFinalAck || f.Kind == analyzer.FirstFinUnacked {
				all = append(all, said{f.Outcome, f.Message})
			}
		}
		for _, in := range doc.Incidents {
			if in.Kind == analyzer.MissingFinalAck || in.Kind == analyzer.FirstFinUnacked {
				all = append(all, said{in.Outcome, in.Summary})
				if !strings.Contains(string(text), in.Summary) {
					t.Errorf("%s: the text report does not have the incident %q", path, in.Summary)
				}
			}
		}
		for _, s := range all {
			seen[s.outcome]++
			never, notYet := strings.Contains(s.what, "never acknowledged"), strings.Contains(s.what, "not yet acknowledged")
			switch s.outcome {
			case analyzer.OutcomeUnresolved:
				if never {
					t.Errorf("%s: outcome unresolved, yet %q", filepath.Base(path), s.what)
				}
			case analyzer.OutcomeNever:
				if notYet {
					t.Errorf("%s: outcome never, yet %q", filepath.Base(path), s.what)
				}
			}
		}
	}
	if seen[analyzer.OutcomeUnresolved] == 0 || seen[analyzer.OutcomeNever] == 0 {
		t.Errorf("outcomes seen %v: want both unresolved and never among the committed captures", seen)
	}
}

package main

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestScenarios states, for each capture in testdata/pcaps, what the kernel (or the
// generator) did, in the words of the report: the close shapes with the active
// closer and TIME_WAIT holder of each connection, and each finding with its outcome,
// verdict or cause. The expected reports beside the captures pin every byte; this
// table says what the bytes must mean, independently of finack's own output.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.file, func(t *testing.T) { checkScenario(t, pcapDir, sc) })
	}
}

type scenario struct {
	file     string
	closes   string // per connection: close/active_closer/time_wait_holder, sorted
	findings string // per finding: kind/outcome-or-verdict-or-cause, in report order
}

var scenarios = []scenario{
	{"client-close.pcap", "four_way/client/client", ""},
	{"client-close-v6.pcap", "four_way/client/client", ""},
	{"server-close.pcap", "three_way/server/server", ""},
	{"server-close-v6.pcap", "three_way/server/server", ""},
	{"final-ack-dropped.pcap", "four_way/client/client",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"final-ack-dropped-v6.pcap", "four_way/client/client",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"final-ack-dropped-after-tap.pcap", "four_way/client/client",
		"missing_final_ack/recovered+ack_lost_after_tap fin_retransmit/spurious"},
	{"final-ack-never.pcap", "four_way/client/client reset/none/none",
		"missing_final_ack/never fin_retransmit/fin_or_ack_lost"},
	{"first-fin-unacked.pcap", "reset/none/none unfinished/client/none",
		"first_fin_unacked/never fin_retransmit/fin_or_ack_lost"},
	{"fin-dropped.pcap", "four_way/client/client", ""},
	{"fin-dropped-after-tap.pcap", "four_way/client/client", "fin_retransmit/fin_or_ack_lost"},
	{"half-close.pcap", "half_close/client/client", ""},
	{"simultaneous-close.pcap", "simultaneous/both/both", "fin_retransmit/fin_or_ack_lost"},
	{"unfinished.pcap", "unfinished/client/none", ""},
	{"rst-close.pcap", "reset/none/none", ""},
	{"rst-close-v6.pcap", "reset/none/none", ""},
	{"rst-data-after-close.pcap", "reset/none/none reset/server/none", ""},
	{"reuse-server-timewait.pcap", "three_way/server/server three_way/server/server three_way/server/server",
		"reuse_in_2msl/safe_by_sequence/accepted reuse_in_2msl/safe_by_sequence/accepted"},
	{"reuse-server-timewait-v6.pcap", "three_way/server/server three_way/server/server three_way/server/server",
		"reuse_in_2msl/safe_by_sequence/accepted reuse_in_2msl/safe_by_sequence/accepted"},
	{"reuse-refused.pcap", "three_way/server/server three_way/server/server", "reuse_in_2msl/unsafe/refused reuse_refused/accepted rst_in_time_wait"},
	{"gen-first-fin-unacked.pcap", "reset/client/none unfinished/server/none",
		"first_fin_unacked/never first_fin_unacked/unresolved fin_retransmit/fin_or_ack_lost fin_retransmit/fin_or_ack_lost"},
	{"gen-reuse-lower-isn-no-ts.pcap", "four_way/client/client four_way/server/server", "reuse_in_2msl/unsafe/accepted"},
	{"gen-reuse-timestamps.pcap", "four_way/client/client four_way/server/server four_way/server/server",
		"reuse_in_2msl/safe_by_timestamps/accepted"},
	{"gen-reuse-by-holder.pcap", "four_way/client/client four_way/client/client", "reuse_in_2msl/safe_by_sequence/accepted"},
	{"gen-reuse-answers.pcap", "four_way/client/client four_way/server/server four_way/server/server four_way/server/server none/none/none reset/none/none",
		"reuse_in_2msl/safe_by_sequence/rst reuse_in_2msl/safe_by_sequence/unanswered reuse_in_2msl/safe_by_sequence/accepted"},
	{"gen-seq-wrap.pcap", "four_way/client/client", "missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"gen-stale-segments.pcap", "four_way/client/client three_way/server/server",
		"reuse_in_2msl/safe_by_sequence/accepted stale_segment"},
	{"gen-stale-earlier-incarnations.pcap", "four_way/client/client four_way/server/server four_way/server/server four_way/server/server",
		"reuse_in_2msl/safe_by_sequence/accepted reuse_in_2msl/safe_by_sequence/accepted stale_segment stale_segment reuse_in_2msl/safe_by_sequence/accepted"},
	{"gen-late-and-rst-in-time-wait.pcap", "four_way/client/client",
		"late_segment_in_time_wait rst_in_time_wait"},
	{"gen-reuse-ts-backwards.pcap", "four_way/client/client four_way/server/server", "reuse_in_2msl/unsafe/accepted"},
	// Closes misjudged before (close_test.go checks the details).
	{"gen-silent-closer.pcap", "four_way/client/none",
		"missing_final_ack/never fin_retransmit/fin_or_ack_lost"},
	{"gen-simultaneous-close-tail.pcap", "four_way/client/client simultaneous/both/both",
		"missing_final_ack/recovered+ack_lost_after_tap fin_retransmit/spurious late_segment_in_time_wait"},
	{"gen-bsd-fin-on-ack.pcap", "simultaneous/both/both", "fin_retransmit/fin_on_ack fin_retransmit/fin_on_ack"},
	{"gen-final-ack-second-ack.pcap", "four_way/client/client four_way/client/client",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost fin_retransmit/resent_early"},
	{"gen-simultaneous-unacked.pcap", "unfinished/both/server",
		"missing_final_ack/unresolved fin_retransmit/fin_or_ack_lost"},
	{"gen-loopback-fin-copies.pcap", "four_way/client/client", "fin_retransmit/resent_early"},
	// Connection identity at the handshake (handshake_test.go checks the frames).
	{"gen-late-syn-copy.pcap", "four_way/client/client four_way/client/client", "late_segment_in_time_wait late_segment_in_time_wait"},
	{"gen-syn-into-half-open.pcap", "four_way/client/client none/none/none", "stale_segment syn_refused/accepted"},
	{"gen-syn-retries-gave-up.pcap", "four_way/client/client four_way/client/client none/none/none", ""},
	{"gen-simultaneous-open.pcap", "four_way/client/client", ""},
	{"syn-into-half-open.pcap", "four_way/client/client none/none/none", "syn_refused/accepted"},
	{"syn-retries-exhausted.pcap", "four_way/client/client none/none/none", ""},
	{"simultaneous-open.pcap", "four_way/client/client", ""},
	{"gen-injected-before-synack.pcap", "four_way/client/client four_way/client/client", "injected_before_handshake injected_before_handshake"},
	{"gen-ethernet-vlan-qinq.pcap", "four_way/client/client four_way/client/client four_way/client/client", "missing_final_ack/recovered+ack_lost_after_tap fin_retransmit/spurious"},
	// Hostile traffic around the real connections of synth.RealConnections (a lost
	// final ACK, a clean close); the SYN flood and RST scan are in hostile_test.go.
	{"gen-hostile-seq-wrap.pcap", "four_way/client/client four_way/client/client four_way/client/client four_way/server/server four_way/server/server four_way/server/server",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost reuse_in_2msl/safe_by_sequence/accepted reuse_in_2msl/unsafe/accepted"},
	{"gen-hostile-time-backwards.pcap", "four_way/client/client four_way/client/client four_way/client/client four_way/server/server",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"gen-hostile-duplicated.pcapng", "four_way/client/client four_way/client/client four_way/server/server four_way/server/server",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"gen-hostile-snaplen-options.pcapng", "four_way/client/client four_way/client/client four_way/server/server four_way/server/server",
		"missing_final_ack/recovered fin_retransmit/fin_or_ack_lost missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
	{"gen-hostile-escapes.pcapng", "four_way/client/client four_way/server/server", "missing_final_ack/recovered fin_retransmit/fin_or_ack_lost"},
}

// checkScenario reads a capture in dir and compares its closes and findings with sc.
func checkScenario(t *testing.T, dir string, tc scenario) {
	t.Helper()
	out, errOut, code := runIn(t, dir, "-r", tc.file, "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Findings []struct {
			Kind, Outcome, Verdict, Cause string
			AckLostAfterTap               bool `json:"ack_lost_after_tap"`
		}
		Connections []struct {
			Close          string
			ActiveCloser   string `json:"active_closer"`
			TimeWaitHolder string `json:"time_wait_holder"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var closes, findings []string
	for _, c := range doc.Connections {
		closes = append(closes, c.Close+"/"+c.ActiveCloser+"/"+c.TimeWaitHolder)
	}
	sort.Strings(closes)
	for _, f := range doc.Findings {
		s := f.Kind
		for _, x := range []string{f.Verdict, f.Outcome, f.Cause} {
			if x != "" {
				s += "/" + x
			}
		}
		if f.AckLostAfterTap {
			s += "+ack_lost_after_tap"
		}
		findings = append(findings, s)
	}
	if got := strings.Join(closes, " "); got != tc.closes {
		t.Errorf("closes:\n got %s\nwant %s", got, tc.closes)
	}
	if got := strings.Join(findings, " "); got != tc.findings {
		t.Errorf("findings:\n got %s\nwant %s", got, tc.findings)
	}
}

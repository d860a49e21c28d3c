package main

import (
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestFailOnRules runs --fail-on rules with thresholds on recorded captures.
// final-ack-dropped.pcap has one missing_final_ack (count 3) and one fin_retransmit
// (count 3); reuse-server-timewait.pcap two reuse_in_2msl findings, which carry no
// count (each counts 1).
func TestFailOnRules(t *testing.T) {
	tests := []struct {
		file, failOn string
		code         int
		stderr       string // in stderr when the run fails
	}{
		{"final-ack-dropped.pcap", "fin_retransmit>3", pipeline.ExitOK, ""},
		{"final-ack-dropped.pcap", "fin_retransmit>2", pipeline.ExitFinding, "fin_retransmit total 3 > 2 (--fail-on fin_retransmit>2)"},
		{"final-ack-dropped.pcap", "fin_retransmit>3,missing_final_ack", pipeline.ExitFinding, "missing_final_ack: 1 finding(s) (--fail-on missing_final_ack)"},
		{"final-ack-dropped.pcap", " fin_retransmit > 2 ", pipeline.ExitFinding, "fin_retransmit total 3 > 2"},
		{"final-ack-dropped.pcap", "missing_final_ack>3", pipeline.ExitOK, ""},
		{"final-ack-dropped.pcap", "any>3", pipeline.ExitOK, ""},
		{"final-ack-dropped.pcap", "any>2", pipeline.ExitFinding, "missing_final_ack total 3 > 2 (--fail-on any>2)"},
		{"final-ack-dropped.pcap", "any>0", pipeline.ExitFinding, "fin_retransmit total 3 > 0"},
		{"final-ack-dropped.pcap", "reuse_in_2msl>0", pipeline.ExitOK, ""},
		{"reuse-server-timewait.pcap", "reuse_in_2msl>1", pipeline.ExitFinding, "reuse_in_2msl total 2 > 1"},
		{"reuse-server-timewait.pcap", "reuse_in_2msl>2", pipeline.ExitOK, ""},
		{"reuse-server-timewait.pcap", "reuse_in_2msl", pipeline.ExitFinding, "reuse_in_2msl: 2 finding(s)"},
		{"client-close.pcap", "any>0", pipeline.ExitOK, ""},
		// FreeBSD/macOS set FIN on the ACK of the peer's FIN: a gate can leave it out.
		{"gen-bsd-fin-on-ack.pcap", "fin_retransmit", pipeline.ExitFinding, "fin_retransmit: 2 finding(s) (--fail-on fin_retransmit)"},
		{"gen-bsd-fin-on-ack.pcap", "fin_retransmit:!fin_on_ack", pipeline.ExitOK, ""},
		{"gen-bsd-fin-on-ack.pcap", "fin_retransmit:fin_on_ack>1", pipeline.ExitFinding, "fin_retransmit total 2 > 1 (--fail-on fin_retransmit:fin_on_ack>1)"},
		{"final-ack-dropped.pcap", "fin_retransmit:!fin_on_ack>2", pipeline.ExitFinding, "fin_retransmit total 3 > 2"},
	}
	for _, tc := range tests {
		t.Run(tc.file+" "+tc.failOn, func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, "-r", tc.file, "--fail-on", tc.failOn)
			if code != tc.code {
				t.Fatalf("exit %d, want %d (%s)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q: want %q", errOut, tc.stderr)
			}
			if tc.code == pipeline.ExitOK && errOut != "" {
				t.Errorf("stderr on success: %q", errOut)
			}
			if out == "" {
				t.Error("no report")
			}
		})
	}
}

func TestFailOnUsage(t *testing.T) {
	for _, rule := range []string{"fin_retransmit>", "fin_retransmit>-1", "fin_retransmit>=3", "fin_retransmit>3.5", "bogus>3", "any>x", ">3",
		"fin_retransmit:", "fin_retransmit:!", "fin_retransmit:bogus", "any:fin_on_ack", "bogus:fin_on_ack"} {
		t.Run(rule, func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, "-r", "client-close.pcap", "--fail-on", rule)
			if code != pipeline.ExitError || !strings.HasPrefix(errOut, "finack: --fail-on: ") || strings.Count(errOut, "\n") != 1 || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q: want exit 2 and one line naming --fail-on", code, out, errOut)
			}
		})
	}
}

package main

import (
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestLadderRecorded draws the close of final-ack-dropped.pcap: the client's final
// ACKs were dropped three times, so the server's FIN goes out four times.
func TestLadderRecorded(t *testing.T) {
	out, errOut, code := runIn(t, pcapDir, "-r", "final-ack-dropped.pcap", "--ladder")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `
ladder       10.77.0.1:42910 → 10.77.0.2:7077 #1: missing_final_ack, fin_retransmit (frames 1-14, 14 packets, close four_way)
  frame          time          Δ  client                         server
                                  10.77.0.1:42910        10.77.0.2:7077
      1      0.000000             |----------- SYN seq=0 ------------>|
      2      0.000028      +28µs  |<------ SYN,ACK seq=0 ack=1 -------|
      3      0.000047      +19µs  |-------- ACK seq=1 ack=1 --------->|
                                     ⋮ 2 segment(s) not drawn, frames 4-5
      6      0.000495     +448µs  |<- PSH,ACK seq=1 ack=301 len=500 --|
      7      0.000525      +30µs  |------ ACK seq=301 ack=501 ------->|
      8      0.279553   +279.0ms  |---- FIN,ACK seq=301 ack=501 ----->|
      9      0.320204    +40.7ms  |<------ ACK seq=501 ack=302 -------|  ACKs the FIN
*    10      0.580273   +260.1ms  |<---- FIN,ACK seq=501 ack=302 -----|
*    11      0.792231   +212.0ms  |<---- FIN,ACK seq=501 ack=302 -----|  retransmission
*    12      1.000227   +208.0ms  |<---- FIN,ACK seq=501 ack=302 -----|  retransmission
*    13      1.432217   +432.0ms  |<---- FIN,ACK seq=501 ack=302 -----|  retransmission
*    14      1.432290      +73µs  |------ ACK seq=302 ack=502 ------->|  final ACK
  *: a frame a finding names; time: seconds since the connection's first frame; Δ: since the row above;
  seq/ack: relative to each end's first sequence number (the SYN is 0).
`
	if !strings.HasSuffix(out, want) {
		t.Errorf("ladder:\n%s", lineDiff(want, out[max(0, len(out)-len(want)):]))
	}
}

// TestLadderRefused: a SYN refused by the TIME_WAIT holder's ACK of the old
// connection; relative numbers start again at each end's SYN.
func TestLadderRefused(t *testing.T) {
	out, _, code := runIn(t, pcapDir, "-r", "reuse-refused.pcap", "--ladder")
	if code != pipeline.ExitOK {
		t.Fatal(code)
	}
	for _, want := range []string{
		"*   514      0.000025      +25µs  |<----- ACK seq=0 ack=3994270 ------|  answers the SYN with an ACK of the old connection\n",
		"*   515      0.000033       +8µs  |-------- RST seq=3994270 --------->|  reset\n",
		"*   516      0.012722    +12.7ms  |----------- SYN seq=0 ------------>|  retransmission\n",
		"*   517      0.012753      +31µs  |<------ SYN,ACK seq=0 ack=1 -------|\n",
		"    524      0.013820     +766µs  |---- FIN,ACK seq=301 ack=502 ----->|  ACKs the FIN\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ladder lacks %q:\n%s", want, out)
		}
	}
}

func TestLadderUsage(t *testing.T) {
	for _, o := range []string{"json", "ndjson", "junit"} {
		out, errOut, code := runIn(t, pcapDir, "-r", "final-ack-dropped.pcap", "--ladder", "-o", o)
		if code != pipeline.ExitError || out != "" || !strings.HasPrefix(errOut, "finack: --ladder: ") {
			t.Errorf("-o %s: exit %d, stderr %q", o, code, errOut)
		}
	}
}

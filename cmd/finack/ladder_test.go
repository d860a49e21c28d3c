package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
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

// TestLadderNotes draws made-up segments: a data segment the tap missed, a
// retransmission of data already acknowledged, a duplicate ACK, and a final ACK
// after which the FIN still came again.
func TestLadderNotes(t *testing.T) {
	c := synth.NewConn(netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.2:80"), 1000, 5000, synth.Epoch)
	var ps []synth.Packet
	ps = append(ps, c.Handshake()...)
	c.Data(true, 100) // not captured
	ps = append(ps, c.Data(true, 100), c.ACK(false))
	again := ps[len(ps)-2]
	again.Time = c.Now
	ps = append(ps, again, c.ACK(false))
	ps = append(ps, c.FIN(false), c.FIN(true), c.ACK(false))
	fin := ps[len(ps)-3]
	fin.Time = c.Now
	ps = append(ps, fin)
	segs := make([]capture.Segment, len(ps))
	for i, p := range ps {
		segs[i] = capture.Segment{Frame: uint64(i + 1), Time: p.Time, Src: p.Src, Dst: p.Dst, Seq: p.Seq, Ack: p.Ack, Flags: p.Flags, PayloadLen: uint32(p.Payload)}
	}
	var got []string
	for _, r := range report.LadderRows(segs, netip.MustParseAddrPort("192.0.2.1:40000")) {
		got = append(got, r.Label+" | "+r.NotesText())
	}
	want := []string{
		"SYN seq=0 | ",
		"SYN,ACK seq=0 ack=1 | ",
		"ACK seq=1 ack=1 | ",
		"PSH,ACK seq=101 ack=1 len=100 | previous segment not captured (100 bytes missing)",
		"ACK seq=1 ack=201 | ",
		"PSH,ACK seq=101 ack=1 len=100 | retransmission, already ACKed at the tap",
		"ACK seq=1 ack=201 | dup ACK",
		"FIN,ACK seq=1 ack=201 | ",
		"FIN,ACK seq=201 ack=2 | ACKs the FIN; FIN re-sent after this ACK",
		"ACK seq=2 ack=202 | final ACK",
		"FIN,ACK seq=1 ack=201 | retransmission, already ACKed at the tap",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := report.LadderDelta(1500 * time.Millisecond); d != "+1.500s" {
		t.Errorf("delta %s", d)
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

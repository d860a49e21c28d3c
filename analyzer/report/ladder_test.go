package report

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

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
	segs := make([]ladderSeg, len(ps))
	for i, p := range ps {
		s := capture.Segment{Frame: uint64(i + 1), Time: p.Time, Src: p.Src, Dst: p.Dst, Seq: p.Seq, Ack: p.Ack, Flags: p.Flags, PayloadLen: uint32(p.Payload)}
		segs[i] = ladderSegOf(&s, netip.MustParseAddrPort("192.0.2.1:40000"))
	}
	var got []string
	for _, r := range ladderRows(segs) {
		got = append(got, r.label+" | "+r.notesText())
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
	if d := ladderDelta(1500 * time.Millisecond); d != "+1.500s" {
		t.Errorf("delta %s", d)
	}
}

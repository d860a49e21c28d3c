package synth

import (
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestSegmentCodec: EncodeSegments then DecodeSegments gives the segments back
// (on SegmentFlows' 4-tuples), and any bytes decode without panic into segments in
// capture.TimeRange with ascending frames.
func TestSegmentCodec(t *testing.T) {
	f0, f3 := SegmentFlows[0], SegmentFlows[3]
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC) // the first time is kept to the second (see EncodeSegments)
	in := []capture.Segment{
		{Frame: 1, Time: t0, Src: f0[0], Dst: f0[1], Flags: capture.SYN, Seq: 0xfffffff0, HasTS: true, TSval: 7, IPID: 9, TTL: 64, Window: 64512},
		{Frame: 2, Time: t0.Add(123 * time.Millisecond), Src: f0[1], Dst: f0[0], Flags: capture.SYN | capture.ACK, Seq: 5, Ack: 0xfffffff1, HasTS: true, TSval: 1 << 31, TSecr: 7, IPID: 1},
		{Frame: 5, Time: t0.Add(3 * time.Hour), Src: f3[0], Dst: f3[1], Flags: capture.ACK | capture.PSH, Seq: 100, Ack: 200, PayloadLen: 1400, Truncated: true},
		{Frame: 6, Time: t0.Add(3*time.Hour - 10*time.Second), Src: f0[0], Dst: f0[1], Flags: capture.FIN | capture.ACK, Seq: 0xfffffff1, Ack: 6, IPID: 10},
		{Frame: 7, Time: t0.Add(3*time.Hour - 10*time.Second), Src: f0[0], Dst: f0[1], Flags: capture.FIN | capture.ACK, Seq: 0xfffffff1, Ack: 6, IPID: 10},
	}
	out := DecodeSegments(EncodeSegments(in))
	in[2].Src, in[2].Dst = SegmentFlows[1][0], SegmentFlows[1][1] // the second 4-tuple seen is flow 1
	if len(out) != len(in) {
		t.Fatalf("%d segments back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i] {
			t.Errorf("segment %d:\n got %#v\nwant %#v", i, out[i], in[i])
		}
	}
	// Arbitrary bytes, including time deltas that would leave the range.
	junk := make([]byte, 50*SegmentRecordSize+7)
	for i := range junk {
		junk[i] = byte(i*131 + i>>3)
	}
	for i := 0; i < 50; i++ {
		junk[i*SegmentRecordSize] |= 0xc0 // hours
		junk[i*SegmentRecordSize+2] = 0x7f
	}
	first, last := capture.TimeRange()
	var prev uint64
	for _, s := range DecodeSegments(junk) {
		if s.Time.Before(first) || !s.Time.Before(last) || s.Frame <= prev {
			t.Fatalf("decoded %+v", s)
		}
		prev = s.Frame
	}
}

package reassembly

import (
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// vseg is a seg with its 802.1Q tags.
type vseg struct {
	seg
	vlan [2]uint16
}

// TestVLANJoin: a segment on tags of its own 4-tuple nobody used yet joins the only
// flow of that 4-tuple on other tags when that flow's one incarnation has seen only
// the other direction and the segment answers it (a mirror port that tags one
// direction only); otherwise it is a connection of its own.
func TestVLANJoin(t *testing.T) {
	ms := time.Millisecond
	v100, v42, none, qinq := [2]uint16{100}, [2]uint16{42}, [2]uint16{}, [2]uint16{10, 20}
	// handshake and close: client ISN 100, server ISN 900; cv and sv are the tags of
	// the client's and the server's segments.
	full := func(cv, sv [2]uint16, from time.Duration, cISN, sISN uint32) []vseg {
		return []vseg{
			{seg{'c', from, S, cISN, 0, 0}, cv},
			{seg{'s', from + ms, SA, sISN, cISN + 1, 0}, sv},
			{seg{'c', from + 2*ms, A, cISN + 1, sISN + 1, 0}, cv},
			{seg{'c', from + 3*ms, FA, cISN + 1, sISN + 1, 0}, cv},
			{seg{'s', from + 4*ms, FA, sISN + 1, cISN + 2, 0}, sv},
			{seg{'c', from + 5*ms, A, cISN + 2, sISN + 2, 0}, cv},
		}
	}
	type conn struct {
		packets        uint64
		client, server [2]uint16 // the tags of each end's segments
	}
	for _, tc := range []struct {
		name string
		segs []vseg
		want []conn
	}{
		{"client tagged, server untagged", full(v100, none, 0, 100, 900), []conn{{6, v100, none}}},
		{"server tagged, client untagged", full(none, v100, 0, 100, 900), []conn{{6, none, v100}}},
		{"QinQ one way", full(qinq, v42, 0, 100, 900), []conn{{6, qinq, v42}}},
		{"picked up mid-stream: the ACK joins data it acknowledges", []vseg{
			{seg{'s', 0, A, 900, 101, 50}, v100},
			{seg{'c', ms, A, 101, 950, 0}, none},
			{seg{'s', 2 * ms, A, 950, 101, 50}, v100},
		}, []conn{{3, none, v100}}},
		{"a SYN-ACK that does not acknowledge the SYN joins nothing", []vseg{
			{seg{'c', 0, S, 100, 0, 0}, v100},
			{seg{'s', ms, SA, 900, 555, 0}, none},
		}, []conn{{1, v100, v100}, {1, none, none}}},
		{"both directions on each tag set: two connections", append(full(none, none, 0, 100, 900), full(v42, v42, 10*ms, 5000, 7000)...),
			[]conn{{6, none, none}, {6, v42, v42}}},
		{"the same connection on three tag sets, each whole (zeek's vlan-collisions)", append(append(full(none, none, 0, 100, 900), full(v42, v42, 10*ms, 100, 900)...), full(qinq, qinq, 20*ms, 100, 900)...),
			[]conn{{6, none, none}, {6, v42, v42}, {6, qinq, qinq}}},
		{"two one-sided flows on other tags: which to join is not known", []vseg{
			{seg{'c', 0, S, 100, 0, 0}, none},
			{seg{'c', ms, S, 100, 0, 0}, qinq},
			{seg{'s', 2 * ms, SA, 900, 101, 0}, v42},
		}, []conn{{1, none, none}, {1, qinq, qinq}, {1, v42, v42}}},
		{"the flow saw both directions already", []vseg{
			{seg{'c', 0, S, 100, 0, 0}, v100},
			{seg{'s', ms, SA, 900, 101, 0}, v100},
			{seg{'s', 2 * ms, SA, 900, 101, 0}, none},
		}, []conn{{2, v100, v100}, {1, none, none}}},
		// A join lasts as long as its flow: once the connection is over (closed,
		// TIME_WAIT past), the tagged end's segments are a connection of their own,
		// whether or not a sweep forgot the flow in between.
		{"after the joined connection is over, the tagged end alone", append(full(none, v100, 0, 100, 900),
			vseg{seg{'s', 3 * time.Minute, A, 5000, 7000, 10}, v100}),
			[]conn{{6, none, v100}, {1, v100, v100}}},
		{"after the joined connection is over, a new connect joins again", append(full(none, v100, 0, 100, 900),
			full(none, v100, 3*time.Minute, 5000, 7000)...),
			[]conn{{6, none, v100}, {6, none, v100}}},
		// An earlier connection on the flow stops a join while its window for stale
		// segments (its TIME_WAIT) is open, and not after, whether or not a sweep
		// let it go in between.
		{"a reuse answered on other tags once the connection it replaced is over", append(full(none, none, 0, 100, 900),
			vseg{seg{'c', time.Second, S, 5000, 0, 0}, none},
			vseg{seg{'s', 2 * time.Minute, SA, 7000, 5001, 0}, v42}),
			[]conn{{6, none, none}, {2, none, v42}}},
		{"a reuse answered on other tags while the connection it replaced is in TIME_WAIT", append(full(none, none, 0, 100, 900),
			vseg{seg{'c', time.Second, S, 5000, 0, 0}, none},
			vseg{seg{'s', time.Second + ms, SA, 7000, 5001, 0}, v42}),
			[]conn{{6, none, none}, {1, none, none}, {1, v42, v42}}},
	} {
		for _, mode := range []string{"batch", "streaming", "streaming, no sweep"} {
			streaming := mode != "batch"
			var got []*Incarnation
			cfg := Config{ManualSweep: mode == "streaming, no sweep"}
			if streaming {
				cfg.Done = func(inc *Incarnation) { got = append(got, inc) }
			}
			tr := NewPoisonedTracker(cfg)
			for i, s := range tc.segs {
				x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, VLAN: s.vlan}
				x.Src, x.Dst = cli, srv
				if s.from == 's' {
					x.Src, x.Dst = srv, cli
				}
				tr.Add(&x)
			}
			tr.Finish(InstantOf(t0.Add(tc.segs[len(tc.segs)-1].at)))
			if !streaming {
				got = tr.Incarnations()
			}
			var conns []conn
			for _, inc := range got {
				conns = append(conns, conn{inc.Packets, inc.Key.VLANOf(inc.Client()), inc.Key.VLANOf(inc.Server())})
			}
			if len(conns) != len(tc.want) {
				t.Errorf("%s (%s): %+v, want %+v", tc.name, mode, conns, tc.want)
				continue
			}
			for i := range conns {
				if conns[i] != tc.want[i] {
					t.Errorf("%s (%s): connection %d %+v, want %+v", tc.name, mode, i, conns[i], tc.want[i])
				}
			}
		}
	}
}

package reassembly

import (
	"net/netip"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

var (
	cli = netip.MustParseAddrPort("198.51.100.7:50000")
	srv = netip.MustParseAddrPort("198.51.100.1:443")
	t0  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// seg is a compact segment description for the tests: sender ('c' or 's'), time
// offset, flags, seq, ack.
type seg struct {
	from  byte
	at    time.Duration
	flags capture.Flags
	seq   uint32
	ack   uint32
	data  uint32 // payload bytes
}

func feed(segs []seg) *Tracker {
	return feedIPID(segs, func(i int, _ seg) uint16 { return uint16(i) })
}

// feedIPID is feed with the IP ID of each segment given by ipid.
func feedIPID(segs []seg, ipid func(i int, s seg) uint16) *Tracker {
	tr := NewPoisonedTracker(Config{})
	for i, s := range segs {
		x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, IPID: ipid(i, s)}
		x.Src, x.Dst = cli, srv
		if s.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	tr.Finish(InstantOf(t0.Add(segs[len(segs)-1].at)))
	return tr
}

const (
	S  = capture.SYN
	SA = capture.SYN | capture.ACK
	A  = capture.ACK
	FA = capture.FIN | capture.ACK
	R  = capture.RST
)

func TestIncarnationSplitting(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name       string
		segs       []seg
		want       int  // incarnations
		rolesKnown bool // of the first
		client     netip.AddrPort
		reuse      bool // the last one is a reuse within TIME_WAIT
	}{
		{"SYN retransmitted with the same ISN", []seg{
			{'c', 0, S, 100, 0, 0}, {'c', time.Second, S, 100, 0, 0}, {'s', time.Second + ms, SA, 900, 101, 0},
		}, 1, true, cli, false},
		{"SYN retried with a new ISN, unanswered: the same attempt", []seg{
			{'c', 0, S, 100, 0, 0}, {'c', time.Second, S, 7777, 0, 0}, {'s', time.Second + ms, SA, 900, 7778, 0},
		}, 1, true, cli, false},
		{"mid-stream pickup: roles guessed, lower port is the server", []seg{
			{'s', 0, A, 900, 100, 0}, {'c', ms, A, 100, 901, 0},
		}, 1, false, cli, false},
		{"SYN-ACK first: roles known", []seg{
			{'s', 0, SA, 900, 101, 0}, {'c', ms, A, 101, 901, 0},
		}, 1, true, cli, false},
		{"new SYN after a close, within TIME_WAIT", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
			{'c', 3 * ms, FA, 101, 901, 0}, {'s', 4 * ms, FA, 901, 102, 0}, {'c', 5 * ms, A, 102, 902, 0},
			{'c', time.Second, S, 5000, 0, 0}, {'s', time.Second + ms, SA, 9000, 5001, 0},
		}, 2, true, cli, true},
		{"new SYN 61 s after the close: no reuse finding", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
			{'c', 3 * ms, FA, 101, 901, 0}, {'s', 4 * ms, FA, 901, 102, 0}, {'c', 5 * ms, A, 102, 902, 0},
			{'c', 61 * time.Second, S, 5000, 0, 0},
		}, 2, true, cli, false},
		{"segment long after an RST: a new mid-stream incarnation", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, R, 101, 0, 0},
			{'c', 2 * time.Minute, A, 4000, 6000, 0},
		}, 2, true, cli, false},
		{"SYN carrying data (TCP Fast Open) answered by a SYN-ACK acknowledging it", []seg{
			{'c', 0, S, 100, 0, 86}, {'s', ms, SA, 900, 187, 0}, {'c', 2 * ms, A, 187, 901, 0},
		}, 1, true, cli, false},
		{"SYN-ACK captured before its SYN", []seg{
			{'s', 0, SA, 900, 101, 0}, {'c', 0, S, 100, 0, 0}, {'c', ms, A, 101, 901, 0},
		}, 1, true, cli, false},
		{"several SYN-ACKs with new ISNs answering one SYN", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'s', time.Second, SA, 5555, 101, 0}, {'c', time.Second + ms, A, 101, 5556, 0},
		}, 1, true, cli, false},
		{"unacceptable RST in SYN-SENT, then the SYN-ACK", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, R | A, 0, 100, 0}, {'s', 2 * ms, SA, 900, 101, 0}, {'c', 3 * ms, A, 101, 901, 0},
		}, 1, true, cli, false},
		{"refused SYN retried with the same ISN, then accepted", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, R | A, 0, 101, 0}, {'c', 500 * ms, S, 100, 0, 0}, {'s', 501 * ms, SA, 900, 101, 0},
		}, 1, true, cli, false},
		{"a FIN retransmitted long after the TIME_WAIT length stays in its connection", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, FA, 101, 901, 0},
			{'s', 3 * ms, FA, 901, 102, 0}, {'s', 70 * time.Second, FA, 901, 102, 0},
		}, 1, true, cli, false},
		{"sequence numbers across the 2^32 wrap", []seg{
			{'c', 0, S, 0xfffffffe, 0, 0}, {'s', ms, SA, 900, 0xffffffff, 0}, {'c', 2 * ms, FA, 0xffffffff, 901, 0},
			{'s', 3 * ms, FA, 901, 0, 0}, {'c', 4 * ms, A, 0, 902, 0},
		}, 1, true, cli, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incs := feed(tc.segs).Incarnations()
			if len(incs) != tc.want {
				t.Fatalf("%d incarnations, want %d", len(incs), tc.want)
			}
			first, last := incs[0], incs[len(incs)-1]
			if first.RolesKnown != tc.rolesKnown || first.Client() != tc.client {
				t.Errorf("roles known %v client %s, want %v %s", first.RolesKnown, first.Client(), tc.rolesKnown, tc.client)
			}
			if (last.Reuse != nil) != tc.reuse {
				t.Errorf("reuse %v, want %v", last.Reuse != nil, tc.reuse)
			}
			for i, inc := range incs {
				if inc.Index != i+1 {
					t.Errorf("incarnation %d has index %d", i, inc.Index)
				}
			}
		})
	}
}

func TestFinAckAcrossWrap(t *testing.T) {
	ms := time.Millisecond
	inc := feed([]seg{
		{'c', 0, S, 0xfffffffe, 0, 0}, {'s', ms, SA, 900, 0xffffffff, 0}, {'c', 2 * ms, FA, 0xffffffff, 901, 0},
		{'s', 3 * ms, FA, 901, 0, 0}, {'c', 4 * ms, A, 0, 902, 0},
	}).Incarnations()[0]
	c, s := &inc.Half[Client], &inc.Half[Server]
	if c.FinSeq != 0xffffffff || c.FinAcked.Frame != 4 || !s.FinCoversPeerFin || s.FinAcked.Frame != 5 {
		t.Errorf("client FIN seq %#x acked by frame %d; server FIN covers %v acked by frame %d",
			c.FinSeq, c.FinAcked.Frame, s.FinCoversPeerFin, s.FinAcked.Frame)
	}
	tw := inc.TimeWait(DefaultTimeWait)
	if !tw.Holder[Client] || tw.Holder[Server] || tw.Start.Frame != 5 || tw.Until != InstantOf(t0.Add(4*ms+DefaultTimeWait)) {
		t.Errorf("TIME_WAIT %+v", tw)
	}
}

// TestDuplicatesAndRefusals: a segment captured twice (same numbers, IP ID and
// TSval within 2 ms) is not a FIN retransmission; an ACK that does not acknowledge
// the SYN is a refusal only when an earlier incarnation still held the 4-tuple.
func TestDuplicatesAndRefusals(t *testing.T) {
	ms := time.Millisecond
	tr := NewPoisonedTracker(Config{})
	add := func(frame uint64, from byte, at time.Duration, flags capture.Flags, seq, ack uint32, ipid uint16) {
		x := capture.Segment{Frame: frame, Time: t0.Add(at), Flags: flags, Seq: seq, Ack: ack, IPID: ipid, Src: cli, Dst: srv}
		if from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	add(1, 'c', 0, S, 100, 0, 1)
	add(2, 's', ms, SA, 900, 101, 1)
	add(3, 'c', 2*ms, FA, 101, 901, 2)
	add(4, 'c', 2*ms+40*time.Microsecond, FA, 101, 901, 2) // the same FIN captured again
	add(5, 'c', 300*ms, FA, 101, 901, 3)                   // a real retransmission
	// A first connection on another 4-tuple: SYN, an ACK that does not acknowledge
	// it, the client's RST: no earlier incarnation, so the RST is this one's close.
	other := netip.MustParseAddrPort("198.51.100.7:50001")
	for i, x := range []capture.Segment{
		{Src: other, Dst: srv, Flags: S, Seq: 7},
		{Src: srv, Dst: other, Flags: A, Seq: 0, Ack: 0},
		{Src: other, Dst: srv, Flags: R, Seq: 0},
	} {
		x.Frame, x.Time = uint64(6+i), t0.Add(time.Second+time.Duration(i)*ms)
		tr.Add(&x)
	}
	tr.Finish(InstantOf(t0.Add(2 * time.Second)))
	incs := tr.Incarnations()
	if len(incs) != 2 {
		t.Fatalf("%d incarnations, want 2", len(incs))
	}
	c := &incs[0].Half[Client]
	if c.FinCount != 2 || c.Duplicates != 1 {
		t.Errorf("FIN transmissions %d (want 2), duplicates %d (want 1)", c.FinCount, c.Duplicates)
	}
	if o := incs[1]; o.Refusal.Ack.Seen() || o.Half[Client].RstCount != 1 || !o.Half[Client].Rst.Seen() {
		t.Errorf("first use of a 4-tuple: refusal %+v, client RSTs %d", o.Refusal, o.Half[Client].RstCount)
	}
}

func TestSeqCompare(t *testing.T) {
	if !SeqLess(0xfffffff0, 5) || SeqLess(5, 0xfffffff0) || !SeqLEQ(7, 7) || SeqLess(7, 7) {
		t.Error("serial arithmetic is wrong across the wrap")
	}
}

// TestRstWindow: an RST ends a connection only where its receiver would accept it
// (RFC 5961 §3.2): near the sender's next sequence number while the connection is
// open, exactly at it in TIME_WAIT (Linux tcp_timewait_state_process). A blind RST
// is counted and changes nothing.
func TestRstWindow(t *testing.T) {
	ms := time.Millisecond
	open := []seg{
		{'c', 0, S, 100, 0, 0},
		{'s', ms, SA, 900, 101, 0},
		{'c', 2 * ms, A, 101, 901, 0},
		{'c', 3 * ms, A, 101, 901, 500}, // client's next: 601
	}
	closeAll := []seg{
		{'c', 10 * ms, FA, 601, 901, 0},
		{'s', 11 * ms, A, 901, 602, 0},
		{'s', 12 * ms, FA, 901, 602, 0},
		{'c', 13 * ms, A, 602, 902, 0}, // the client holds TIME_WAIT; the server's next: 902
	}
	for _, tc := range []struct {
		name       string
		segs       []seg
		reset      bool // the connection ends by the RST
		outside    uint32
		rstInTW    bool
		lateEvents uint64
	}{
		{"blind RST, then a normal close", append(append(append([]seg{}, open...), seg{'c', 5 * ms, R, 601 + 1<<30, 0, 0}), closeAll...), false, 1, false, 0},
		{"RST at the next sequence number", append(append([]seg{}, open...), seg{'c', 5 * ms, R, 601, 0, 0}), true, 0, false, 0},
		{"RST a little behind (data the tap saw, in flight)", append(append([]seg{}, open...), seg{'c', 5 * ms, R, 401, 0, 0}), true, 0, false, 0},
		{"RST in TIME_WAIT at the holder's rcv_nxt", append(append(append([]seg{}, open...), closeAll...), seg{'s', time.Second, R, 902, 0, 0}), false, 0, true, 0},
		{"RST in TIME_WAIT off by one: dropped, a late segment", append(append(append([]seg{}, open...), closeAll...), seg{'s', time.Second, R, 903, 0, 0}), false, 1, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs := feed(tc.segs).Incarnations()
			if len(incs) != 1 {
				t.Fatalf("%d incarnations, want 1", len(incs))
			}
			inc := incs[0]
			_, _, reset := inc.FirstRst()
			if tc.rstInTW {
				reset = false // the RST in TIME_WAIT is recorded as such; FirstRst names it too
			}
			outside := inc.Half[Client].RstOutOfWindow + inc.Half[Server].RstOutOfWindow
			if reset != tc.reset || outside != tc.outside || inc.RstInTimeWait.Seen() != tc.rstInTW || inc.Late.Count != tc.lateEvents {
				t.Errorf("reset %v (want %v), out of window %d (want %d), RST in TIME_WAIT %v (want %v), late %d (want %d)",
					reset, tc.reset, outside, tc.outside, inc.RstInTimeWait.Seen(), tc.rstInTW, inc.Late.Count, tc.lateEvents)
			}
		})
	}
}

// TestLateCopies: a segment captured twice whose second copy comes after the next
// segment of the same end (two interfaces, one of them late) is a copy, not a
// retransmission; a byte-identical segment three segments later is not.
func TestLateCopies(t *testing.T) {
	us := time.Microsecond
	for _, tc := range []struct {
		name       string
		segs       []seg
		finCount   uint32
		duplicates uint64
	}{
		{"FIN copy after the final ACK", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', 100 * us, SA, 900, 101, 0}, {'c', 200 * us, A, 101, 901, 0},
			{'c', 300 * us, FA, 101, 901, 0}, {'s', 400 * us, FA, 901, 102, 0}, {'c', 500 * us, A, 102, 902, 0},
			{'c', 1800 * us, FA, 101, 901, 0}, // the FIN again, 1.5 ms later, behind the ACK
		}, 1, 1},
		{"data copies interleaved", []seg{
			{'c', 0, S, 100, 0, 0}, {'s', 100 * us, SA, 900, 101, 0}, {'c', 200 * us, A, 101, 901, 0},
			{'c', 300 * us, A, 101, 901, 10}, {'c', 400 * us, A, 111, 901, 10},
			{'c', 500 * us, A, 101, 901, 10}, {'c', 600 * us, A, 111, 901, 10}, // A B A' B'
		}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// feed gives every segment its own IP ID: make copies carry the original's.
			incs := feedCopies(tc.segs).Incarnations()
			c := &incs[0].Half[Client]
			if len(incs) != 1 || c.FinCount != tc.finCount || c.Duplicates != tc.duplicates {
				t.Errorf("%d incarnations, FIN transmissions %d (want %d), duplicates %d (want %d)", len(incs), c.FinCount, tc.finCount, c.Duplicates, tc.duplicates)
			}
		})
	}
}

// feedCopies is feed with the IP ID derived from the segment's numbers, as copies of
// one packet carry the same.
func feedCopies(segs []seg) *Tracker {
	return feedIPID(segs, func(_ int, s seg) uint16 { return uint16(s.seq ^ s.ack<<3 ^ uint32(s.flags)<<7) })
}

// TestCopyWindow: the same FIN seen twice is one transmission when the second copy
// carries the first one's non-zero IPv4 ID and comes within dupWindowID (a capture
// that forwards each packet twice, milliseconds apart); a new ID, an ID of 0 (IPv6,
// FreeBSD's unfragmentable datagrams) past dupWindow, or the same ID past dupWindowID
// make it a retransmission.
func TestCopyWindow(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		after      time.Duration
		id, copyID uint16
		finCount   uint32
		duplicates uint64
	}{
		{"same ID 12 ms later", 12 * ms, 0x9f98, 0x9f98, 1, 1},
		{"same ID just within the window", time.Duration(dupWindowID) - ms, 0x9f98, 0x9f98, 1, 1},
		{"same ID past the window", time.Duration(dupWindowID), 0x9f98, 0x9f98, 2, 0},
		{"new ID 12 ms later: a retransmission", 12 * ms, 0x9f98, 0x9f99, 2, 0},
		{"ID 0, 1 ms later: a copy", ms, 0, 0, 1, 1},
		{"ID 0, 12 ms later: nothing tells it from a retransmission", 12 * ms, 0, 0, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := []seg{
				{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
				{'c', 3 * ms, FA, 101, 901, 0}, {'c', 3*ms + tc.after, FA, 101, 901, 0},
			}
			incs := feedIPID(segs, func(i int, _ seg) uint16 {
				switch i {
				case 3:
					return tc.id
				case 4:
					return tc.copyID
				}
				return uint16(i + 1)
			}).Incarnations()
			c := &incs[0].Half[Client]
			if len(incs) != 1 || c.FinCount != tc.finCount || c.Duplicates != tc.duplicates {
				t.Errorf("%d incarnations, FIN transmissions %d (want %d), duplicates %d (want %d)", len(incs), c.FinCount, tc.finCount, c.Duplicates, tc.duplicates)
			}
		})
	}
}

// TestHolderShortOfFin: an end enters TIME_WAIT only by taking the peer's FIN. When
// no ACK of the FIN reached the tap it is inferred to have taken the FIN on arrival,
// unless an ACK it sent after the FIN stopped short of it (here a duplicate ACK over
// data lost before the tap): then only a later transmission of the FIN can have put
// it in TIME_WAIT, and a retransmission filling the hole is not a late segment.
func TestHolderShortOfFin(t *testing.T) {
	ms, us := time.Millisecond, time.Microsecond
	at := func(d time.Duration) Instant { return InstantOf(t0.Add(d)) }
	base := []seg{
		{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
		{'s', 3 * ms, FA, 901, 101, 0},  // 4: the server closes
		{'c', 4 * ms, A, 101, 902, 0},   // 5: acknowledged: the server is in FIN_WAIT_2
		{'c', 5 * ms, A, 201, 902, 100}, // 6: bytes 101-200 were lost before the tap
		{'s', 5*ms + 100*us, A, 902, 101, 0},
		{'c', 6 * ms, FA, 301, 902, 0}, // 8: the client's FIN
	}
	dupAck := seg{'s', 6*ms + 100*us, A, 902, 101, 0} // 9: short of the FIN
	for _, tc := range []struct {
		name     string
		more     []seg
		held     bool
		inferred bool
		since    Instant
		start    uint64
		late     uint64
	}{
		{"the holder silent after the FIN: inferred from it", nil, true, true, at(6 * ms), 0, 0},
		{"a duplicate ACK after the FIN, nothing more: FIN_WAIT_2", []seg{dupAck}, false, false, 0, 0, 0},
		{"a duplicate ACK, then the FIN again: inferred from that one", []seg{dupAck, {'c', 300 * ms, FA, 301, 902, 0}}, true, true, at(300 * ms), 0, 0},
		{"a duplicate ACK, the hole filled, the FIN acknowledged", []seg{
			dupAck,
			{'c', 3 * time.Second, A, 101, 902, 100}, // 10: the retransmission filling the hole: not late
			{'s', 3*time.Second + 100*us, A, 902, 302, 0}, // 11: the first ACK of the FIN
		}, true, false, at(3*time.Second + 100*us), 11, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs := feed(append(append([]seg{}, base...), tc.more...)).Incarnations()
			if len(incs) != 1 {
				t.Fatalf("%d incarnations, want 1", len(incs))
			}
			inc := incs[0]
			tw := inc.TimeWait(DefaultTimeWait)
			if tw.Holder[Client] || tw.Holder[Server] != tc.held || tw.Inferred != tc.inferred || tw.Since != tc.since || tw.Start.Frame != tc.start || inc.Late.Count != tc.late {
				t.Errorf("TIME_WAIT %+v, late %d; want server holder %v, inferred %v, since %d, start frame %d, late %d",
					tw, inc.Late.Count, tc.held, tc.inferred, tc.since, tc.start, tc.late)
			}
		})
	}
}

// TestUnansweredFinNotLate: while no ACK of an end's FIN reached the tap, its peer's
// TIME_WAIT is inferred; once the end has sent the FIN again, nothing in the capture
// shows the peer took it, and what the end sends from LAST_ACK (a keepalive probe
// here, one byte at the FIN's sequence number minus one) is not a late segment. The
// netstat view keeps the inferred TIME_WAIT (the ACKs may have been dropped before
// the tap: final-ack-never). Once an ACK of the FIN is seen, the probe is late.
func TestUnansweredFinNotLate(t *testing.T) {
	ms := time.Millisecond
	base := []seg{
		{'c', 0, S, 100, 0, 0}, {'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
		{'s', 3 * ms, FA, 901, 101, 0}, // 4: the server closes
		{'c', 4 * ms, A, 101, 902, 0},  // 5: acknowledged
		{'c', 5 * ms, FA, 101, 902, 0}, // 6: the client's FIN (seq 101)
	}
	resend := seg{'c', 300 * ms, FA, 101, 902, 0}
	probe := seg{'c', time.Second, A, 100, 902, 1}
	for _, tc := range []struct {
		name     string
		more     []seg
		late     uint64
		inferred bool
	}{
		{"the FIN sent once: the inference stands", []seg{probe}, 1, true},
		{"the FIN sent again, never answered", []seg{resend, probe}, 0, true},
		{"the FIN sent again and answered", []seg{resend, {'s', 301 * ms, A, 902, 102, 0}, probe}, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs := feed(append(append([]seg{}, base...), tc.more...)).Incarnations()
			if len(incs) != 1 {
				t.Fatalf("%d incarnations, want 1", len(incs))
			}
			inc := incs[0]
			tw := inc.TimeWait(DefaultTimeWait)
			if !tw.Holder[Server] || tw.Holder[Client] || tw.Inferred != tc.inferred || inc.Late.Count != tc.late {
				t.Errorf("TIME_WAIT %+v, late %d; want the server holding it, inferred %v, late %d", tw, inc.Late.Count, tc.inferred, tc.late)
			}
		})
	}
}

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
}

func feed(segs []seg) *Tracker {
	tr := NewTracker(Config{})
	for i, s := range segs {
		x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack}
		x.Src, x.Dst = cli, srv
		if s.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	tr.Finish(t0.Add(segs[len(segs)-1].at).UnixNano())
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
			{'c', 0, S, 100, 0}, {'c', time.Second, S, 100, 0}, {'s', time.Second + ms, SA, 900, 101},
		}, 1, true, cli, false},
		{"SYN retried with a new ISN, unanswered: the same attempt", []seg{
			{'c', 0, S, 100, 0}, {'c', time.Second, S, 7777, 0}, {'s', time.Second + ms, SA, 900, 7778},
		}, 1, true, cli, false},
		{"mid-stream pickup: roles guessed, lower port is the server", []seg{
			{'s', 0, A, 900, 100}, {'c', ms, A, 100, 901},
		}, 1, false, cli, false},
		{"SYN-ACK first: roles known", []seg{
			{'s', 0, SA, 900, 101}, {'c', ms, A, 101, 901},
		}, 1, true, cli, false},
		{"new SYN after a close, within TIME_WAIT", []seg{
			{'c', 0, S, 100, 0}, {'s', ms, SA, 900, 101}, {'c', 2 * ms, A, 101, 901},
			{'c', 3 * ms, FA, 101, 901}, {'s', 4 * ms, FA, 901, 102}, {'c', 5 * ms, A, 102, 902},
			{'c', time.Second, S, 5000, 0}, {'s', time.Second + ms, SA, 9000, 5001},
		}, 2, true, cli, true},
		{"new SYN 61 s after the close: no reuse finding", []seg{
			{'c', 0, S, 100, 0}, {'s', ms, SA, 900, 101}, {'c', 2 * ms, A, 101, 901},
			{'c', 3 * ms, FA, 101, 901}, {'s', 4 * ms, FA, 901, 102}, {'c', 5 * ms, A, 102, 902},
			{'c', 61 * time.Second, S, 5000, 0},
		}, 2, true, cli, false},
		{"segment long after an RST: a new mid-stream incarnation", []seg{
			{'c', 0, S, 100, 0}, {'s', ms, SA, 900, 101}, {'c', 2 * ms, R, 101, 0},
			{'c', 2 * time.Minute, A, 4000, 6000},
		}, 2, true, cli, false},
		{"sequence numbers across the 2^32 wrap", []seg{
			{'c', 0, S, 0xfffffffe, 0}, {'s', ms, SA, 900, 0xffffffff}, {'c', 2 * ms, FA, 0xffffffff, 901},
			{'s', 3 * ms, FA, 901, 0}, {'c', 4 * ms, A, 0, 902},
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
		{'c', 0, S, 0xfffffffe, 0}, {'s', ms, SA, 900, 0xffffffff}, {'c', 2 * ms, FA, 0xffffffff, 901},
		{'s', 3 * ms, FA, 901, 0}, {'c', 4 * ms, A, 0, 902},
	}).Incarnations()[0]
	c, s := &inc.Half[Client], &inc.Half[Server]
	if c.FinSeq != 0xffffffff || c.FinAcked.Frame != 4 || !s.FinCoversPeerFin || s.FinAcked.Frame != 5 {
		t.Errorf("client FIN seq %#x acked by frame %d; server FIN covers %v acked by frame %d",
			c.FinSeq, c.FinAcked.Frame, s.FinCoversPeerFin, s.FinAcked.Frame)
	}
	tw := inc.TimeWait(int64(DefaultTimeWait))
	if !tw.Holder[Client] || tw.Holder[Server] || tw.Start.Frame != 5 || tw.Until != t0.Add(4*ms+DefaultTimeWait).UnixNano() {
		t.Errorf("TIME_WAIT %+v", tw)
	}
}

func TestSeqCompare(t *testing.T) {
	if !SeqLess(0xfffffff0, 5) || SeqLess(5, 0xfffffff0) || !SeqLEQ(7, 7) || SeqLess(7, 7) {
		t.Error("serial arithmetic is wrong across the wrap")
	}
}

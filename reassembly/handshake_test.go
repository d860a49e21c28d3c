package reassembly

import (
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// tseg is a seg with TCP timestamps (tsval 0: none).
type tseg struct {
	seg
	tsval, tsecr uint32
}

// feedTS feeds segments with timestamps to a batch tracker with cfg.
func feedTS(cfg Config, segs []tseg) []*Incarnation {
	tr := NewPoisonedTracker(cfg)
	for i, s := range segs {
		x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, IPID: uint16(i),
			HasTS: s.tsval != 0, TSval: s.tsval, TSecr: s.tsecr}
		x.Src, x.Dst = cli, srv
		if s.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	tr.Finish(InstantOf(t0.Add(segs[len(segs)-1].at)))
	return tr.Incarnations()
}

func plain(segs ...seg) []tseg {
	out := make([]tseg, len(segs))
	for i, s := range segs {
		out[i] = tseg{seg: s}
	}
	return out
}

// TestHandshakeIdentity: which segments of a handshake make one connection and which
// a new one (TEARDOWN's "Connection identity at the handshake").
func TestHandshakeIdentity(t *testing.T) {
	ms, sec := time.Millisecond, time.Second
	// A connection the client closes first (client TIME_WAIT), its SYN at 0 with ISN
	// 100 (captured when withSyn).
	closed := func(withSyn bool) []seg {
		ss := []seg{{'s', ms, SA, 900, 101, 0}, {'c', 2 * ms, A, 101, 901, 0},
			{'c', 3 * ms, FA, 101, 901, 0}, {'s', 4 * ms, FA, 901, 102, 0}, {'c', 5 * ms, A, 102, 902, 0}}
		if withSyn {
			ss = append([]seg{{'c', 0, S, 100, 0, 0}}, ss...)
		}
		return ss
	}
	type want struct {
		incs      int
		check     func(incs []*Incarnation) string
		giveUpSec int // Config.SynGiveUp in seconds (0: default)
	}
	for _, tc := range []struct {
		name string
		segs []tseg
		want want
	}{
		{"late copy of the SYN after the close, the SYN not captured before", plain(append(closed(false), seg{'c', sec, S, 100, 0, 0})...),
			want{1, func(incs []*Incarnation) string {
				c := &incs[0].Half[Client]
				if incs[0].Reuse != nil || c.SynCount != 0 || c.Syn.Seen() || incs[0].Late.Count != 1 {
					return "want no reuse, no SYN of the client, one late segment"
				}
				return ""
			}, 0}},
		{"late copy of the SYN after the close", plain(append(closed(true), seg{'c', sec, S, 100, 0, 0})...),
			want{1, func(incs []*Incarnation) string {
				if incs[0].Reuse != nil || incs[0].Late.Count != 1 || incs[0].Half[Client].Syn.Frame != 1 {
					return "want no reuse, one late segment, the SYN frame 1"
				}
				return ""
			}, 0}},
		{"late copy of the first connection's SYN during the second", plain(append(closed(true),
			seg{'c', sec, S, 5000, 0, 0}, seg{'s', sec + ms, SA, 9000, 5001, 0}, seg{'c', sec + 2*ms, A, 5001, 9001, 0},
			seg{'c', sec + 3*ms, S, 100, 0, 0})...),
			want{2, func(incs []*Incarnation) string {
				if incs[0].Stale.Count != 1 || incs[1].Half[Client].SynCount != 1 {
					return "want the SYN copy stale in the first"
				}
				return ""
			}, 0}},
		{"SYN with a new ISN into a half-open attempt, refused, the old SYN-ACK repeated", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'s', ms, SA, 900, 101, 0},
			seg{'c', 3 * sec, S, 5000, 0, 0}, seg{'s', 3*sec + ms, A, 901, 101, 0}, seg{'c', 3*sec + 2*ms, R, 101, 0, 0},
			seg{'s', 3*sec + 5*ms, SA, 900, 101, 0}, // the half-open attempt's SYN-ACK timer
			seg{'c', 4 * sec, S, 5000, 0, 0}, seg{'s', 4*sec + ms, SA, 7000, 5001, 0}, seg{'c', 4*sec + 2*ms, A, 5001, 7001, 0}),
			want{2, func(incs []*Incarnation) string {
				old, neu := incs[0], incs[1]
				switch {
				case neu.Before != PrevHalfOpen || neu.Reuse != nil:
					return "want the second after a half-open attempt, no reuse"
				case neu.Refusal.Ack.Frame != 4 || neu.Refusal.Rst.Frame != 5 || neu.Refusal.Retry.Frame != 7:
					return "want the refusal in frames 4, 5, 7"
				case old.Stale.Count != 1 || old.Stale.List[0].Frame != 6:
					return "want the repeated SYN-ACK (frame 6) stale in the first"
				case neu.Half[Client].Rst.Seen() || neu.Half[Server].SynCount != 1:
					return "want the second not reset, its one SYN-ACK"
				}
				return ""
			}, 0}},
		{"SYN-ACK answering an earlier attempt while the current one began without a SYN: its own", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'s', ms, SA, 5000, 7777, 0}, seg{'s', 2 * ms, SA, 900, 101, 0}),
			want{3, func(incs []*Incarnation) string {
				if incs[0].Stale.Count != 0 {
					return "want nothing stale in the first"
				}
				return ""
			}, 0}},
		{"ACK not acknowledging the SYN after an old close: no refusal", plain(append(closed(true),
			seg{'c', 200 * sec, S, 5000, 0, 0}, seg{'s', 200*sec + ms, A, 901, 101, 0}, seg{'c', 200*sec + 2*ms, R, 101, 0, 0})...),
			want{2, func(incs []*Incarnation) string {
				if neu := incs[1]; neu.Before != PrevNone || neu.Refusal.Ack.Seen() || !neu.Half[Client].Rst.Seen() {
					return "want no refusal: nothing held the 4-tuple"
				}
				return ""
			}, 0}},
		{"SYN retries gave up, then a new ISN", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', sec, S, 100, 0, 0}, seg{'c', 3 * sec, S, 100, 0, 0}, seg{'c', 42 * sec, S, 100, 0, 0},
			seg{'c', 197 * sec, S, 5000, 0, 0}, seg{'s', 197*sec + ms, SA, 7000, 5001, 0}),
			want{2, func(incs []*Incarnation) string {
				if incs[0].Half[Client].SynCount != 4 || incs[1].Before != PrevNone || incs[1].Reuse != nil {
					return "want four SYNs in the first, nothing held before the second"
				}
				return ""
			}, 0}},
		{"linear SYN timeouts given up (Linux tcp_syn_linear_timeouts), a new ISN 2.5 s after the last", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', 1024 * ms, S, 100, 0, 0}, seg{'c', 2048 * ms, S, 100, 0, 0},
			seg{'c', 3072 * ms, S, 100, 0, 0}, seg{'c', 4096 * ms, S, 100, 0, 0}, seg{'c', 5120 * ms, S, 100, 0, 0},
			seg{'c', 7620 * ms, S, 5000, 0, 0}),
			want{2, nil, 0}},
		{"new ISN after the next retransmission was due", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', sec, S, 100, 0, 0}, seg{'c', 3 * sec, S, 100, 0, 0}, seg{'c', 10 * sec, S, 5000, 0, 0}),
			want{2, nil, 0}},
		{"new ISN before the next retransmission was due: a retry", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', sec, S, 100, 0, 0}, seg{'c', 3 * sec, S, 100, 0, 0}, seg{'c', 6 * sec, S, 5000, 0, 0}),
			want{1, func(incs []*Incarnation) string {
				if c := &incs[0].Half[Client]; c.SynCount != 4 || c.ISN != 5000 {
					return "want four SYNs, the last ISN 5000"
				}
				return ""
			}, 0}},
		{"one SYN, a new ISN 5 s later: past any first retransmission", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', 5 * sec, S, 5000, 0, 0}),
			want{2, nil, 0}},
		{"new ISN within the backoff and Linux's give-up time", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', 32 * sec, S, 100, 0, 0}, seg{'c', 64 * sec, S, 100, 0, 0}, seg{'c', 80 * sec, S, 5000, 0, 0}),
			want{1, nil, 0}},
		{"the same past BSD's give-up time (75 s)", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', 32 * sec, S, 100, 0, 0}, seg{'c', 64 * sec, S, 100, 0, 0}, seg{'c', 80 * sec, S, 5000, 0, 0}),
			want{2, nil, 75}},
		{"new ISN within the attempt: a retry", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'c', 2 * sec, S, 5000, 0, 0}, seg{'s', 2*sec + ms, SA, 7000, 5001, 0}),
			want{1, nil, 0}},
		{"simultaneous open: SYN, SYN, SYN-ACK, ACK", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'s', ms, S, 900, 0, 0}, seg{'c', 2 * ms, SA, 100, 901, 0}, seg{'s', 3 * ms, A, 901, 101, 0},
			seg{'c', 4 * ms, FA, 101, 901, 0}, seg{'s', 5 * ms, FA, 901, 102, 0}, seg{'c', 6 * ms, A, 102, 902, 0}),
			want{1, func(incs []*Incarnation) string {
				inc := incs[0]
				if inc.Client() != cli || inc.Half[Server].SynCount != 1 || inc.Half[Client].SynCount != 2 || !inc.Half[Client].FinAcked.Seen() {
					return "want one connection, the first SYN's sender the client"
				}
				return ""
			}, 0}},
		{"simultaneous open with two SYN-ACKs (RFC 9293 Figure 8)", plain(
			seg{'c', 0, S, 100, 0, 0}, seg{'s', ms, S, 900, 0, 0}, seg{'c', 2 * ms, SA, 100, 901, 0}, seg{'s', 2 * ms, SA, 900, 101, 0},
			seg{'c', 3 * ms, A, 101, 901, 0}),
			want{1, nil, 0}},
		{"injected FIN with a wrong timestamp echo, the client's RST, the SYN-ACK", []tseg{
			{seg{'c', 0, S, 100, 0, 0}, 5000, 0}, {seg{'s', ms, FA, 900, 101, 0}, 77, 12345},
			{seg{'c', 2 * ms, R, 101, 0, 0}, 0, 0}, {seg{'s', 20 * ms, SA, 5555, 101, 0}, 80000, 5000},
			{seg{'c', 21 * ms, A, 101, 5556, 0}, 5021, 80000}},
			want{1, func(incs []*Incarnation) string {
				inc := incs[0]
				c, s := &inc.Half[Client], &inc.Half[Server]
				switch {
				case inc.Injected.Count != 2 || inc.Injected.List[0].From != Server || inc.Injected.List[1].From != Client:
					return "want the FIN and the client's RST injected"
				case s.FinSeen() || c.Rst.Seen() || c.RstCount != 0 || inc.History.String() != "SeRhWA":
					return "want neither a FIN nor an RST of the connection, history SeRhWA (the test segments advertise a zero window): " + inc.History.String()
				case inc.Packets != 5 || c.Packets+s.Packets != 3:
					return "want 5 packets, 3 of the ends"
				}
				return ""
			}, 0}},
		{"injected RST with a wrong timestamp echo, then the SYN-ACK", []tseg{
			{seg{'c', 0, S, 100, 0, 0}, 5000, 0}, {seg{'s', ms, R | A, 0, 101, 0}, 77, 4000},
			{seg{'s', 20 * ms, SA, 5555, 101, 0}, 80000, 5000}, {seg{'c', 21 * ms, A, 101, 5556, 0}, 5021, 80000}},
			want{1, func(incs []*Incarnation) string {
				inc := incs[0]
				if s := &inc.Half[Server]; inc.Injected.Count != 1 || s.Rst.Seen() || s.RstCount != 0 {
					return "want the RST injected, not the server's"
				}
				return ""
			}, 0}},
		{"RST echoing the SYN's timestamp: the connection refused", []tseg{
			{seg{'c', 0, S, 100, 0, 0}, 5000, 0}, {seg{'s', ms, R | A, 0, 101, 0}, 77, 5000}},
			want{1, func(incs []*Incarnation) string {
				if inc := incs[0]; inc.Injected.Count != 0 || !inc.Half[Server].Rst.Seen() {
					return "want the server's RST"
				}
				return ""
			}, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs := feedTS(Config{SynGiveUp: time.Duration(tc.want.giveUpSec) * time.Second}, tc.segs)
			if len(incs) != tc.want.incs {
				for _, inc := range incs {
					t.Logf("#%d %s %q", inc.Index, inc.Client(), inc.History.String())
				}
				t.Fatalf("%d incarnations, want %d", len(incs), tc.want.incs)
			}
			if tc.want.check != nil {
				if msg := tc.want.check(incs); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

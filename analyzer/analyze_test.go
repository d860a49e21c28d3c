package analyzer

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// wire builds a segment sequence between a client and a server the way a test reads
// it: each step names the sender, flags, seq/ack offsets from the ISNs and the time.
type wire struct {
	t     *testing.T
	c, s  netip.AddrPort
	isnC  uint32
	isnS  uint32
	now   time.Time
	frame uint64
	segs  []capture.Segment
	tsC   uint32
	tsS   uint32
	noTS  bool
}

func newWire(t *testing.T) *wire {
	return &wire{
		t: t, c: netip.MustParseAddrPort("192.0.2.1:40000"), s: netip.MustParseAddrPort("192.0.2.2:80"),
		isnC: 1000, isnS: 5000, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), tsC: 100, tsS: 900,
	}
}

// send appends one segment. from is 'C' or 'S'; seq/ack are relative to the sender's
// and receiver's ISN.
func (w *wire) send(after time.Duration, from byte, flags capture.Flags, seq, ack, payload uint32) {
	w.now = w.now.Add(after)
	w.frame++
	seg := capture.Segment{Frame: w.frame, Time: w.now, Flags: flags, PayloadLen: payload, TTL: 64}
	if from == 'C' {
		seg.Src, seg.Dst, seg.Seq, seg.Ack = w.c, w.s, w.isnC+seq, w.isnS+ack
		w.tsC += 10
		seg.TSval, seg.TSecr = w.tsC, w.tsS
	} else {
		seg.Src, seg.Dst, seg.Seq, seg.Ack = w.s, w.c, w.isnS+seq, w.isnC+ack
		w.tsS += 10
		seg.TSval, seg.TSecr = w.tsS, w.tsC
	}
	seg.HasTS = !w.noTS
	w.segs = append(w.segs, seg)
}

// handshake: SYN, SYN-ACK, ACK, request (100 bytes), response (200 bytes).
func (w *wire) handshake() {
	w.send(0, 'C', capture.SYN, 0, 0, 0)
	w.send(time.Millisecond, 'S', capture.SYN|capture.ACK, 0, 1, 0)
	w.send(time.Millisecond, 'C', capture.ACK, 1, 1, 0)
	w.send(time.Millisecond, 'C', capture.ACK|capture.PSH, 1, 1, 100)
	w.send(time.Millisecond, 'S', capture.ACK|capture.PSH, 1, 101, 200)
	w.send(time.Millisecond, 'C', capture.ACK, 101, 201, 0)
}

func (w *wire) analyze() Report {
	tr := reassembly.NewTracker(reassembly.Config{})
	for i := range w.segs {
		tr.Add(&w.segs[i])
	}
	tr.Finish(reassembly.InstantOf(w.segs[len(w.segs)-1].Time))
	return Analyze(tr.Incarnations(), Config{})
}

const (
	A  = capture.ACK
	F  = capture.FIN | capture.ACK
	R  = capture.RST
	RA = capture.RST | capture.ACK
)

func TestCloseShapes(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		steps  func(w *wire)
		shape  Shape
		closer string
		holder string
		kinds  []Kind
	}{
		{"four way, client first", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', A, 201, 102, 0)
			w.send(ms, 'S', F, 201, 102, 0)
			w.send(ms, 'C', A, 102, 202, 0)
		}, FourWay, "client", "client", nil},
		{"three way, server first", func(w *wire) {
			w.send(ms, 'S', F, 201, 101, 0)
			w.send(ms, 'C', F, 101, 202, 0)
			w.send(ms, 'S', A, 202, 102, 0)
		}, ThreeWay, "server", "server", nil},
		{"simultaneous", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(0, 'S', F, 201, 101, 0)
			w.send(ms, 'C', A, 102, 202, 0)
			w.send(0, 'S', A, 202, 102, 0)
		}, Simultaneous, "both", "both", nil},
		{"half close", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', A, 201, 102, 0)
			w.send(ms, 'S', A|capture.PSH, 201, 102, 500)
			w.send(ms, 'C', A, 102, 701, 0)
			w.send(ms, 'S', F, 701, 102, 0)
			w.send(ms, 'C', A, 102, 702, 0)
		}, HalfClose, "client", "client", nil},
		{"reset", func(w *wire) {
			w.send(ms, 'C', RA, 101, 201, 0)
		}, Reset, "none", "none", nil},
		{"fin then reset", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', R, 201, 0, 0)
		}, Reset, "client", "none", nil},
		{"unfinished: last FIN unanswered at the end", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', A, 201, 102, 0)
			w.send(ms, 'S', F, 201, 102, 0)
		}, Unfinished, "client", "client", nil},
		{"unfinished: one FIN only", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', A, 201, 102, 0)
		}, Unfinished, "client", "none", nil},
		{"no close", func(w *wire) {}, NoClose, "none", "none", nil},
		{"final ACK lost, recovered", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(ms, 'S', F, 201, 102, 0)
			w.send(200*ms, 'S', F, 201, 102, 0)
			w.send(400*ms, 'S', F, 201, 102, 0)
			w.send(ms, 'C', A, 102, 202, 0)
		}, ThreeWay, "client", "client", []Kind{MissingFinalAck, FinRetransmit}},
		{"first FIN never acked", func(w *wire) {
			w.send(ms, 'C', F, 101, 201, 0)
			w.send(200*ms, 'C', F, 101, 201, 0)
			w.send(400*ms, 'C', F, 101, 201, 0)
			w.send(3000*ms, 'C', RA, 102, 201, 0)
		}, Reset, "client", "none", []Kind{FirstFinUnacked, FinRetransmit}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			w.handshake()
			tc.steps(w)
			rep := w.analyze()
			if len(rep.Connections) != 1 {
				t.Fatalf("connections = %d, want 1", len(rep.Connections))
			}
			c := rep.Connections[0]
			if c.Close != tc.shape || c.ActiveCloser != tc.closer || c.TimeWaitHolder != tc.holder {
				t.Errorf("close %s closer %s holder %s, want %s %s %s", c.Close, c.ActiveCloser, c.TimeWaitHolder, tc.shape, tc.closer, tc.holder)
			}
			var kinds []Kind
			for _, f := range rep.Findings {
				kinds = append(kinds, f.Kind)
			}
			if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(tc.kinds), ",") {
				t.Errorf("findings %v, want %v", kinds, tc.kinds)
			}
		})
	}
}

func kindStrings(ks []Kind) []string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return s
}

func TestMissingFinalAckOutcomes(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		steps     func(w *wire)
		outcome   Outcome
		count     uint64
		afterTap  bool
		retxCause Cause
	}{
		{"recovered on the third transmission", func(w *wire) {
			w.send(ms, 'S', F, 201, 101, 0)
			w.send(ms, 'C', F, 101, 202, 0)
			w.send(200*ms, 'C', F, 101, 202, 0)
			w.send(400*ms, 'C', F, 101, 202, 0)
			w.send(ms, 'S', A, 202, 102, 0)
		}, OutcomeRecovered, 2, false, CauseNotAcked},
		{"ACK seen at the tap, lost after it", func(w *wire) {
			w.send(ms, 'S', F, 201, 101, 0)
			w.send(ms, 'C', F, 101, 202, 0)
			w.send(ms, 'S', A, 202, 102, 0)
			w.send(200*ms, 'C', F, 101, 202, 0)
			w.send(ms, 'S', A, 202, 102, 0)
		}, OutcomeRecovered, 1, true, CauseSpurious},
		{"never: gave up silently", func(w *wire) {
			w.send(ms, 'S', F, 201, 101, 0)
			w.send(ms, 'C', F, 101, 202, 0)
			w.send(200*ms, 'C', F, 101, 202, 0)
			w.send(400*ms, 'C', F, 101, 202, 0)
			w.send(5000*ms, 'S', A, 202, 0, 0) // something else later: the capture goes on
		}, OutcomeNever, 3, false, CauseNotAcked},
		{"unresolved at the end", func(w *wire) {
			w.send(ms, 'S', F, 201, 101, 0)
			w.send(ms, 'C', F, 101, 202, 0)
			w.send(200*ms, 'C', F, 101, 202, 0)
			w.send(400*ms, 'C', F, 101, 202, 0)
		}, OutcomeUnresolved, 3, false, CauseNotAcked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			w.handshake()
			tc.steps(w)
			rep := w.analyze()
			var got, retx *Finding
			for i := range rep.Findings {
				switch rep.Findings[i].Kind {
				case MissingFinalAck:
					got = &rep.Findings[i]
				case FinRetransmit:
					retx = &rep.Findings[i]
				}
			}
			if got == nil || retx == nil {
				t.Fatalf("findings %+v: want missing_final_ack and fin_retransmit", rep.Findings)
			}
			if got.Outcome != tc.outcome || *got.Count != tc.count || got.AckAfterTap != tc.afterTap || got.Sender != "client" {
				t.Errorf("outcome %s count %d afterTap %v sender %s, want %s %d %v client\n%s", got.Outcome, *got.Count, got.AckAfterTap, got.Sender, tc.outcome, tc.count, tc.afterTap, got.Message)
			}
			if retx.Cause != tc.retxCause {
				t.Errorf("fin_retransmit cause %s, want %s (%s)", retx.Cause, tc.retxCause, retx.Message)
			}
		})
	}
}

// TestFinResentEarly: a FIN sent again sooner after its ACK passed the tap than the
// sender's round trip from the tap (1 ms here, from the handshake) cannot mean the
// ACK was lost: cause resent_early, not spurious. The same re-send 300 ms later is
// spurious.
func TestFinResentEarly(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		cause Cause
	}{{100 * time.Microsecond, CauseEarly}, {300 * time.Millisecond, CauseSpurious}} {
		w := newWire(t)
		w.handshake()
		w.send(time.Millisecond, 'C', F, 101, 201, 0)
		w.send(time.Millisecond, 'S', A, 201, 102, 0)
		w.send(tc.after, 'C', F, 101, 201, 0)
		w.send(time.Millisecond, 'S', F, 201, 102, 0)
		w.send(time.Millisecond, 'C', A, 102, 202, 0)
		rep := w.analyze()
		if len(rep.Findings) != 1 || rep.Findings[0].Kind != FinRetransmit || rep.Findings[0].Cause != tc.cause {
			t.Errorf("re-sent %v after the ACK: findings %+v, want one fin_retransmit with cause %s", tc.after, rep.Findings, tc.cause)
		}
	}
}

// TestOneWayCapture: with only one direction in the capture, a FIN sent twice is not
// "never acknowledged": the capture cannot show the ACK.
func TestOneWayCapture(t *testing.T) {
	w := newWire(t)
	w.send(0, 'C', A, 1, 1, 100)
	w.send(time.Millisecond, 'C', F, 101, 1, 0)
	w.send(300*time.Millisecond, 'C', F, 101, 1, 0)
	rep := w.analyze()
	for _, f := range rep.Findings {
		if f.Kind == FirstFinUnacked || f.Kind == MissingFinalAck {
			t.Errorf("one-way capture: unexpected %s: %s", f.Kind, f.Message)
		}
	}
}

// TestLateBeforeAckedTimeWait: the TIME_WAIT holder's first final ACK never reached
// the tap; a late segment of the peer comes (an old copy of its data), and the holder answers it with an ACK
// (as a Linux TIME_WAIT socket answers any segment): the first ACK of the FIN seen
// comes after the late segment. The segment still reached TIME_WAIT, which began
// with the FIN: its delay is counted from there, never negative.
func TestLateBeforeAckedTimeWait(t *testing.T) {
	ms := time.Millisecond
	w := newWire(t)
	w.handshake()
	w.send(ms, 'C', F, 101, 201, 0)       // the client closes
	w.send(ms, 'S', A, 201, 102, 0)       // acknowledged
	w.send(5*ms, 'S', F, 201, 102, 0)     // the server's FIN: the client enters TIME_WAIT
	w.send(100*ms, 'S', A, 101, 101, 100) // late: an old copy of the server's data; the final ACK was not seen
	w.send(ms, 'C', A, 102, 202, 0)       // the holder's answer, the first ACK of the FIN seen
	rep := w.analyze()
	var late *Finding
	for i := range rep.Findings {
		if rep.Findings[i].Kind == LateInTimeWait {
			late = &rep.Findings[i]
		}
	}
	if late == nil {
		t.Fatalf("no %s; findings %+v", LateInTimeWait, rep.Findings)
	}
	if late.DurationMS == nil || *late.DurationMS != 100 {
		t.Errorf("duration_ms %v, want 100 (from the server's FIN)", late.DurationMS)
	}
	if !strings.Contains(late.Message, "100.0ms after TIME_WAIT began") {
		t.Errorf("message %q, want the delay from the FIN (100.0ms)", late.Message)
	}
}

package analyzer

import (
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// serverClosesThenReconnect: the server closes first and holds TIME_WAIT; after gap
// the client connects again from the same port with ISN newISN (absolute).
func serverClosesThenReconnect(w *wire, gap time.Duration, newISN uint32, answer func(w *wire)) {
	ms := time.Millisecond
	w.handshake()
	w.send(ms, 'S', F, 201, 101, 0)
	w.send(ms, 'C', F, 101, 202, 0)
	w.send(ms, 'S', A, 202, 102, 0) // final ACK: the server enters TIME_WAIT
	oldC := w.isnC
	w.isnC = newISN
	w.send(gap, 'C', capture.SYN, 0, 0, 0)
	_ = oldC
	answer(w)
}

func TestReuseIn2MSL(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		gap     time.Duration
		isn     uint32
		noTS    bool
		answer  func(w *wire)
		want    bool
		verdict Verdict
		outcome Outcome
	}{
		{"higher ISN accepted", 2 * time.Second, 100000, false, func(w *wire) {
			w.isnS = 777000
			w.send(ms, 'S', capture.SYN|capture.ACK, 0, 1, 0)
			w.send(ms, 'C', A, 1, 1, 0)
		}, true, VerdictSafeBySequence, OutcomeAccepted},
		{"lower ISN, newer timestamps", 2 * time.Second, 10, false, func(w *wire) {
			w.isnS = 777000
			w.send(ms, 'S', capture.SYN|capture.ACK, 0, 1, 0)
		}, true, VerdictSafeByTimestamps, OutcomeAccepted},
		{"lower ISN, no timestamps, refused then retried", 2 * time.Second, 10, true, func(w *wire) {
			// The TIME_WAIT holder answers with an ACK of the old connection: seq = its
			// old snd_nxt (5000+202), ack = the client's old snd_nxt (1000+102).
			w.frame++
			w.now = w.now.Add(ms)
			w.segs = append(w.segs, capture.Segment{Frame: w.frame, Time: w.now, Src: w.s, Dst: w.c, Seq: 5202, Ack: 1102, Flags: A})
			w.frame++
			w.now = w.now.Add(ms)
			w.segs = append(w.segs, capture.Segment{Frame: w.frame, Time: w.now, Src: w.c, Dst: w.s, Seq: 1102, Flags: R})
			w.send(time.Second, 'C', capture.SYN, 0, 0, 0)
			w.isnS = 777000
			w.send(ms, 'S', capture.SYN|capture.ACK, 0, 1, 0)
		}, true, VerdictUnsafe, OutcomeRefused},
		{"after TIME_WAIT ran out: no finding", 61 * time.Second, 10, false, func(w *wire) {}, false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWire(t)
			w.noTS = tc.noTS
			serverClosesThenReconnect(w, tc.gap, tc.isn, tc.answer)
			rep := w.analyze()
			if len(rep.Connections) != 2 {
				t.Fatalf("connections = %d, want 2", len(rep.Connections))
			}
			if c := rep.Connections[0]; c.TimeWaitHolder != "server" || c.Close != ThreeWay {
				t.Errorf("first incarnation: holder %s close %s", c.TimeWaitHolder, c.Close)
			}
			var f *Finding
			for i := range rep.Findings {
				if rep.Findings[i].Kind == ReuseIn2MSL {
					f = &rep.Findings[i]
				}
			}
			if !tc.want {
				if f != nil {
					t.Fatalf("unexpected finding %+v", f)
				}
				return
			}
			if f == nil {
				t.Fatalf("no reuse_in_2msl in %+v", rep.Findings)
			}
			if f.Verdict != tc.verdict || f.Outcome != tc.outcome || f.TimeWaitHolder != "server" || f.Incarnation != 2 {
				t.Errorf("verdict %s outcome %s holder %s inc %d, want %s %s server 2\n%s", f.Verdict, f.Outcome, f.TimeWaitHolder, f.Incarnation, tc.verdict, tc.outcome, f.Message)
			}
			if rep.Connections[1].Close != NoClose {
				t.Errorf("the refusal must not close the new incarnation: %s", rep.Connections[1].Close)
			}
		})
	}
}

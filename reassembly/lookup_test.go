package reassembly

import (
	"net/netip"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestEndIndependentOfSweeps: a connection over before the capture ends (closed and
// quiet past its wait) ends at the moment it was over, for the same reason, whether
// a batch tracker finds it at Finish, a streaming one at a sweep, or at Finish with
// no sweep in between; one still in its wait at the end ends with the capture.
func TestEndIndependentOfSweeps(t *testing.T) {
	ms := time.Millisecond
	tw := time.Second
	other := netip.MustParseAddrPort("198.51.100.9:50001")
	closed := []seg{
		{'c', 0, S, 100, 0, 0},
		{'s', ms, SA, 900, 101, 0},
		{'c', 2 * ms, A, 101, 901, 0},
		{'c', 3 * ms, FA, 101, 901, 0},
		{'s', 4 * ms, FA, 901, 102, 0},
		{'c', 5 * ms, A, 102, 902, 0},
	}
	unanswered := []seg{ // the server's FIN is never acknowledged: twice the wait
		{'c', 0, S, 100, 0, 0},
		{'s', ms, SA, 900, 101, 0},
		{'c', 2 * ms, FA, 101, 901, 0},
		{'s', 3 * ms, FA, 901, 102, 0},
	}
	for _, tc := range []struct {
		name   string
		segs   []seg
		end    time.Duration // the capture's last segment, on another 4-tuple
		want   EndReason
		wantAt time.Duration
	}{
		{"over long before the end", closed, 10 * time.Second, EndExpired, 5*ms + tw},
		{"a FIN unanswered waits twice as long", unanswered, 10 * time.Second, EndExpired, 3*ms + 2*tw},
		{"still in TIME_WAIT at the end", closed, 500 * ms, EndCaptureEnd, 500 * ms},
	} {
		for _, mode := range []string{"batch", "streaming", "streaming, no sweep"} {
			var got []*Incarnation
			cfg := Config{TimeWait: tw, ManualSweep: mode == "streaming, no sweep"}
			if mode != "batch" {
				cfg.Done = func(inc *Incarnation) { got = append(got, inc) }
			}
			tr := NewPoisonedTracker(cfg)
			add := func(i int, x capture.Segment) {
				x.Frame = uint64(i + 1)
				tr.Add(&x)
			}
			for i, s := range tc.segs {
				x := capture.Segment{Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, Src: cli, Dst: srv}
				if s.from == 's' {
					x.Src, x.Dst = srv, cli
				}
				add(i, x)
			}
			add(len(tc.segs), capture.Segment{Time: t0.Add(tc.end), Flags: S, Seq: 5, Src: other, Dst: srv})
			tr.Finish(InstantOf(t0.Add(tc.end)))
			if mode == "batch" {
				got = tr.Incarnations()
			}
			var inc *Incarnation
			for _, g := range got {
				if g.First.Frame == 1 {
					inc = g
				}
			}
			if inc == nil {
				t.Fatalf("%s (%s): the connection was not handed out", tc.name, mode)
			}
			if inc.End != tc.want || inc.EndAt != InstantOf(t0.Add(tc.wantAt)) {
				t.Errorf("%s (%s): ended %v at %v, want %v at %v", tc.name, mode, inc.End, inc.EndAt.Sub(InstantOf(t0)), tc.want, tc.wantAt)
			}
		}
	}
}

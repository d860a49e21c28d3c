package reassembly

import (
	"reflect"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// reuseSpaces are the ISNs of the incarnations reusedSegs makes: client ISNs 30 M
// apart, and the server's each its old snd_nxt + 65537 (Linux taking a SYN in
// TIME_WAIT).
func reuseSpaces(n int) (c, s []uint32) {
	cISN, sISN := uint32(1000000), uint32(70000)
	for range n {
		c, s = append(c, cISN), append(s, sISN)
		cISN += 30000000
		sISN += 202 + 65537
	}
	return c, s
}

// reusedSegs: n incarnations of one 4-tuple, 2 s apart, each a handshake, 100 bytes
// from the client, 200 from the server, and (but the last) a close the server
// starts: it holds TIME_WAIT and takes the next SYN.
func reusedSegs(n int) []seg {
	c, s := reuseSpaces(n)
	ms := time.Millisecond
	var out []seg
	for k := range n {
		T := time.Duration(k) * 2 * time.Second
		ck, sk := c[k], s[k]
		inc := []seg{
			{'c', 0, S, ck, 0, 0}, {'s', 0, SA, sk, ck + 1, 0}, {'c', 0, A, ck + 1, sk + 1, 0},
			{'c', 0, A, ck + 1, sk + 1, 100}, {'s', 0, A, sk + 1, ck + 101, 0},
			{'s', 0, A, sk + 1, ck + 101, 200}, {'c', 0, A, ck + 101, sk + 201, 0},
		}
		if k < n-1 {
			inc = append(inc, seg{'s', 0, FA, sk + 201, ck + 101, 0}, seg{'c', 0, A, ck + 101, sk + 202, 0},
				seg{'c', 0, FA, ck + 101, sk + 202, 0}, seg{'s', 0, A, sk + 202, ck + 102, 0})
		}
		for i := range inc {
			inc[i].at = T + time.Duration(i)*ms
		}
		out = append(out, inc...)
	}
	return out
}

// TestStaleEarlierIncarnations: during the last of n incarnations of a 4-tuple
// reused quickly, a segment goes to the earlier incarnation whose sequence space it
// fits (seq within what its sender sent, ack within what the peer sent), however many
// incarnations back, up to maxEarlier; one whose ACK acknowledges nothing of the
// current incarnation and that fits no earlier one held is out of the window,
// never data of the current one; the current one's own segments stay its own.
func TestStaleEarlierIncarnations(t *testing.T) {
	c, s := reuseSpaces(6)
	for _, tc := range []struct {
		name    string
		n       int // incarnations
		probe   seg
		staleOf int    // the incarnation it is a stale segment of (0: none)
		oow     uint32 // the current incarnation's OutOfWindow after it
		grew    uint32 // how far the current incarnation's snd_nxt of the sender moved
	}{
		{"client data of 1 during 3", 3, seg{'c', 0, A, c[0] + 1, s[0] + 1, 100}, 1, 0, 0},
		{"server data of 2 during 3", 3, seg{'s', 0, A, s[1] + 1, c[1] + 101, 200}, 2, 0, 0},
		{"server FIN of 1 during 4", 4, seg{'s', 0, FA, s[0] + 201, c[0] + 101, 0}, 1, 0, 0},
		{"bare ACK of 2 during 4", 4, seg{'c', 0, A, c[1] + 101, s[1] + 201, 0}, 2, 0, 0},
		{"ack beyond anything the server sent", 3, seg{'c', 0, A, c[2] + 101, s[2] + 201 + 1<<30, 100}, 0, 1, 0},
		{"ack below the current server ISN, fitting no incarnation", 3, seg{'c', 0, A, c[2] + 101, s[0] - 5000, 100}, 0, 1, 0},
		{"seq of 1 with an ack of 2: fits none", 3, seg{'c', 0, A, c[0] + 1, s[1] + 1, 100}, 0, 1, 0},
		{"the current incarnation's own data", 3, seg{'c', 0, A, c[2] + 101, s[2] + 201, 100}, 0, 0, 100},
		{"ack a little beyond what the tap saw: the current one's", 3, seg{'c', 0, A, c[2] + 101, s[2] + 201 + 1000, 100}, 0, 0, 100},
		{"incarnation 2 of 6 is still held", 6, seg{'c', 0, A, c[1] + 1, s[1] + 1, 100}, 2, 0, 0},
		{"incarnation 1 of 6 is past maxEarlier: out of the window", 6, seg{'c', 0, A, c[0] + 1, s[0] + 1, 100}, 0, 1, 0},
	} {
		for _, streaming := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/batch", true: "/streaming"}[streaming], func(t *testing.T) {
				segs := reusedSegs(tc.n)
				last := segs[len(segs)-1]
				before := feedMode(segs, streaming)
				probe := tc.probe
				probe.at = last.at + 100*time.Millisecond
				after := feedMode(append(segs, probe), streaming)
				if len(after) != tc.n {
					t.Fatalf("%d incarnations, want %d", len(after), tc.n)
				}
				r := Client
				if probe.from == 's' {
					r = Server
				}
				cur, was := after[tc.n-1], before[tc.n-1]
				for i, inc := range after {
					wantStale := uint64(0)
					if i+1 == tc.staleOf {
						wantStale = 1
					}
					if inc.Stale.Count != wantStale {
						t.Errorf("incarnation %d: %d stale segments, want %d", inc.Index, inc.Stale.Count, wantStale)
					} else if wantStale == 1 && inc.Stale.List[0].During != uint32(tc.n) {
						t.Errorf("incarnation %d: stale segment during incarnation %d, want %d", inc.Index, inc.Stale.List[0].During, tc.n)
					}
				}
				if got := cur.Half[r].OutOfWindow; got != tc.oow {
					t.Errorf("current incarnation: %d segments out of the window, want %d", got, tc.oow)
				}
				if grew := cur.Half[r].NextSeq - was.Half[r].NextSeq; grew != tc.grew {
					t.Errorf("current incarnation's %s snd_nxt moved %d, want %d", r, grew, tc.grew)
				}
				var packets uint64
				for _, inc := range after {
					packets += inc.Packets
				}
				if packets != uint64(len(segs)+1) {
					t.Errorf("%d packets in the incarnations, %d segments", packets, len(segs)+1)
				}
			})
		}
	}
}

// feedMode feeds segs to a batch tracker, or a streaming one, and returns the
// incarnations in order of index.
func feedMode(segs []seg, streaming bool) []*Incarnation {
	if !streaming {
		return feed(segs).Incarnations()
	}
	var got []*Incarnation
	tr := NewPoisonedTracker(Config{Done: func(inc *Incarnation) { got = append(got, inc) }})
	for i, s := range segs {
		x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, IPID: uint16(i)}
		x.Src, x.Dst = cli, srv
		if s.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	tr.Finish(InstantOf(t0.Add(segs[len(segs)-1].at)))
	out := make([]*Incarnation, len(got))
	for _, inc := range got {
		out[inc.Index-1] = inc
	}
	return out
}

// TestEarlierBounded: a fast-reuse flood on one 4-tuple (a new incarnation every
// 10 ms, each closed by the server, which holds TIME_WAIT) holds at most
// maxEarlier+1 incarnations at once, and still hands every one to Done once.
func TestEarlierBounded(t *testing.T) {
	handed := map[*Incarnation]int{}
	tr := NewPoisonedTracker(Config{Done: func(inc *Incarnation) { handed[inc]++ }})
	const n = 200
	segs := reusedSegs(n)
	peak := 0
	for i, s := range segs {
		x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(s.at / 200), Flags: s.flags, Seq: s.seq, Ack: s.ack, PayloadLen: s.data, IPID: uint16(i)}
		x.Src, x.Dst = cli, srv
		if s.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
		peak = max(peak, tr.Stats().Tracked)
	}
	tr.Finish(InstantOf(t0.Add(segs[len(segs)-1].at / 200)))
	if peak > maxEarlier+1 {
		t.Errorf("%d incarnations held at once on one 4-tuple, want at most %d", peak, maxEarlier+1)
	}
	if len(handed) != n {
		t.Errorf("%d incarnations handed to Done, want %d", len(handed), n)
	}
	for inc, k := range handed {
		if k != 1 {
			t.Errorf("incarnation %d handed %d times", inc.Index, k)
		}
	}
}

// TestStaleAllocatesNothing: a segment matched against the earlier incarnations
// costs no allocation, whether it is a stale segment of one of them (once its
// evidence list is full), out of the window, or the current incarnation's own.
func TestStaleAllocatesNothing(t *testing.T) {
	c, s := reuseSpaces(4)
	segs := reusedSegs(4)
	tr := NewPoisonedTracker(Config{})
	frame := uint64(0)
	add := func(sg seg, at time.Duration) {
		frame++
		x := capture.Segment{Frame: frame, Time: t0.Add(at), Flags: sg.flags, Seq: sg.seq, Ack: sg.ack, PayloadLen: sg.data, IPID: uint16(frame)}
		x.Src, x.Dst = cli, srv
		if sg.from == 's' {
			x.Src, x.Dst = srv, cli
		}
		tr.Add(&x)
	}
	for _, sg := range segs {
		add(sg, sg.at)
	}
	at := segs[len(segs)-1].at
	stale := seg{'c', 0, A, c[0] + 1, s[0] + 1, 100}
	for range maxEvents {
		at += time.Millisecond
		add(stale, at)
	}
	for _, tc := range []struct {
		name string
		seg  seg
	}{
		{"stale segment of incarnation 1", stale},
		{"stale segment of incarnation 3", seg{'s', 0, A, s[2] + 1, c[2] + 101, 200}},
		{"out of the window", seg{'c', 0, A, c[3] + 101, s[3] + 201 + 1<<30, 100}},
		{"the current incarnation's", seg{'c', 0, A, c[3] + 101, s[3] + 201, 0}},
	} {
		n := testing.AllocsPerRun(1000, func() {
			at += time.Millisecond
			add(tc.seg, at)
		})
		if n != 0 {
			t.Errorf("%s: %.1f allocations per segment, want 0", tc.name, n)
		}
	}
	incs := tr.Incarnations()
	if len(incs) != 4 || incs[0].Stale.Count < 1000 || incs[3].Half[Client].OutOfWindow < 1000 {
		t.Errorf("%d incarnations; %d stale segments of the first, %d out of the window", len(incs), incs[0].Stale.Count, incs[3].Half[Client].OutOfWindow)
	}
}

// TestReuseLeavesEarlierPacked: on a 4-tuple reused three times within TIME_WAIT,
// every incarnation packed after every segment, the earlier incarnations stay packed
// for the SYN that reuses the 4-tuple again and for a segment of the current
// incarnation: those are answered from the packed records (prevSig, the current
// incarnation's own numbers). A segment of an earlier incarnation (a stale ACK, a
// copy of its SYN or SYN-ACK) unpacks them and goes to that one. Either way the
// tracker hands out what one that never packs hands out.
func TestReuseLeavesEarlierPacked(t *testing.T) {
	c, s := reuseSpaces(6)
	const perInc = 11 // segments of each closed incarnation (reusedSegs)
	for _, tc := range []struct {
		name     string
		n        int // closed incarnations before the probe
		probe    seg
		unpacked bool // the earlier incarnations were unpacked
		packed   int  // earlier incarnations packed after the probe
		staleOf  int  // the incarnation it is a stale segment of (0: none)
		incs     int  // incarnations after the probe
	}{
		// (The SYN packs the incarnation it replaces too: reusePacked.)
		{"the SYN reusing the 4-tuple", 3, seg{'c', 0, S, c[3], 0, 0}, false, 3, 0, 4},
		{"the SYN reusing it past maxEarlier: the oldest goes", 5, seg{'c', 0, S, c[5], 0, 0}, false, 4, 0, 6},
		{"the current incarnation's FIN again", 3, seg{'s', 0, FA, s[2] + 201, c[2] + 101, 0}, false, 2, 0, 3},
		{"the current incarnation's final ACK again", 3, seg{'c', 0, A, c[2] + 102, s[2] + 202, 0}, false, 2, 0, 3},
		{"stale data of incarnation 1", 3, seg{'c', 0, A, c[0] + 1, s[0] + 1, 100}, true, 0, 1, 3},
		{"a copy of incarnation 2's SYN", 3, seg{'c', 0, S, c[1], 0, 0}, true, 0, 2, 3},
		{"a copy of incarnation 1's SYN-ACK", 3, seg{'s', 0, SA, s[0], c[0] + 1, 0}, true, 0, 1, 3},
		{"a copy of incarnation 4's SYN", 5, seg{'c', 0, S, c[3], 0, 0}, true, 0, 4, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := reusedSegs(tc.n + 1)[:tc.n*perInc]
			probe := tc.probe
			probe.at = segs[len(segs)-1].at + 100*time.Millisecond
			run := func(pack bool) (*Tracker, []*Incarnation, int) {
				var got []*Incarnation
				tr := NewPoisonedTracker(Config{Done: func(inc *Incarnation) { got = append(got, inc) }})
				tr.hooks.noPack, tr.hooks.alwaysWake = !pack, true
				var f *flow
				before := 0
				for i, sg := range append(segs[:len(segs):len(segs)], probe) {
					x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(sg.at), Flags: sg.flags, Seq: sg.seq, Ack: sg.ack, PayloadLen: sg.data, IPID: uint16(i)}
					x.Src, x.Dst = cli, srv
					if sg.from == 's' {
						x.Src, x.Dst = srv, cli
					}
					if i == len(segs) {
						k, _ := KeyOf(&x)
						f = tr.flowOf(k)
						before = tr.hooks.prevUnpacked
						if pack && tr.packedPrev(f).len() != min(tc.n-1, maxEarlier) {
							t.Fatalf("%d earlier incarnations packed before the probe, want %d", tr.packedPrev(f).len(), min(tc.n-1, maxEarlier))
						}
					}
					tr.Add(&x)
					if pack && i < len(segs) {
						tr.packEverything()
					}
				}
				n := tr.packedPrev(f).len()
				if unpacked := tr.hooks.prevUnpacked > before; pack && unpacked != tc.unpacked {
					t.Errorf("earlier incarnations unpacked: %v, want %v", unpacked, tc.unpacked)
				}
				tr.Finish(InstantOf(t0.Add(probe.at)))
				return tr, got, n
			}
			_, want, _ := run(false)
			_, got, packed := run(true)
			if packed != tc.packed {
				t.Errorf("%d earlier incarnations packed after the probe, want %d", packed, tc.packed)
			}
			if len(got) != tc.incs {
				t.Fatalf("%d incarnations, want %d", len(got), tc.incs)
			}
			for _, inc := range got {
				wantStale := uint64(0)
				if inc.Index == tc.staleOf {
					wantStale = 1
				}
				if inc.Stale.Count != wantStale {
					t.Errorf("incarnation %d: %d stale segments, want %d", inc.Index, inc.Stale.Count, wantStale)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the incarnations differ from those of a tracker that never packs\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestRefusalRstAfterEarlierHandedOut: a SYN reuses the 4-tuple the server holds in
// TIME_WAIT, the server refuses it with an ACK, and the client's RST answering that
// ACK comes when the TIME_WAIT is over and a sweep has handed the earlier
// incarnation out (cutting Reuse.Prev). The RST is the refusal's, and ends no
// TIME_WAIT; before the earlier incarnation is over it ends its TIME_WAIT. A
// streaming tracker that sweeps gives what a batch tracker gives, and nothing
// panics.
func TestRefusalRstAfterEarlierHandedOut(t *testing.T) {
	ms := time.Millisecond
	closed := []seg{
		{'c', 0, S, 1000, 0, 0}, {'s', ms, SA, 5000, 1001, 0}, {'c', 2 * ms, A, 1001, 5001, 0},
		{'s', 3 * ms, FA, 5001, 1001, 0}, {'c', 4 * ms, A, 1001, 5002, 0},
		{'c', 5 * ms, FA, 1001, 5002, 0}, {'s', 6 * ms, A, 5002, 1002, 0},
	}
	for _, tc := range []struct {
		name    string
		rstAt   time.Duration
		rstInTW bool // the RST is recorded on incarnation 1 as an RST in TIME_WAIT
	}{
		{"RST within the TIME_WAIT", 800 * ms, true},
		{"RST after the TIME_WAIT and a sweep", 1700 * ms, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs := append(closed[:len(closed):len(closed)],
				seg{'c', 500 * ms, S, 90000, 0, 0},          // the new SYN, in the server's TIME_WAIT
				seg{'s', 501 * ms, A, 5002, 1002, 0},        // the server's refusal: the old numbers
				seg{'c', tc.rstAt, R, 1002, 0, 0},           // the client's RST at the refusal's ACK
				seg{'c', tc.rstAt + 300*ms, S, 90000, 0, 0}, // its SYN again
			)
			run := func(stream bool) []*Incarnation {
				var got []*Incarnation
				cfg := Config{TimeWait: time.Second}
				if stream {
					cfg.Done, cfg.ManualSweep = func(inc *Incarnation) { got = append(got, inc) }, true
				}
				tr := NewPoisonedTracker(cfg)
				for i, sg := range segs {
					x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(sg.at), Flags: sg.flags, Seq: sg.seq, Ack: sg.ack, PayloadLen: sg.data, IPID: uint16(i)}
					x.Src, x.Dst = cli, srv
					if sg.from == 's' {
						x.Src, x.Dst = srv, cli
					}
					if stream && i == len(closed)+2 {
						tr.Sweep(InstantOf(t0.Add(sg.at - ms)))
					}
					tr.Add(&x)
				}
				tr.Finish(InstantOf(t0.Add(segs[len(segs)-1].at)))
				if !stream {
					got = tr.Incarnations()
				}
				return got
			}
			batch, streamed := run(false), run(true)
			if len(batch) != 2 || len(streamed) != 2 {
				t.Fatalf("%d incarnations batch, %d streaming, want 2", len(batch), len(streamed))
			}
			if batch[1].Reuse == nil || !batch[1].Refusal.Rst.Seen() {
				t.Fatalf("incarnation 2: reuse %v, refusal RST %v: want a refused reuse", batch[1].Reuse != nil, batch[1].Refusal.Rst)
			}
			for _, incs := range [][]*Incarnation{batch, streamed} {
				if got := incs[0].RstInTimeWait.Seen(); got != tc.rstInTW {
					t.Errorf("incarnation 1: RST in TIME_WAIT %v, want %v", got, tc.rstInTW)
				}
				if incs[1].Refusal.Rst != batch[1].Refusal.Rst {
					t.Errorf("incarnation 2: refusal RST %v, batch %v", incs[1].Refusal.Rst, batch[1].Refusal.Rst)
				}
			}
		})
	}
}

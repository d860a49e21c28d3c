package reassembly

import (
	"reflect"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

// The tracker is fed segments an attacker chooses: any flags, numbers and times, in
// any order. FuzzTracker decodes arbitrary bytes into a segment sequence
// (synth.DecodeSegments: eight 4-tuples, including degenerate ones, with numbers as
// deltas so that retransmissions, duplicates and clocks going backwards are a few
// bit flips away) and checks what must hold whatever the input:
//
//   - no panic;
//   - every segment is in exactly one incarnation (the packet counts add up), and
//     every frame an incarnation names as evidence is one of its own segments;
//   - incarnations are numbered 1, 2, ... per 4-tuple in order of first packet,
//     each replaced one ends when its successor starts, and a reuse points at its
//     predecessor;
//   - memory is bounded: at most one incarnation per segment, one flow entry per
//     4-tuple, and per direction at most maxFinTx FIN transmissions kept;
//   - the same input gives the same state;
//   - a streaming tracker (Config.Done) holds no more than its connection cap,
//     hands every incarnation to Done exactly once and loses no segment
//     (fzCheckStream).

// fzSeeds returns the segments of the committed captures, encoded for
// DecodeSegments.
func fzSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	seeds, err := synth.SegmentSeeds("../testdata/pcaps", 128<<10)
	if err != nil || len(seeds) == 0 {
		tb.Fatalf("no seed captures in ../testdata/pcaps: %v", err)
	}
	return seeds
}

func FuzzTracker(f *testing.F) {
	for _, seed := range fzSeeds(f) {
		f.Add(seed)
	}
	coldDir := f.TempDir() // (one for every input: a directory made and removed for each took most of the time)
	f.Fuzz(func(t *testing.T, data []byte) {
		segs := synth.DecodeSegments(data)
		tw := fzTimeWait(data)
		tr, owner := fzFeed(segs, tw)
		fzCheckTracker(t, segs, tr, owner)
		again, _ := fzFeed(segs, tw)
		if !reflect.DeepEqual(tr.Incarnations(), again.Incarnations()) {
			t.Fatal("the same segments gave a different state")
		}
		fzCheckStream(t, segs, tr.Incarnations(), data, tw, coldDir)
	})
}

// fzTimeWait is the TIME_WAIT length an input's third byte chooses (0: the
// default): short ones let TIME_WAIT and the windows of earlier incarnations run out
// within the few seconds a fuzzed capture spans, so that sweeps hand them out between
// its segments.
func fzTimeWait(data []byte) time.Duration {
	if len(data) < 3 {
		return 0
	}
	return [4]time.Duration{0, 0, time.Second, 20 * time.Millisecond}[data[2]%4]
}

// fzCheckStream feeds the segments to a streaming tracker (Config.Done), with a
// connection cap and an idle timeout chosen by the input's first bytes, and checks
// that it holds no more than the cap, hands every incarnation to Done exactly once,
// loses no segment, and forgets everything at Finish. Without cap and timeout, and
// with capture times in order, it must find the incarnations the batch tracker
// finds (batch).
func fzCheckStream(t *testing.T, segs []capture.Segment, batch []*Incarnation, data []byte, tw time.Duration, coldDir string) {
	t.Helper()
	cfg := Config{TimeWait: tw}
	if len(data) > 1 {
		cfg.MaxConnections = int(data[0] % 8) // 0: no cap
		cfg.IdleTimeout = [4]time.Duration{0, time.Millisecond, time.Second, time.Minute}[data[1]%4]
	}
	samePacked(t, "the input", segs, cfg)        // packing quiet incarnations changes nothing
	sameCold(t, "the input", segs, cfg, coldDir) // nor keeping their bodies on disk
	if inTimeOrder(segs) {
		sameAtClose(t, "the input", segs, cfg) // nor packing them as they close
	}
	sameReusePacked(t, "the input", segs, cfg, len(data) > 3 && data[3]%2 == 0) // nor starting a reuse from a wake block
	handed := map[*Incarnation]int{}
	var order []*Incarnation
	cfg.Done = func(inc *Incarnation) {
		handed[inc]++
		order = append(order, inc)
	}
	// Numbered as batch mode numbers (finack's setting): a 4-tuple forgotten and
	// used again counts on, and a refusal is looked for on it as on one in use.
	cfg.KeepCounts = true
	tr := NewPoisonedTracker(cfg)
	inOrder := true
	var end Instant
	for i := range segs {
		s := segs[i]
		tr.Add(&s)
		if cfg.MaxConnections > 0 && tr.Stats().Tracked > cfg.MaxConnections {
			t.Fatalf("segment %d: %d incarnations held, cap %d", i, tr.Stats().Tracked, cfg.MaxConnections)
		}
		at := InstantOf(s.Time)
		inOrder = inOrder && at >= end
		end = max(end, at)
	}
	if len(segs) > 0 {
		tr.Finish(end)
	}
	st := tr.Stats()
	if st.Tracked != 0 || st.Flows != 0 || tr.flows.n != 0 {
		t.Fatalf("after Finish: %d incarnations and %d flows held", st.Tracked, st.Flows)
	}
	var packets uint64
	for inc, n := range handed {
		if n != 1 {
			t.Fatalf("incarnation %v #%d handed to Done %d times", inc.Key, inc.Index, n)
		}
		packets += inc.Packets
	}
	if packets != uint64(len(segs)) || st.Finished != uint64(len(handed)) {
		t.Fatalf("streaming: %d incarnations hold %d packets (%d segments), %d finished", len(handed), packets, len(segs), st.Finished)
	}
	if cfg.MaxConnections == 0 && st.Evicted != 0 {
		t.Fatalf("%d evicted without a cap", st.Evicted)
	}
	if cfg.MaxConnections != 0 || cfg.IdleTimeout != 0 || !inOrder {
		return
	}
	type id struct {
		k           FlowKey
		index       int
		first, last Tx
		packets     uint64
	}
	want := map[id]bool{}
	for _, inc := range batch {
		want[id{inc.Key, inc.Index, inc.First, inc.Last, inc.Packets}] = true
	}
	for _, inc := range order {
		if !want[id{inc.Key, inc.Index, inc.First, inc.Last, inc.Packets}] {
			lo, hi := inc.Key.Endpoints()
			t.Fatalf("streaming found %v-%v #%d (frames %d-%d, %d packets), which batch mode does not", lo, hi, inc.Index, inc.First.Frame, inc.Last.Frame, inc.Packets)
		}
	}
	if len(order) != len(batch) {
		t.Fatalf("streaming found %d incarnations, batch mode %d", len(order), len(batch))
	}
}

// fzFeed feeds segs to a new tracker (TIME_WAIT tw, 0: the default) and returns it
// with the incarnation each frame went to.
func fzFeed(segs []capture.Segment, tw time.Duration) (*Tracker, map[uint64]*Incarnation) {
	tr := NewPoisonedTracker(Config{TimeWait: tw})
	owner := make(map[uint64]*Incarnation, len(segs))
	var end Instant
	for i := range segs {
		k, _ := KeyOf(&segs[i])
		var cur *Incarnation
		var nCur uint64
		var earlier [maxEarlier]*Incarnation
		var nEarlier [maxEarlier]uint64
		if f, _, _ := tr.flows.get(&k, keyHash(&k)); f != nil {
			cur, nCur = tr.cur(f), tr.cur(f).Packets
			i := 0
			for p := tr.prev(f); p != nil; p = p.older {
				earlier[i], nEarlier[i] = p, p.Packets
				i++
			}
		}
		s := segs[i] // the tracker must not keep a pointer to the caller's segment
		tr.Add(&s)
		// The segment went to the 4-tuple's current incarnation, a new one, or (a
		// stale segment of an old connection) one of the earlier ones held.
		// (A segment on tags of its own joins the flow of the other end's: join.)
		f, other, _ := tr.flows.get(&k, keyHash(&k))
		if f == nil {
			f = other
		}
		switch {
		case tr.cur(f) != cur:
			owner[s.Frame] = tr.cur(f)
		case tr.cur(f).Packets > nCur:
			owner[s.Frame] = tr.cur(f)
		default:
			for j, p := range earlier {
				if p != nil && p.Packets > nEarlier[j] {
					owner[s.Frame] = p
				}
			}
		}
		end = max(end, InstantOf(segs[i].Time))
	}
	if len(segs) > 0 {
		tr.Finish(end)
	}
	return tr, owner
}

func fzCheckTracker(t *testing.T, segs []capture.Segment, tr *Tracker, owner map[uint64]*Incarnation) {
	t.Helper()
	incs := tr.Incarnations()
	if len(owner) != len(segs) {
		t.Fatalf("%d of %d segments went to no incarnation", len(segs)-len(owner), len(segs))
	}
	if len(incs) > len(segs) {
		t.Fatalf("%d incarnations from %d segments", len(incs), len(segs))
	}
	if tr.flows.n > len(incs) {
		t.Fatalf("%d flows for %d incarnations", tr.flows.n, len(incs))
	}
	var packets uint64
	perKey := map[FlowKey][]*Incarnation{}
	for i, inc := range incs {
		// (Injected segments belong to neither end: see Incarnation.injected.)
		if inc.Packets == 0 || inc.Half[Client].Packets+inc.Half[Server].Packets+inc.Injected.Count != inc.Packets {
			t.Fatalf("incarnation %d: %d packets, halves %d + %d, injected %d", i, inc.Packets, inc.Half[Client].Packets, inc.Half[Server].Packets, inc.Injected.Count)
		}
		packets += inc.Packets
		if i > 0 && inc.First.Frame <= incs[i-1].First.Frame {
			t.Fatalf("incarnation %d starts at frame %d, after one starting at %d", i, inc.First.Frame, incs[i-1].First.Frame)
		}
		if inc.First.Frame > inc.Last.Frame || owner[inc.First.Frame] != inc || owner[inc.Last.Frame] != inc {
			t.Fatalf("incarnation %d: frames %d-%d are not its own", i, inc.First.Frame, inc.Last.Frame)
		}
		// By 4-tuple and own tags: a flow joined by the other end's tags after its
		// 4-tuple's earlier flow was forgotten numbers on from it.
		own := inc.Key
		own.PeerVLAN, own.PeerEnd = [2]uint16{}, 0
		perKey[own] = append(perKey[own], inc)
		for r := Client; r <= Server; r++ {
			h := &inc.Half[r]
			if len(h.FinTxs) > maxFinTx || cap(h.FinTxs) > 2*maxFinTx {
				t.Fatalf("incarnation %d %s: %d FIN transmissions kept (cap %d), bound %d", i, r, len(h.FinTxs), cap(h.FinTxs), maxFinTx)
			}
			if uint32(len(h.FinTxs)) > h.FinCount || (h.FinCount > 0) != (len(h.FinTxs) > 0) {
				t.Fatalf("incarnation %d %s: %d FIN transmissions kept, FinCount %d", i, r, len(h.FinTxs), h.FinCount)
			}
			evidence := []Tx{h.Last, h.Syn, h.FinAcked, h.FinLastAck, h.DataAfterPeerFin, h.Rst}
			for _, ft := range h.FinTxs {
				evidence = append(evidence, ft.Tx)
			}
			for _, e := range evidence {
				if e.Seen() && owner[e.Frame] != inc {
					t.Fatalf("incarnation %d %s names frame %d, which is not one of its segments", i, r, e.Frame)
				}
			}
		}
		for _, e := range []Tx{inc.Refusal.Ack, inc.Refusal.Rst, inc.Refusal.Retry} {
			if e.Seen() && owner[e.Frame] != inc {
				t.Fatalf("incarnation %d: refusal names frame %d, not one of its segments", i, e.Frame)
			}
		}
	}
	if packets != uint64(len(segs)) {
		t.Fatalf("incarnations hold %d packets, %d segments were fed", packets, len(segs))
	}
	// A flow found over is forgotten (retire): its 4-tuple's incarnations go on in a
	// new flow, numbered on, or none is held any more.
	if len(perKey) < tr.flows.n {
		t.Fatalf("%d 4-tuples among the incarnations, %d flows", len(perKey), tr.flows.n)
	}
	for k, list := range perKey {
		f := tr.flowOf(k)
		if f != nil && f.key.VLAN != k.VLAN {
			// k's tags joined another flow after k's own flow was forgotten.
			f = nil
		}
		if f != nil && (int(f.count) != len(list) || tr.cur(f) != list[len(list)-1]) {
			t.Fatalf("flow %v: entry does not match its %d incarnations", k, len(list))
		}
		for j, inc := range list {
			if inc.Index != j+1 {
				t.Fatalf("flow %v: incarnation %d has index %d", k, j+1, inc.Index)
			}
			last := j == len(list)-1
			switch {
			case inc.End == EndExpired:
				// Over, its flow forgotten: its successor started afresh.
				if !last && list[j+1].Reuse != nil {
					t.Fatalf("flow %v #%d: expired, yet its successor (at %d) reuses it", k, j+1, list[j+1].First.At)
				}
			case last:
				if f == nil || inc.End != EndCaptureEnd {
					t.Fatalf("flow %v #%d: end reason %d, flow held %v", k, j+1, inc.End, f != nil)
				}
			case inc.End != EndReplaced:
				t.Fatalf("flow %v #%d: end reason %d", k, j+1, inc.End)
			case inc.EndAt != list[j+1].First.At:
				t.Fatalf("flow %v #%d: ends at %d, its successor starts at %d", k, j+1, inc.EndAt, list[j+1].First.At)
			}
			if ru := inc.Reuse; ru != nil {
				if j == 0 || ru.Prev != list[j-1] || ru.SYN != inc.First {
					t.Fatalf("flow %v #%d: reuse does not point at its predecessor and first SYN", k, j+1)
				}
				if !ru.TimeWait.Held() {
					t.Fatalf("flow %v #%d: reuse within a TIME_WAIT nobody held", k, j+1)
				}
			}
		}
	}
}

// TestTrackerAddAllocatesNothing: once a 4-tuple is known, a segment costs no
// allocation, whatever it is (data, duplicate, RST, a FIN retransmitted past the
// maxFinTx kept): memory grows with incarnations, never with packets.
func TestTrackerAddAllocatesNothing(t *testing.T) {
	tr := NewPoisonedTracker(Config{})
	base := capture.Segment{Src: cli, Dst: srv, Time: t0, Flags: S, Seq: 100}
	tr.Add(&base)
	frame := uint64(1)
	add := func(s capture.Segment) {
		frame++
		s.Frame = frame
		s.Time = t0.Add(time.Duration(frame) * time.Millisecond)
		s.IPID = uint16(frame) // a new transmission, not a copy of the previous one
		tr.Add(&s)
	}
	add(capture.Segment{Src: srv, Dst: cli, Flags: SA, Seq: 900, Ack: 101})
	add(capture.Segment{Src: cli, Dst: srv, Flags: A, Seq: 101, Ack: 901})
	add(capture.Segment{Src: cli, Dst: srv, Flags: FA, Seq: 101, Ack: 901})
	for i := 0; i < 2*maxFinTx; i++ { // fill FinTxs to its bound
		add(capture.Segment{Src: srv, Dst: cli, Flags: FA, Seq: 901, Ack: 102})
	}
	for _, tc := range []struct {
		name string
		seg  capture.Segment
	}{
		{"data", capture.Segment{Src: cli, Dst: srv, Flags: A | capture.PSH, Seq: 101, Ack: 901, PayloadLen: 1000}},
		{"FIN retransmission", capture.Segment{Src: srv, Dst: cli, Flags: FA, Seq: 901, Ack: 102}},
		{"RST", capture.Segment{Src: srv, Dst: cli, Flags: R, Seq: 902}},
		{"ACK", capture.Segment{Src: cli, Dst: srv, Flags: A, Seq: 102, Ack: 902}},
	} {
		n := testing.AllocsPerRun(1000, func() { add(tc.seg) })
		if n != 0 {
			t.Errorf("%s: %.1f allocations per segment, want 0", tc.name, n)
		}
	}
	inc := tr.Incarnations()
	if len(inc) != 1 {
		t.Fatalf("%d incarnations, want 1", len(inc))
	}
	if h := &inc[0].Half[Server]; len(h.FinTxs) != maxFinTx || h.FinCount < 1000 {
		t.Errorf("server FIN: %d kept of %d", len(h.FinTxs), h.FinCount)
	}
}

// TestStreamingHandsEveryIncarnation: a streaming tracker hands every incarnation
// to Done. Found by FuzzTracker: a SYN, a SYN-ACK that does not answer it (a new
// incarnation replacing the first), then, after the idle timeout swept the second
// away, any segment on the 4-tuple: it starts a third incarnation and the first,
// still kept as the replaced one, is dropped without being handed to Done (and
// stays counted as held). Fixed in Tracker.start: f.prev is handed over whenever it
// is not the incarnation being replaced (old != prev), not only when prev != nil.
func TestStreamingHandsEveryIncarnation(t *testing.T) {
	var handed []*Incarnation
	tr := NewPoisonedTracker(Config{IdleTimeout: time.Second, Done: func(inc *Incarnation) { handed = append(handed, inc) }})
	for i, s := range []capture.Segment{
		{Src: cli, Dst: srv, Flags: S, Seq: 100},
		{Src: srv, Dst: cli, Flags: SA, Seq: 900, Ack: 5555}, // answers another SYN
		{Src: cli, Dst: srv, Flags: A, Seq: 7777, Ack: 1234}, // 4.4 s later: the second is idle
	} {
		s.Frame, s.Time = uint64(i+1), t0.Add([]time.Duration{0, 600 * time.Millisecond, 5 * time.Second}[i])
		tr.Add(&s)
	}
	tr.Finish(InstantOf(t0.Add(5 * time.Second)))
	var frames []uint64
	for _, inc := range handed {
		frames = append(frames, inc.First.Frame)
	}
	if len(handed) != 3 || tr.Stats().Tracked != 0 {
		t.Errorf("incarnations starting at frames %v handed to Done, want 1, 2, 3; %d still counted as held", frames, tr.Stats().Tracked)
	}
}

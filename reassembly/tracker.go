package reassembly

import (
	"os"
	"time"
	"unsafe"

	"github.com/finack/finack/capture"
)

// Config tunes the tracker.
type Config struct {
	// TimeWait is the TIME_WAIT (2MSL) length of the hosts in the capture.
	TimeWait time.Duration
	// RFC1337: the hosts ignore RSTs in TIME_WAIT (RFC 1337) instead of ending it
	// (Linux's default, tcp_rfc1337=0).
	RFC1337 bool
	// SynGiveUp is how long a client keeps retrying an unanswered SYN before its
	// connect fails (Linux: about 127 s with tcp_syn_retries=6; BSD: 75 s). A SYN
	// with a new ISN that long after an attempt's first SYN is a new connection;
	// sooner, a retry of the same attempt. 0: DefaultSynGiveUp.
	SynGiveUp time.Duration

	// Done, when set, makes the tracker stream: it hands each incarnation to Done
	// once nothing can change it any more (see Sweep) and forgets it, so memory
	// follows the incarnations alive at once, not the capture's history. When nil,
	// the tracker keeps every incarnation (Incarnations) and never forgets a 4-tuple.
	Done func(*Incarnation)
	// IdleTimeout (streaming only): an incarnation that is not closed and has seen no
	// packet for this long (capture time) is finished (EndIdle). 0: never.
	IdleTimeout time.Duration
	// MaxConnections (streaming only): the most incarnations tracked at once; past
	// it, the least recently active tenth is finished early (EndEvicted). 0: no cap.
	MaxConnections int
	// Touched (streaming only): keep the list of incarnations that received a
	// segment since the last TakeTouched, for a live display.
	Touched bool
	// KeepCounts (streaming only): remember how many incarnations each forgotten
	// 4-tuple had, so a later connection on it is numbered as a batch tracker
	// numbers it (Incarnation.Index counts every incarnation of the capture).
	// Costs up to 4 MiB a tracker (a 64-bit hash of its key and the count, in two
	// tables that grow to 2 MiB: countTable), for the last 2×countsGeneration (131,072)
	// 4-tuples forgotten, so that memory stays flat however long the capture: a
	// 4-tuple that comes back after that many others were forgotten counts from 1
	// again, as every forgotten 4-tuple does without KeepCounts.
	KeepCounts bool
	// DoneKeepsNothing (streaming only): Done keeps nothing of the incarnation it is
	// given once it returns, neither the pointer nor anything it points to (an
	// analysis that copies what it reports). The tracker then reuses the memory of
	// the incarnations it hands out for the next ones: a capture of millions of
	// connections allocates a few thousand instead of one each.
	DoneKeepsNothing bool
	// ManualSweep (streaming only): Add never sweeps by itself; the caller calls
	// Sweep, at the times it chooses. Several trackers sharing a capture's 4-tuples
	// (Shard) sweep together at the times one tracker would, so that their results
	// do not depend on how the 4-tuples are shared out.
	ManualSweep bool
	// TempDir (streaming only): where the bodies of the records of connections in
	// TIME_WAIT go while the tracker holds many (cold.go); "" for os.TempDir().
	TempDir string
}

// DefaultTimeWait is Linux's TCP_TIMEWAIT_LEN.
const DefaultTimeWait = 60 * time.Second

// DefaultSynGiveUp is when Linux gives up an unanswered connect with its default
// tcp_syn_retries=6: SYNs at 0, 1, 3, 7, 15, 31 and 63 s, the last timer firing at
// 127 s.
const DefaultSynGiveUp = 127 * time.Second

// flow is the per-4-tuple entry: the current incarnation and the one before it (kept
// while it may still receive late or stale segments).
//
// Flows live in the tracker's arena, outside the collected heap (arena.go): they
// name their incarnations by index (incRef), and their fields are ordered and sized
// to fit 96 bytes: one is held per 4-tuple.
type flow struct {
	cur, prev incRef
	// packed is the current incarnation as a compact record while it is quiet (cur
	// is 0 then; see pack.go): a string, two words instead of a slice's three.
	packed string
	key    FlowKey
	// due: the time of the flow's entry in the sweep schedule, when dueSet.
	due   int64
	count uint32 // incarnations the 4-tuple had
	// dueSet: the flow is in the schedule at due; touched: in the list of flows
	// touched since the last sweep; again: in the list to visit at the next sweep;
	// gone: forgotten (its schedule entries are stale).
	dueSet, touched, again, gone bool
}

// incRef names an incarnation a flow holds: an index in Tracker.incs (0: none). A
// flow is in the arena, where a pointer would not keep the incarnation alive.
type incRef uint32

// hold keeps inc in the table of incarnations flows hold and returns its index.
func (t *Tracker) hold(inc *Incarnation) incRef {
	if n := len(t.incsFree); n > 0 {
		r := t.incsFree[n-1]
		t.incsFree = t.incsFree[:n-1]
		t.incs[r] = inc
		return r
	}
	t.incs = append(t.incs, inc)
	return incRef(len(t.incs) - 1)
}

// unhold lets go of an index from hold (0: nothing).
func (t *Tracker) unhold(r incRef) {
	if r != 0 {
		t.incs[r] = nil
		t.incsFree = append(t.incsFree, r)
	}
}

// cur and prev are a flow's current and previous incarnations (nil: none).
func (t *Tracker) cur(f *flow) *Incarnation  { return t.incs[f.cur] }
func (t *Tracker) prev(f *flow) *Incarnation { return t.incs[f.prev] }

// recordBytes is a packed record's bytes, to read only.
func recordBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Tracker follows every 4-tuple of a capture. Feed it segments in capture order with
// Add, then call Finish.
type Tracker struct {
	cfg       Config
	err       error // what stopped the tracker (Err)
	twLen     int64
	synGiveUp int64
	flows     flowTable
	all       []*Incarnation // when not streaming
	nextSweep int64
	sweptHeld int // incarnations held after the last sweep
	held      int // incarnations held (streaming)
	stats     TrackerStats
	touched   []*Incarnation
	// The sweep schedule (flowtable.go): flows touched since the last sweep, flows
	// to visit at the next sweep whatever happens, flows by the time they are due.
	touchedFlows, again []*flow
	due                 dueHeap
	dueCompactAt        int // compact the schedule when it grows past this
	// counts: the incarnation counts of forgotten 4-tuples, by keyHash
	// (Config.KeepCounts), in two generations of at most countsGen entries: when
	// counts is full it becomes countsOld and the older one is dropped.
	counts, countsOld countTable
	countsGen         int
	// sweepDone, handOrder: a sweep's finished incarnations and the order to hand
	// them out in (scratch, kept between sweeps: keepScratch).
	sweepDone []finished
	handOrder []handOrder
	packBuf   []byte // scratch for pack
	// cold: the bodies of records of connections in TIME_WAIT, in temporary files
	// (cold.go), while the tracker holds at least coldAbove incarnations; coldBuf:
	// scratch for a record going there or coming back.
	cold      coldStore
	coldAbove int
	coldBuf   []byte
	eachCold  []packedFinal // Each's records on disk (scratch)
	// arena: the flows and their packed records (arena.go); incs: the incarnations
	// the flows hold (incRef; incs[0] is nil), incsFree the indexes free in it.
	arena    *arena
	incs     []*Incarnation
	incsFree []incRef
	// prevPacked: the packed earlier incarnations, by flow (packPrev).
	prevPacked map[*flow]prevRecs
	// packNS: a record could not be packed in microseconds (packTry): times in
	// nanoseconds, pack them so from now on.
	packNS bool
	// free: incarnations to reuse (packed, or handed out with DoneKeepsNothing),
	// at most maxFree. freeLow: the fewest it held since the last sweep (the ones
	// below were not needed for a whole sweep interval: trimIdleFree).
	free    []*Incarnation
	freeLow int
	fins    finPool // FIN lists of recycled incarnations
	// startedSincePack: incarnations started since the last sweep or packQuiet;
	// nextPackAt: the capture time of the next packQuiet, if no starts call it
	// sooner.
	startedSincePack int
	nextPackAt       int64
	// packLater: flows packQuiet found not quiet yet, to look at again;
	// packScanned: how much of touchedFlows it looked at.
	packLater   []packCand
	packScanned int
	noPack      bool // tests: keep every incarnation whole
	packAbove   int  // packAbove; tests lower it
	packEvery   int  // packEvery; tests lower it
	// packQuietEvery: packQuietEvery; tests change it
	packQuietEvery int64
	// quietPacked (tests): incarnations packed by packQuiet.
	quietPacked int
	// sweepAll (tests): a sweep visits every flow, as well as those it schedules.
	sweepAll bool
	// packRecent (tests, which pack incarnations however recently they saw a
	// packet): keep the signatures of their last segments in the record.
	packRecent bool
}

// NewTracker returns an empty tracker.
func NewTracker(cfg Config) *Tracker {
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = DefaultTimeWait
	}
	if cfg.SynGiveUp <= 0 {
		cfg.SynGiveUp = DefaultSynGiveUp
	}
	t := &Tracker{cfg: cfg, twLen: int64(cfg.TimeWait), synGiveUp: int64(cfg.SynGiveUp), countsGen: countsGeneration, packAbove: packAbove, packEvery: packEvery, packQuietEvery: packQuietEvery, coldAbove: coldAbove}
	t.cold = coldStore{dir: cfg.TempDir, segSize: coldSegment, window: coldWindow}
	if t.cold.dir == "" {
		t.cold.dir = os.TempDir()
	}
	t.arena = newArena(t)
	t.flows = newFlowTable(t.arena)
	t.due.mem = t.arena
	t.incs = []*Incarnation{nil}
	return t
}

// TimeWaitLen returns the TIME_WAIT length in use.
func (t *Tracker) TimeWaitLen() time.Duration { return time.Duration(t.twLen) }

// Incarnations returns every incarnation seen so far, in order of first packet.
func (t *Tracker) Incarnations() []*Incarnation { return t.all }

// Finish marks the end of the capture at time end (Unix ns; the last packet's time).
// A streaming tracker hands every incarnation it still holds to Done, in order of
// first frame (but for those whose records are on disk, last, in the order written:
// handKey).
func (t *Tracker) Finish(end int64) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	for _, inc := range t.all {
		if inc.End == EndCaptureEnd {
			inc.EndAt = end
		}
	}
	if t.cfg.Done == nil {
		return
	}
	// The incarnations still whole (a few: those active in the last moments) as
	// finished entries; the packed ones, most of what a busy capture holds, as 16-byte
	// (handKey, flow) pairs: the flow keeps its record until its turn.
	var whole []finished
	var prevs []packedFinal // packed previous incarnations (packPrev), their records in t.prevPacked
	packed := make([]packedFinal, 0, t.flows.n)
	t.flows.each(func(f *flow) {
		for _, rec := range t.packedPrev(f) {
			if rec == "" {
				break
			}
			prevs = append(prevs, packedFinal{header(rec).first.Frame, f})
		}
		for p := t.prev(f); p != nil; p = p.older {
			whole = append(whole, finishedWhole(p)) // (replaced: EndAt set then)
		}
		if inc := t.cur(f); inc != nil {
			if inc.End == EndCaptureEnd {
				inc.EndAt = end
			}
			whole = append(whole, finishedWhole(inc))
		}
		if f.packed != "" {
			packed = append(packed, packedFinal{handKey(f.packed), f})
		}
		f.gone = true
	})
	// Give back the table and the schedule while the rest is handed out.
	t.flows.release()
	t.due.release()
	t.touchedFlows, t.again = nil, nil
	clear(t.incs)
	t.incs, t.incsFree = t.incs[:1], nil
	t.handFinal(whole, packed, prevs, end)
	t.arena.release() // every flow and record was handed out
	t.cold.close()
	t.counts, t.countsOld = countTable{}, countTable{} // (their memory was the arena's)
}

// Add attributes one segment to its incarnation and records what it shows.
func (t *Tracker) Add(s *capture.Segment) {
	var kh Keyed
	kh.Set(s)
	t.AddKeyed(s, &kh)
}

// AddKeyed is Add for a segment whose key and hash the caller already computed
// (Keyed.Set, to deal segments out by Keyed.Shard): they are not computed again.
// kh is only read.
func (t *Tracker) AddKeyed(s *capture.Segment, kh *Keyed) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	at := s.Time.UnixNano()
	if t.cfg.Done != nil && !t.cfg.ManualSweep && (at >= t.nextSweep || (t.held >= t.packAbove && t.held >= 2*t.sweptHeld)) {
		// Every sweepEvery of capture time, and sooner when the incarnations held
		// have doubled since the last sweep (a flood: pack what can be packed
		// before it takes gigabytes; doubling keeps the sweeps' cost linear).
		if t.nextSweep != 0 {
			t.sweep(at)
		}
		t.nextSweep = at + t.sweepEvery()
	}
	if t.held >= t.packAbove && t.cfg.Done != nil && (t.startedSincePack >= t.packEvery || at >= t.nextPackAt) {
		t.packQuiet(at)
	}
	k, h := &kh.Key, kh.hash
	fromLo := k.fromLo(s.Src)
	f, other := t.flows.get(k, h, fromLo)
	if f == nil && other != nil && t.join(other, k, s, fromLo) {
		f = other
	}
	if f == nil {
		f = t.arena.newFlow()
		f.key = *k
		ch := countHash(k, h)
		if n, ok := t.counts.take(ch); ok {
			f.count = n
		} else if n, ok := t.countsOld.take(ch); ok {
			f.count = n
		}
		t.flows.put(f, h)
	}
	if t.cfg.Done != nil {
		t.touch(f)
	}
	t.unpackFlow(f)
	inc, earlier := t.route(f, s, at)
	tx := Tx{Frame: s.Frame, At: at}
	if earlier {
		inc.addStale(s, tx, t.cur(f).Index) // a SYN or SYN-ACK of an earlier incarnation (route)
		return
	}
	if f.prev != 0 && inc == t.cur(f) && s.Flags&capture.SYN == 0 {
		if p := t.staleFor(f, inc, s, at); p != nil {
			p.addStale(s, tx, inc.Index)
			return
		}
	}
	inc.apply(s, tx, t.twLen, &t.fins)
	if t.cfg.Touched && !inc.touched {
		inc.touched = true
		t.touched = append(t.touched, inc)
	}
}

// unpackFlow makes a flow's packed current incarnation whole again.
func (t *Tracker) unpackFlow(f *flow) {
	if f.packed == "" {
		return
	}
	t.unpackPrev(f)
	inc := t.unpackRecord(f.key, f.packed, false)
	f.cur, f.packed = t.hold(inc), ""
	if p := t.prev(f); p != nil {
		// Link the two again (pack cut the link): a refusal RST reaches
		// the previous incarnation through it.
		p.next = inc
		if inc.Reuse != nil {
			inc.Reuse.Prev = p
		}
	}
}

// join decides whether segment s, whose own key k (tags and all) has no flow,
// belongs to f, the only flow of its 4-tuple on other tags, and joins it when it
// does: a mirror port that tags one direction only (a switch's SPAN of a trunk)
// shows one connection's directions on two tag sets. s joins when f has one
// incarnation, which has seen only the other direction so far, and s answers it:
// a SYN-ACK acknowledging its SYN, a SYN its SYN-ACK acknowledges, or an ACK within
// the sequence space it used. The same 4-tuple with both directions on each of
// several tag sets stays several connections. From then on the segments of k's
// tags from s's end go to f (FlowKey.PeerEnd).
func (t *Tracker) join(f *flow, k *FlowKey, s *capture.Segment, fromLo bool) bool {
	if f.key.PeerEnd != 0 || f.prev != 0 || t.packedPrev(f)[0] != "" || (f.cur == 0 && f.packed == "") {
		return false
	}
	if t.cfg.Done != nil {
		t.touch(f)
	}
	t.unpackFlow(f)
	inc := t.cur(f)
	r := inc.RoleOf(s.Src)
	peer := &inc.Half[r.Peer()]
	if inc.Half[r].Packets != 0 || inc.Packets != peer.Packets || !answers(peer, s) {
		return false
	}
	f.key.PeerVLAN = k.VLAN
	f.key.PeerEnd = 2
	if fromLo {
		f.key.PeerEnd = 1
	}
	inc.Key = f.key
	return true
}

// answers reports whether s answers what peer sent (join).
func answers(peer *Half, s *capture.Segment) bool {
	switch s.Flags & (capture.SYN | capture.ACK | capture.RST) {
	case capture.SYN | capture.ACK:
		return peer.SynCount > 0 && s.Ack == peer.SynEnd
	case capture.SYN:
		return peer.SynAckSeen && s.SeqEnd() == peer.SynAck
	}
	if s.Flags&capture.ACK == 0 || !peer.SeqKnown {
		return false
	}
	return SeqLess(peer.FirstSeq, s.Ack) && SeqLEQ(s.Ack, peer.NextSeq)
}

// maxFree bounds the incarnations kept for reuse (about 1 KB each): a sweep may
// pack or hand out tens of thousands at once. After it the list is trimmed to
// keepFree (trimFree): between sweeps, packQuiet recycles the incarnations it packs
// every packEvery starts, so the starts need about that many, and memory kept
// beyond would be memory held for nothing. At each sweep, the ones not needed since
// the previous sweep are dropped too, but freeSlack (trimIdleFree): a host with a few
// hundred connections a second needs far fewer than keepFree, and each tracker
// (worker) has its own list.
const (
	maxFree   = 1 << 16
	keepFree  = 2 * packEvery
	freeSlack = 512
)

// newIncarnation returns an incarnation to fill: a reused one, or a new one. Its
// caller overwrites it whole.
func (t *Tracker) newIncarnation() *Incarnation {
	if n := len(t.free); n > 0 {
		inc := t.free[n-1]
		t.free[n-1] = nil
		t.free = t.free[:n-1]
		t.freeLow = min(t.freeLow, n-1)
		return inc
	}
	return new(Incarnation)
}

// recycle keeps an incarnation nothing points to any more, for reuse, and the
// arrays of its FIN transmission lists.
func (t *Tracker) recycle(inc *Incarnation) {
	for r := range inc.Half {
		t.fins.put(inc.Half[r].FinTxs)
		inc.Half[r].FinTxs = nil
	}
	if len(t.free) < maxFree {
		t.free = append(t.free, inc)
	}
}

// trimFree drops the incarnations free for reuse beyond keepFree, and the FIN
// lists beyond two each.
func (t *Tracker) trimFree() {
	if len(t.free) > keepFree {
		clear(t.free[keepFree:])
		t.free = t.free[:keepFree]
	}
	if len(t.fins) > 2*keepFree {
		clear(t.fins[2*keepFree:])
		t.fins = t.fins[:2*keepFree]
	}
}

// trimIdleFree drops, from the bottom of the free list (the coldest), the
// incarnations no start or unpacking needed since the last sweep, but freeSlack, then
// trims to keepFree; the next interval's low-water mark starts from what is left.
func (t *Tracker) trimIdleFree() {
	if idle := min(t.freeLow, len(t.free)) - freeSlack; idle > 0 {
		n := copy(t.free, t.free[idle:])
		clear(t.free[n:])
		t.free = t.free[:n]
	}
	t.trimFree()
	t.freeLow = len(t.free)
}

// finPool keeps the arrays behind the FIN transmission lists of recycled
// incarnations for the next ones: nearly every connection has two FIN lists, which
// would otherwise be allocated for each (and again for each unpacking).
type finPool [][]FinTx

// take returns an empty list, with room when one was kept (nil on a nil pool).
func (p *finPool) take() []FinTx {
	if p == nil || len(*p) == 0 {
		return nil
	}
	n := len(*p) - 1
	l := (*p)[n]
	(*p)[n] = nil
	*p = (*p)[:n]
	return l
}

// put keeps l's array (FinTx holds no pointers: nothing to clear).
func (p *finPool) put(l []FinTx) {
	if cap(l) > 0 && len(*p) < 2*maxFree {
		*p = append(*p, l[:0])
	}
}

// route picks the incarnation a segment belongs to, starting a new one when the
// segment opens a new connection on the 4-tuple. earlier: the segment is a SYN or
// SYN-ACK of an earlier incarnation still held, arriving after the current one
// started (a stale segment: AddKeyed records it there).
func (t *Tracker) route(f *flow, s *capture.Segment, at int64) (inc *Incarnation, earlier bool) {
	cur := t.cur(f)
	if cur == nil {
		return t.start(f, s, at, nil), false
	}
	if s.Flags&capture.SYN != 0 {
		if cur.continuesWith(s, at, t.synGiveUp) {
			return cur, false
		}
		// A SYN-ACK is an earlier incarnation's only when the current one's SYN is
		// known (it does not answer that one); otherwise it may open its own.
		if s.Flags&capture.ACK == 0 || cur.Half[Client].SynCount > 0 {
			for p := t.prev(f); p != nil; p = p.older {
				if !t.prevOver(p, at) && p.ownsSyn(s) {
					return p, true
				}
			}
		}
		return t.start(f, s, at, cur), false
	}
	if cur.closedLongBefore(at, t.twLen) && !cur.retransmitsFin(s) {
		// A segment long after the close and its TIME_WAIT: a connection picked up
		// mid-stream on a 4-tuple that was free again.
		return t.start(f, s, at, cur), false
	}
	return cur, false
}

// continuesWith reports whether a segment with SYN set, at time at, belongs to this
// incarnation: a retransmitted SYN or SYN-ACK, the SYN-ACK answering its SYN, another
// SYN of an attempt that got no answer yet and was not given up (giveUp: how long a
// client retries), the other end's SYN of a simultaneous open, or a late copy of the
// SYN the connection began with.
func (inc *Incarnation) continuesWith(s *capture.Segment, at, giveUp int64) bool {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if h.SynCount > 0 && s.Seq == h.ISN {
		// The same SYN again, even after an RST refused it: Windows retries a
		// refused connect with the same SYN twice, 0.5 s apart.
		return true
	}
	if s.Flags&capture.ACK == 0 {
		if r == Client && p.SynAckSeen && s.Seq+1 == p.SynAck {
			// The SYN that the SYN-ACK already seen answers: captured out of order,
			// or a late copy of it after the connection went on (an old duplicate
			// of this connection, not a new one).
			return true
		}
		attempt := inc.attemptAlive(at, giveUp)
		if r == Server {
			// Simultaneous open (RFC 9293 Figure 8): the other end's SYN crosses
			// the client's, while the client has sent nothing but SYNs and this
			// end nothing at all: one connection, both ends opening it.
			return attempt && inc.RolesKnown && h.Packets == 0 && p.SynCount > 0 && p.Packets == uint64(p.SynCount)
		}
		// A new ISN on a bare SYN continues the attempt only while nothing has come
		// back, nothing else was sent and the client has not given up yet: a
		// retry, not a new connection. Once the attempt is over, a SYN is a new
		// connect.
		return attempt && h.SynCount > 0 && p.Packets == 0 && h.Packets == uint64(h.SynCount)
	}
	if h.FinSeen() {
		return false
	}
	// A SYN-ACK answering the peer's current SYN (data on the SYN included), even with
	// another ISN than an earlier SYN-ACK: the same attempt.
	if acksSyn(p, s.Ack) {
		return true
	}
	// The client's SYN was not captured: the same acknowledgement as this end's
	// earlier SYN-ACK answers the same SYN.
	return p.SynCount == 0 && h.SynAckSeen && s.Ack == h.SynAck
}

// attemptAlive reports whether the client's unanswered attempt may still be going
// on at time at: within giveUp (the stack's connect give-up time) of its first SYN,
// and not later after its last SYN than its next retransmission was due. A stack
// backs off by doubling its SYN timeout at most (Linux's first ones are linear), and
// gives up when the timeout after its last SYN runs out: so the attempt is over
// once more than twice the last interval between its SYNs has passed since the last
// one (firstSynRTO when only one was seen), with 10% for timer slack. SYNs lost
// before the tap only lengthen the intervals seen.
func (inc *Incarnation) attemptAlive(at, giveUp int64) bool {
	c := &inc.Half[Client]
	if at-inc.First.At > giveUp {
		return false
	}
	next := int64(firstSynRTO)
	if c.SynGap > 0 {
		next = 2 * c.SynGap
	}
	return at-c.Last.At <= next+next/10
}

// firstSynRTO bounds the first SYN retransmission timeout of any stack: 1 s (RFC
// 6298), 3 s for older ones (RFC 1122).
const firstSynRTO = 3 * time.Second

// ownsSyn reports whether a segment with SYN set that does not continue the current
// incarnation is one of this (earlier) incarnation's: a copy of its sender's SYN
// (the same ISN), or a SYN-ACK answering its client's SYN (a server in SYN-RECEIVED
// repeating its SYN-ACK after the client moved on to a new attempt). A stale
// segment of this incarnation, not a new connection.
func (inc *Incarnation) ownsSyn(s *capture.Segment) bool {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if h.SynCount > 0 && s.Seq == h.ISN {
		return true
	}
	if s.Flags&capture.ACK == 0 {
		return r == Client && p.SynAckSeen && s.Seq+1 == p.SynAck
	}
	return !h.FinSeen() && acksSyn(p, s.Ack)
}

// closed reports whether the incarnation has ended on the wire (both FINs, or an RST)
// and when.
func (inc *Incarnation) closed() (int64, bool) {
	c, s := &inc.Half[Client], &inc.Half[Server]
	if c.Rst.Frame == 0 && s.Rst.Frame == 0 && (c.FinCount == 0 || s.FinCount == 0) {
		return 0, false // the common case, on every segment: still open
	}
	if rst, _, ok := inc.FirstRst(); ok {
		return rst.At, true
	}
	if c.FinSeen() && s.FinSeen() {
		return max(c.LastFin().At, s.LastFin().At, c.FinLastAck.At, s.FinLastAck.At), true
	}
	return 0, false
}

// retransmitsFin reports a FIN at the sequence number of the FIN its sender already
// sent: the same connection however late it comes (a passive closer in LAST_ACK backs
// off to minutes between transmissions).
func (inc *Incarnation) retransmitsFin(s *capture.Segment) bool {
	h := &inc.Half[inc.RoleOf(s.Src)]
	return s.Flags&capture.FIN != 0 && h.FinSeen() && s.SeqEnd()-1 == h.FinSeq
}

// acksSyn reports whether ack acknowledges h's SYN (and possibly data it carried).
func acksSyn(h *Half, ack uint32) bool {
	return h.SynCount > 0 && SeqLess(h.ISN, ack) && SeqLEQ(ack, h.SynEnd)
}

func (inc *Incarnation) closedLongBefore(at, twLen int64) bool {
	end, ok := inc.closed()
	return ok && at-end > twLen
}

// start opens a new incarnation on the flow; prev is the incarnation it replaces.
func (t *Tracker) start(f *flow, s *capture.Segment, at int64, prev *Incarnation) *Incarnation {
	if f.count < 1<<32-1 { // four billion on one 4-tuple: the rest share the last number
		f.count++
	}
	inc := t.newIncarnation()
	*inc = Incarnation{Key: f.key, Index: int(f.count), First: Tx{Frame: s.Frame, At: at}, rfc1337: t.cfg.RFC1337}
	switch {
	case s.Flags&(capture.SYN|capture.ACK) == capture.SYN:
		inc.RolesKnown = true
		inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Src, s.Dst
	case s.Flags&(capture.SYN|capture.ACK) == capture.SYN|capture.ACK:
		inc.RolesKnown = true
		inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Dst, s.Src
	default:
		// Mid-stream: guess the server as the end with the lower port (ties: the
		// receiver of this first segment).
		if s.Src.Port() < s.Dst.Port() {
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Dst, s.Src
		} else {
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Src, s.Dst
		}
	}
	if t.cfg.Done != nil {
		if t.cfg.MaxConnections > 0 && t.held >= t.cfg.MaxConnections {
			t.evict(at)
			if f.gone { // its own 4-tuple was evicted: start over on a fresh entry
				key, count := f.key, f.count
				f = t.arena.newFlow()
				f.key, f.count = key, count
				t.flows.put(f, keyHash(&f.key))
				t.touch(f)
				prev = nil
			}
		}
		t.held++
		t.startedSincePack++
		t.stats.PeakHeld = max(t.stats.PeakHeld, t.held)
		if prev == nil {
			// No current incarnation (finished by a sweep): the earlier ones
			// held are over for good, not earlier incarnations of this one.
			t.dropEarlier(f, func(int, *Incarnation) bool { return true }, func(old *Incarnation) {
				old.End, old.EndAt = EndReplaced, min(old.EndAt, at)
				t.stats.Expired++
				t.give(old)
			})
		}
	}
	if prev != nil {
		prev.next = inc
		prev.End = EndReplaced
		prev.EndAt = at
		if s.Flags&(capture.SYN|capture.ACK) == capture.SYN {
			if tw := prev.TimeWait(time.Duration(t.twLen)); tw.Held() && at < tw.Until {
				inc.Reuse = newReuse(prev, s, at, tw)
			}
		}
		inc.Before = prev.stateAt(at, inc.Reuse != nil, t.synGiveUp)
	}
	// The current incarnation (prev; none when prev is nil, see route) becomes the
	// newest earlier one, ahead of those still held for their stale segments
	// (earlier.go); past maxEarlier the oldest is let go (handed out when
	// streaming; a batch tracker keeps them all in t.all).
	if prev != nil {
		prev.older = t.prev(f)
	}
	t.unhold(f.prev)
	f.prev, f.cur = f.cur, t.hold(inc)
	if prev != nil && prev.older != nil {
		t.dropEarlier(f, func(depth int, _ *Incarnation) bool { return depth > maxEarlier }, func(old *Incarnation) {
			if t.cfg.Done != nil {
				t.stats.Expired++
				t.give(old)
			}
		})
	}
	if t.cfg.Done == nil {
		t.all = append(t.all, inc)
	}
	return inc
}

// stateAt says what an incarnation still held on the 4-tuple at time at, when a new
// one replaced it: TIME_WAIT (inTimeWait: the new SYN came within it), a half-open
// attempt (the server answered the SYN, the client never completed the handshake,
// and the server is still within the time a stack retries its SYN-ACK), an open
// connection, or nothing (closed, or an attempt nobody answered).
func (inc *Incarnation) stateAt(at int64, inTimeWait bool, giveUp int64) PrevState {
	c, sv := &inc.Half[Client], &inc.Half[Server]
	switch _, closed := inc.closed(); {
	case inTimeWait:
		return PrevTimeWait
	case closed:
		return PrevNone
	case inc.RolesKnown && c.SynCount > 0 && c.Packets == uint64(c.SynCount):
		if sv.SynCount > 0 && at-inc.Last.At <= giveUp {
			return PrevHalfOpen
		}
		return PrevNone // unanswered, or answered long ago: nothing holds it
	}
	return PrevOpen
}

func newReuse(prev *Incarnation, s *capture.Segment, at int64, tw TimeWait) *Reuse {
	sender := prev.RoleOf(s.Src)
	old, peer := &prev.Half[sender], &prev.Half[sender.Peer()]
	return &Reuse{
		Prev: prev, PrevIndex: prev.Index, PrevPeerLastFin: peer.LastFin().Tx,
		SYN: Tx{Frame: s.Frame, At: at}, SynSender: sender, TimeWait: tw,
		OldNextSeq: old.NextSeq, OldSeqKnown: old.SeqKnown,
		OldPeerNextSeq: peer.NextSeq, OldPeerSeqKnown: peer.SeqKnown,
		OldTSval: old.LastTSval, OldHasTS: old.HasTS,
		NewISN: s.Seq, NewTSval: s.TSval, NewHasTS: s.HasTS,
		OldFirstIPID: old.FirstIPID, OldIPID: old.LastIPID, NewIPID: s.IPID, OldTTL: old.LastTTL, NewTTL: s.TTL,
		OldPackets: old.Packets, OldLastAt: old.Last.At, IPv6: s.Src.Addr().Is6(),
	}
}

// apply records what one segment shows. A first FIN's list comes from fins (may be
// nil).
func (inc *Incarnation) apply(s *capture.Segment, tx Tx, twLen int64, fins *finPool) {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if inc.injected(r, s, tx) {
		return
	}
	lastAt := h.Last.At // (before this segment)
	sig := segSig(s)
	dup := h.recent.copyOf(sig, tx.At, dupWindowFor(s))
	inTimeWait := false
	if !dup {
		h.recent.add(sig, tx.At)
		// A second copy of a segment reaches nobody: only the first can be late
		// in TIME_WAIT (or end it).
		inTimeWait = inc.afterClose(r, s, tx, twLen)
	}
	inc.Packets++
	inc.Last = tx
	if h.Packets == 0 {
		h.FirstIPID, h.FirstTTL = s.IPID, s.TTL
	}
	h.Packets++
	h.Last = tx
	h.LastIPID, h.LastTTL = s.IPID, s.TTL
	h.Bytes += uint64(s.PayloadLen)
	if s.HasTS && (!h.HasTS || SeqLess(h.LastTSval, s.TSval)) {
		h.HasTS, h.LastTSval = true, s.TSval
	}

	if inc.refusalSegment(r, s, tx) {
		if r == Server {
			inc.History.mark(r, HistRefusal)
		} else {
			inc.History.mark(r, HistRST)
		}
		return
	}
	if s.Flags&(capture.SYN|capture.ACK) == capture.SYN && r == Client && h.SynCount == 0 && h.Packets > 1 && p.SynAckSeen && s.Seq+1 == p.SynAck {
		// A late copy of the SYN this connection began with (not captured then):
		// an old duplicate, not this end's SYN (afterClose counted it if it came
		// in TIME_WAIT).
		return
	}
	if s.Flags&capture.SYN != 0 && s.Flags&(capture.FIN|capture.RST) != 0 {
		inc.History.mark(r, HistMulti)
	}
	if s.Flags&capture.RST != 0 {
		inc.History.mark(r, HistRST)
		h.RstCount++
		// In SYN-SENT the client accepts an RST only if it acknowledges the SYN
		// (RFC 9293 §3.10.7.3); otherwise it drops it and the attempt goes on.
		unacceptable := r == Server && inc.RolesKnown && p.SynCount > 0 && h.SynCount == 0 &&
			p.Packets == uint64(p.SynCount) && (s.Flags&capture.ACK == 0 || !acksSyn(p, s.Ack))
		// Otherwise the receiver accepts an RST only in its window (RFC 5961 §3.2;
		// Linux: exactly at rcv_nxt, in TIME_WAIT too, and challenges one elsewhere in
		// the window). The tap does not know the window: an RST within rstWindow of
		// what the sender had sent counts; one beyond it is a blind RST (a spoofer
		// guessing) or an old one, and the receiver drops it.
		if !unacceptable && h.SeqKnown && (inTimeWait && s.Seq != h.NextSeq || !inTimeWait && outsideRstWindow(s.Seq, h.NextSeq)) {
			unacceptable = true
			h.RstOutOfWindow++
		}
		if !h.Rst.Seen() && !unacceptable {
			h.Rst = tx
		}
		return // an RST's numbers say nothing about what this end sent
	}
	if dup {
		h.Duplicates++
		if s.Flags&capture.FIN != 0 && h.FinSeen() && s.SeqEnd()-1 == h.FinSeq {
			h.finCopy = FinTx{Tx: tx, TSval: s.TSval, HasTS: s.HasTS, AckedBefore: h.FinAcked.Seen()}
		}
		return // a copy of the previous segment: nothing new
	}
	if inc.outOfWindow(r, s) {
		// It acknowledges nothing of this incarnation, and it fitted no earlier
		// one (Tracker.staleFor): the receiver drops it. None of its numbers are
		// this incarnation's.
		inc.History.mark(r, HistOutOfWin)
		h.OutOfWindow++
		return
	}
	inc.tapRTT(r, s, tx)
	if s.Window == 0 && s.Flags&capture.SYN == 0 {
		inc.History.mark(r, HistZeroWin)
	}
	if s.Flags&capture.SYN != 0 {
		if s.Flags&capture.ACK != 0 {
			inc.History.mark(r, HistSYNACK)
		} else {
			inc.History.mark(r, HistSYN)
		}
		if s.Flags&capture.ACK != 0 && !h.SynAckSeen {
			h.SynAck, h.SynAckSeen = s.Ack, true
		}
		if s.Flags&capture.ACK != 0 && h.Rst.Seen() {
			// The RST refused an earlier copy of the SYN this SYN-ACK now accepts:
			// not the end of the connection (it stays counted in RstCount).
			h.Rst = Tx{}
		}
		if r == Client && inc.Refusal.Rst.Seen() && !inc.Refusal.Retry.Seen() {
			inc.Refusal.Retry = tx
		}
		if h.SynCount == 0 || s.Seq != h.ISN {
			h.ISN, h.Syn, h.SynEnd, h.SynTSval = s.Seq, tx, s.SeqEnd(), s.TSval
		}
		if h.SynCount > 0 && s.Flags&capture.ACK == 0 {
			h.SynGap = tx.At - lastAt
		}
		h.SynCount++
	}

	end := s.SeqEnd()
	if !h.SeqKnown || SeqLess(s.Seq, h.FirstSeq) {
		h.FirstSeq = s.Seq
	}
	newData := s.PayloadLen > 0 && (!h.SeqKnown || SeqLess(h.NextSeq, end))
	if !h.SeqKnown || SeqLess(h.NextSeq, end) {
		h.NextSeq, h.SeqKnown = end, true
	}
	switch {
	case newData:
		inc.History.mark(r, HistData)
	case s.PayloadLen > 0:
		inc.History.mark(r, HistRetrans)
	case s.Flags&(capture.SYN|capture.FIN|capture.RST|capture.ACK) == capture.ACK:
		inc.History.mark(r, HistACK)
	}

	acksPeerFin := s.Flags&capture.ACK != 0 && p.FinSeen() && SeqLEQ(p.FinSeq+1, s.Ack)
	// onAck: this segment is the end's first ACK of the peer's FIN, right after it
	// (see FinTx.OnAck).
	onAck := acksPeerFin && !p.FinAcked.Seen() && tx.At-p.LastFin().At <= h.TapRTT+finOnAckSlack
	if acksPeerFin {
		if bare := s.Flags&(capture.SYN|capture.FIN|capture.RST) == 0 && s.PayloadLen == 0; bare && p.drewOwnAck(tx, h.TapRTT) {
			inc.History.mark(r.Peer(), HistFINAgain)
		}
		if n := len(p.FinTxs); n > 0 && !p.FinTxs[n-1].Acked.Seen() {
			p.FinTxs[n-1].Acked = tx
		}
		if !p.FinAcked.Seen() {
			p.FinAcked = tx
			inc.History.mark(r, HistFinalACK)
		}
		p.FinLastAck = tx
		p.FinLastAckTSecr, p.FinLastAckHasTS = s.TSecr, s.HasTS
	}
	if newData && acksPeerFin && !h.DataAfterPeerFin.Seen() && s.Flags&capture.FIN == 0 {
		h.DataAfterPeerFin = tx
	}
	if s.Flags&capture.ACK != 0 && p.FinSeen() && !acksPeerFin && !p.FinAcked.Seen() {
		h.ShortOfPeerFin = tx
	}

	if s.Flags&capture.FIN != 0 {
		finSeq := end - 1
		switch {
		case h.FinCount == 0:
			inc.History.mark(r, HistFIN)
			h.FinSeq = finSeq
			h.FinCoversPeerFin = acksPeerFin
			h.FinCount = 1
			if h.FinTxs == nil {
				h.FinTxs = fins.take()
			}
			h.FinTxs = append(h.FinTxs, FinTx{Tx: tx, TSval: s.TSval, HasTS: s.HasTS})
		case finSeq == h.FinSeq:
			inc.History.mark(r, HistFINAgain)
			h.FinCount++
			h.addFinTx(FinTx{Tx: tx, TSval: s.TSval, HasTS: s.HasTS, AckedBefore: h.FinAcked.Seen(), OnAck: onAck})
		default:
			h.InconsistentFin++
		}
	}
}

// finOnAckSlack: a FIN copy that is an end's first ACK of the peer's FIN counts as
// riding on that ACK (FinTx.OnAck) when it passes the tap within the end's round trip
// from the tap plus this much of the peer's FIN: an ACK of a FIN goes out at once,
// and no retransmission timer fires that soon (Linux: tail-loss probe >= 10 ms,
// RTO >= 200 ms; FreeBSD RTO >= 30 ms).
const finOnAckSlack = int64(5e6) // 5 ms

// addFinTx keeps one more transmission of the FIN (see maxFinTx).
func (h *Half) addFinTx(ft FinTx) {
	h.finCopy = FinTx{}
	if len(h.FinTxs) < maxFinTx {
		h.FinTxs = append(h.FinTxs, ft)
	} else {
		h.FinTxs[maxFinTx-1] = ft
	}
}

// drewOwnAck is called with a bare ACK of h's FIN, from an end whose round trip from
// the tap is ackerRTT: when a copy of the FIN was taken for a
// capture duplicate and the FIN had already drawn its ACK before this one, the copy
// drew this ACK of its own. The stack sent it (macOS on loopback sends byte-identical
// copies microseconds apart); a capture duplicating packets would have duplicated
// the ACK too, and that copy would be dropped before it got here. The answer to a
// copy comes at once: within the acker's round trip plus finOnAckSlack.
func (h *Half) drewOwnAck(ack Tx, ackerRTT int64) bool {
	c := h.finCopy
	if !c.Seen() || !h.FinLastAck.Seen() || h.FinLastAck.At < h.LastFin().At || ack.At < c.At || ack.At-c.At > ackerRTT+finOnAckSlack {
		return false
	}
	h.Duplicates--
	h.FinCount++
	c.Acked = ack
	h.addFinTx(c)
	return true
}

// rstWindow bounds how far from the sender's next sequence number an RST may be and
// still be taken as the end of the connection: 1 MiB either way, more than the data
// a tap misses or a receiver has in flight in all but bulk transfers over long
// paths, and a 1-in-2048 chance for a blind RST.
const rstWindow = 1 << 20

func outsideRstWindow(seq, next uint32) bool {
	d := int32(seq - next)
	return d > rstWindow || d < -rstWindow
}

// tapRTT measures each end's round trip from the tap on the handshake: the server's
// from the client's SYN (its latest copy) to the first SYN-ACK, the client's from that
// SYN-ACK to the client's ACK of it.
func (inc *Incarnation) tapRTT(r Role, s *capture.Segment, tx Tx) {
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if h.TapRTT != 0 || p.Packets == 0 || p.Packets != uint64(p.SynCount) {
		return // measured already, or the peer sent more than its SYN
	}
	switch {
	case r == Server && s.Flags&(capture.SYN|capture.ACK) == capture.SYN|capture.ACK && acksSyn(p, s.Ack):
		h.TapRTT = max(tx.At-p.Last.At, 1)
	case r == Client && s.Flags&(capture.SYN|capture.ACK|capture.RST) == capture.ACK && p.SynAckSeen && s.Ack == p.ISN+1:
		h.TapRTT = max(tx.At-p.Last.At, 1)
	}
}

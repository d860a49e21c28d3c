package reassembly

import (
	"os"
	"time"

	"github.com/finack/finack/capture"
)

// flow is the per-4-tuple entry: the current incarnation and the one before it (kept
// while it may still receive late or stale segments).
//
// Flows live in the tracker's arena, outside the collected heap (arena.go): they
// name their incarnations (incRef) and their packed earlier ones (prevs) by index,
// and their fields are ordered and sized to fit 104 bytes: one is held per 4-tuple.
type flow struct {
	cur, prev incRef
	// packed is the current incarnation as a compact record while it is quiet (cur
	// is 0 then; see pack.go): a string, two words instead of a slice's three.
	packed string
	key    FlowKey
	// due: the time of the flow's entry in the sweep schedule, when dueSet.
	due   Instant
	count uint32 // incarnations the 4-tuple had
	// prevs: where its packed earlier incarnations are, Tracker.prevLists[prevs]
	// (0: none; packPrev).
	prevs uint32
	// dueSet: the flow is in the schedule at due; touched: in the list of flows
	// touched since the last sweep; again: in the list to visit at the next sweep;
	// gone: forgotten (its schedule entries are stale).
	dueSet, touched, again, gone bool
}

// cur and prev are a flow's current and previous incarnations (nil: none).
func (t *Tracker) cur(f *flow) *Incarnation { return t.incs[f.cur] }

func (t *Tracker) prev(f *flow) *Incarnation { return t.incs[f.prev] }

// Tracker follows every 4-tuple of a capture. Feed it segments in capture order with
// Add, then call Finish.
type Tracker struct {
	cfg   Config
	err   error // what stopped the tracker (Err)
	twLen time.Duration
	// minWait: the shortest a current incarnation may stay quiet before it is over
	// (overAfter): the TIME_WAIT length, or the idle timeout if shorter.
	minWait   time.Duration
	synGiveUp time.Duration
	flows     flowTable
	all       []*Incarnation // when not streaming
	nextSweep Instant
	sweptHeld int // incarnations held after the last sweep
	held      int // incarnations held (streaming)
	stats     TrackerStats
	touched   []*Incarnation
	// evictTouched: what evictCands summed of the memory it only touched.
	evictTouched uintptr
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
	// retiredCounts: the incarnation counts of the 4-tuples a batch tracker forgot
	// (retire), by countHash: it numbers on as if it had kept them.
	retiredCounts map[uint64]uint32
	// sweepDone, handOrder: a sweep's finished incarnations and the order to hand
	// them out in (scratch, kept between sweeps: keepScratch).
	sweepDone []finished
	handOrder []handOrder
	handTmp   []handOrder // sortByFirst's scratch for handOrder
	packBuf   []byte      // scratch for pack
	wakeTW    TimeWait    // scratch for packRecord's wake block
	// synOnPacked counts the bare SYNs that came for a flow whose current
	// incarnation was packed (reusePacked's chances): packRecord writes wake
	// blocks while they are at least one in wakeShare of the records packed.
	synOnPacked uint64
	// cold: the bodies of records of connections in TIME_WAIT, in temporary files
	// (cold.go), while the tracker holds at least coldAbove incarnations; coldBuf:
	// scratch for a record going there or coming back.
	cold     coldStore
	coldBuf  []byte
	eachCold []packedFinal // Each's records on disk (scratch)
	eachTmp  []packedFinal // sortByFirst's scratch for eachCold
	// arena: the flows and their packed records (arena.go); incs: the incarnations
	// the flows hold (incRef; incs[0] is nil), incsFree the indexes free in it.
	arena    *arena
	incs     []*Incarnation
	incsFree []incRef
	// prevLists: the flows' packed earlier incarnations (packPrev), each list at
	// the index its flow keeps (flow.prevs; 0 is none), prevSlots the indexes
	// free, prevLive the lists in use. The lists are in the arena.
	prevLists []*prevList
	prevSlots []uint32
	prevLive  int
	// packNS: a record could not be packed in microseconds (packTry): times in
	// nanoseconds, pack them so from now on.
	packNS bool
	// free: incarnations to reuse (packed, or handed out with DoneKeepsNothing),
	// at most maxFree. freeLow: the fewest it held since the last sweep (the ones
	// below were not needed for a whole sweep interval: trimIdleFree).
	free    []*Incarnation
	freeLow int
	spares  spares // what recycled incarnations leave for the next ones
	// startedSincePack: incarnations started since the last sweep or packQuiet;
	// nextPackAt: the capture time of the next packQuiet, if no starts call it
	// sooner.
	startedSincePack int
	nextPackAt       Instant
	// packLater: flows packQuiet found not quiet yet, to look at again;
	// packScanned: how much of touchedFlows it looked at.
	packLater   []packCand
	packScanned int
	// hooks: the thresholds, switches and counter only tests change or read.
	hooks testHooks
}

// NewTracker returns an empty tracker.
func NewTracker(cfg Config) *Tracker { return newTracker(cfg, defaultHooks()) }

// newTracker returns an empty tracker with the test hooks h (the package's
// tests: poisonedTracker).
func newTracker(cfg Config, h testHooks) *Tracker {
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = DefaultTimeWait
	}
	if cfg.SynGiveUp <= 0 {
		cfg.SynGiveUp = DefaultSynGiveUp
	}
	t := &Tracker{cfg: cfg, twLen: cfg.TimeWait, minWait: cfg.TimeWait, synGiveUp: cfg.SynGiveUp, countsGen: countsGeneration, hooks: h}
	if cfg.IdleTimeout > 0 {
		t.minWait = min(t.minWait, cfg.IdleTimeout)
	}
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
func (t *Tracker) TimeWaitLen() time.Duration { return t.twLen }

// Incarnations returns every incarnation seen so far, in order of first packet.
func (t *Tracker) Incarnations() []*Incarnation { return t.all }

// Finish marks the end of the capture at time end (the last packet's time).
// A streaming tracker hands every incarnation it still holds to Done, in order of
// first frame (but for those whose records are on disk, last, in the order written:
// handKey).
func (t *Tracker) Finish(end Instant) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	for _, inc := range t.all {
		if inc.End == EndCaptureEnd {
			inc.End, inc.EndAt = t.endBy(inc, end)
		}
	}
	if t.cfg.Done == nil {
		return
	}
	// The incarnations still whole (a few: those active in the last moments) as
	// finished entries; the packed current ones, most of what a busy capture holds,
	// as 16-byte (handKey, flow) pairs: the flow keeps its record until its turn; the
	// packed previous ones as (handKey, place) pairs and their records, out of their
	// lists.
	// (A list holds one to maxEarlier records; two each is room enough for most
	// captures, with no copies while they grow.)
	var whole []finished
	prevs := make([]handOrder, 0, 2*t.prevLive) // packed previous incarnations (packPrev, reusePacked): handKey, index in prevRecs
	prevRecs := make([]prevFinal, 0, 2*t.prevLive)
	packed := make([]packedFinal, 0, t.flows.n)
	t.flows.each(func(f *flow) {
		if l := t.packedPrev(f); l != nil {
			for _, rec := range l.records() {
				prevs = append(prevs, handOrder{handKey(rec), len(prevRecs)})
				prevRecs = append(prevRecs, prevFinal{f, rec})
			}
			t.freePrevList(f, l)
		}
		for p := t.prev(f); p != nil; p = p.older {
			whole = append(whole, finishedWhole(p)) // (replaced: EndAt set then)
		}
		if inc := t.cur(f); inc != nil {
			if inc.End == EndCaptureEnd {
				inc.End, inc.EndAt = t.endBy(inc, end)
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
	t.handFinal(whole, packed, prevs, prevRecs, end)
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
	t.addKeyed(s, kh)
}

// AddKeyedEach is AddKeyed for segs[i], keyed keys[i], of each i of idx in turn:
// one deferred recovery (catchCold) for them all rather than one a segment. An
// error reading the cold store back stops the tracker at that segment, as
// AddKeyed's would: the others are not added.
func (t *Tracker) AddKeyedEach(segs []capture.Segment, keys []Keyed, idx []uint16) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	for _, i := range idx {
		t.addKeyed(&segs[i], &keys[i])
	}
}

// addKeyed is AddKeyed without its recovery.
func (t *Tracker) addKeyed(s *capture.Segment, kh *Keyed) {
	at := InstantOf(s.Time)
	if t.cfg.Done != nil && !t.cfg.ManualSweep && (at >= t.nextSweep || (t.held >= t.hooks.packAbove && t.held >= 2*t.sweptHeld)) {
		// Every sweepEvery of capture time, and sooner when the incarnations held
		// have doubled since the last sweep (a flood: pack what can be packed
		// before it takes gigabytes; doubling keeps the sweeps' cost linear).
		if t.nextSweep != 0 {
			t.sweep(at)
		}
		t.nextSweep = at.Add(t.sweepEvery())
	}
	if t.held >= t.hooks.packAbove && t.cfg.Done != nil && (t.startedSincePack >= t.hooks.packEvery || at >= t.nextPackAt) {
		t.packQuiet(at)
	}
	k, h := &kh.Key, kh.hash
	f, other, started := t.lookup(k, h, s, at)
	if started != nil {
		t.applyNew(started, s, at)
		return
	}
	if f == nil && other != nil && t.join(other, k, s, k.fromLo(s.Src), at) {
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
		} else if n, ok := t.retiredCounts[ch]; ok {
			f.count = n
			delete(t.retiredCounts, ch)
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
	if inc == t.cur(f) && s.Flags&capture.SYN == 0 {
		if p := t.staleFor(f, inc, s, at); p != nil {
			p.addStale(s, tx, inc.Index)
			return
		}
		if s.Flags&capture.RST != 0 && inc.Reuse != nil && inc.Reuse.Prev == nil && f.prev == 0 {
			// A refusal RST records an RST in TIME_WAIT on the earlier
			// incarnation (refusal.go, through Reuse.Prev): whole and linked.
			t.unpackPrev(f)
		}
	}
	t.dropRec(inc) // (the record it was unpacked from, which the segment outdates)
	wasClosed := inc.closedClean()
	inc.apply(s, tx, t.twLen, &t.spares.fins)
	if t.cfg.Touched && !inc.touched {
		inc.touched = true
		t.touched = append(t.touched, inc)
	}
	if !wasClosed && t.cfg.Done != nil {
		t.packClosed(f, inc, at)
	}
}

// applyNew applies SYN s to the incarnation inc that reusePacked started for it,
// as AddKeyed does to the one route starts (a SYN does not close it: nothing to
// pack).
func (t *Tracker) applyNew(inc *Incarnation, s *capture.Segment, at Instant) {
	inc.apply(s, Tx{Frame: s.Frame, At: at}, t.twLen, &t.spares.fins)
	if t.cfg.Touched && !inc.touched {
		inc.touched = true
		t.touched = append(t.touched, inc)
	}
}

// TrackerStats counts what a streaming tracker did with its incarnations.
type TrackerStats struct {
	Tracked  int    // incarnations held now
	Flows    int    // 4-tuples held now
	Finished uint64 // incarnations handed to Done
	Expired  uint64 // ... because their close and TIME_WAIT were over
	Idle     uint64 // ... because they were idle longer than IdleTimeout
	Evicted  uint64 // ... because MaxConnections was reached
	PeakHeld int    // the most incarnations held at once
	Packed   uint64 // times a quiet incarnation was packed into a compact record
	// CountsDropped: forgotten 4-tuples whose incarnation count was dropped to keep
	// memory flat (Config.KeepCounts); one that comes back is numbered from 1.
	CountsDropped uint64
	// Cold: packed records whose body is in the tracker's temporary files now
	// (cold.go), and ColdBytes the bytes of those files. ColdError: why the files
	// stopped taking records (they stay in memory from then on), if they did.
	Cold      int
	ColdBytes int64
	ColdError error
}

// Stats returns what a streaming tracker holds and has finished.
func (t *Tracker) Stats() TrackerStats {
	st := t.stats
	st.Tracked, st.Flows = t.held, t.flows.n
	st.Cold, st.ColdBytes, st.ColdError = t.cold.records, t.cold.bytes, t.cold.err
	return st
}

// Shard returns which of n trackers owns the segment's 4-tuple: every segment of a
// 4-tuple (both directions) goes to the same one.
func Shard(s *capture.Segment, n int) int {
	if n <= 1 {
		return 0
	}
	k := KeyedOf(s)
	return k.Shard(n)
}

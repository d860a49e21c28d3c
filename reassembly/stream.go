package reassembly

import (
	"cmp"
	"slices"
	"time"

	"github.com/finack/finack/capture"
)

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

// Each calls fn for every incarnation the tracker holds now (in no fixed order):
// for a live view of a streaming tracker. A packed incarnation is unpacked for the
// call: fn must not keep the pointer, nor change the incarnation. Those whose
// records are on disk come last, in the order written (read back in windows, not
// one by one in the flow table's order).
func (t *Tracker) Each(fn func(*Incarnation)) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	cold := t.eachCold[:0]
	t.flows.each(func(f *flow) {
		for p := t.prev(f); p != nil; p = p.older {
			fn(p)
		}
		if c := t.cur(f); c != nil {
			fn(c)
		}
		if f.packed != "" {
			for _, rec := range t.packedPrev(f) {
				if rec == "" {
					break
				}
				b, _, _ := t.recordData(rec, false)
				fn(unpack(f.key, b))
			}
			if k := handKey(f.packed); k >= coldKeys {
				cold = append(cold, packedFinal{k, f})
				return
			}
			b, _, _ := t.recordData(f.packed, false)
			fn(unpack(f.key, b))
		}
	})
	slices.SortFunc(cold, func(a, b packedFinal) int { return cmp.Compare(a.first, b.first) })
	for _, c := range cold {
		b, _, _ := t.recordData(c.f.packed, true)
		fn(unpack(c.f.key, b))
	}
	t.eachCold = keepScratch(cold)
}

// TakeTouched returns the incarnations that received a segment since the last call
// (Config.Touched), appended to dst.
func (t *Tracker) TakeTouched(dst []*Incarnation) []*Incarnation {
	for _, inc := range t.touched {
		inc.touched = false
		dst = append(dst, inc)
	}
	t.touched = t.touched[:0]
	return dst
}

// Sweep finishes, at capture time now, every incarnation nothing can change any
// more: one replaced by a newer incarnation, once the window for its stale segments
// (its TIME_WAIT, or the TIME_WAIT length after the replacement) is over; one closed
// and quiet for the TIME_WAIT length (twice that while a FIN is unacknowledged: a
// passive closer backs off to a minute between retransmissions); one idle longer than
// IdleTimeout. A streaming tracker sweeps by itself every second of capture time;
// call Sweep on a timer when packets may stop coming (live capture).
//
// A sweep visits only the flows that may have changed or come due (flowtable.go), so
// its cost follows the connections' activity, not the number held.
func (t *Tracker) Sweep(now int64) {
	if t.cfg.Done == nil || t.err != nil {
		return
	}
	defer t.catchCold()
	t.sweep(now)
}

// sweep is Sweep within a Tracker method that catches cold store errors.
func (t *Tracker) sweep(now int64) {
	done := t.sweepDone[:0]
	if t.sweepAll {
		t.flows.each(func(f *flow) { t.visit(f, now, &done) })
	}
	touched := t.touchedFlows
	for i, f := range touched {
		f.touched = false
		touched[i] = nil
		t.visit(f, now, &done)
	}
	t.touchedFlows = touched[:0]
	again := t.again
	t.again = nil
	for i, f := range again {
		f.again = false
		again[i] = nil
		t.visit(f, now, &done)
	}
	if t.again == nil {
		t.again = again[:0]
	}
	for t.due.len() > 0 && t.due.next().due <= now {
		e := t.due.pop()
		if e.current() {
			e.f.dueSet = false
			t.visit(e.f, now, &done)
		}
	}
	t.hand(done)
	t.sweepDone = keepScratch(done)
	t.sweptHeld = t.held
	t.startedSincePack, t.nextPackAt = 0, satAdd(now, t.packQuietEvery)
	clear(t.packLater)
	t.packLater, t.packScanned = t.packLater[:0], 0
	t.trimIdleFree()
}

// visit finishes what is over of one flow at time now, packs its current
// incarnation if it is quiet, forgets the flow once it holds nothing, and schedules
// its next visit.
func (t *Tracker) visit(f *flow, now int64, done *[]finished) {
	if f.gone {
		return
	}
	if recs := t.packedPrev(f); recs[0] != "" && recs.overAt() <= now {
		t.unpackPrev(f) // one is over: whole again, to be handed out below
	}
	if f.prev != 0 {
		t.dropEarlier(f, func(_ int, p *Incarnation) bool { return t.prevOver(p, now) }, func(p *Incarnation) {
			p.End, p.EndAt = EndReplaced, min(p.EndAt, now)
			*done = append(*done, finishedWhole(p))
			t.stats.Expired++
		})
	}
	wait := int64(-1) // the current incarnation's (overAfter), if it stays whole
	if c := t.cur(f); c != nil {
		var reason EndReason
		wait, reason = t.overAfter(c)
		switch {
		case wait >= 0 && now-c.Last.At > wait:
			c.End, c.EndAt = reason, now
			*done = append(*done, finishedWhole(c))
			t.count(reason)
			t.unhold(f.cur)
			f.cur = 0
		case t.held >= t.packAbove && now-c.Last.At >= packIdle:
			t.pack(f)
		}
	} else if f.packed != "" {
		if h := header(f.packed); h.wait >= 0 && now-h.lastAt > h.wait {
			t.unpackPrev(f) // (a previous incarnation packed only beside a packed current one)
			*done = append(*done, packedEnd(f, h.reason, now))
			t.count(h.reason)
			f.packed = ""
		}
	}
	if f.cur == 0 && f.prev == 0 && f.packed == "" {
		t.forget(f)
		return
	}
	t.schedule(f, now, wait)
}

// schedule puts the flow in the sweep schedule at the earliest time a visit may find
// something to do, if no segment comes: its previous incarnation's window closing,
// its current one expiring or quiet enough to pack, its packed record expiring. A
// current incarnation quiet enough that was not packed (fewer than packAbove held)
// is visited again at the next sweep.
// wait is the current incarnation's overAfter.
func (t *Tracker) schedule(f *flow, now, wait int64) {
	due := maxTime
	if p := t.prev(f); p != nil {
		for ; p != nil; p = p.older {
			due = min(due, t.prevOverAt(p))
		}
	} else if recs := t.packedPrev(f); recs[0] != "" {
		due = min(due, recs.overAt())
	}
	if c := t.cur(f); c != nil {
		if wait >= 0 {
			due = min(due, satAdd(c.Last.At, wait+1))
		}
		if packAt := satAdd(c.Last.At, packIdle); now < packAt {
			due = min(due, packAt)
		} else if !f.again {
			f.again = true
			t.again = append(t.again, f)
		}
	}
	if f.packed != "" {
		if h := header(f.packed); h.wait >= 0 {
			due = min(due, satAdd(h.lastAt, h.wait+1))
		}
	}
	if due == maxTime || (f.dueSet && f.due <= due) {
		return
	}
	f.due, f.dueSet = due, true
	t.due.push(dueEntry{due, f})
	if t.due.len() > t.dueCompactAt {
		t.due.compact()
		t.dueCompactAt = 2*t.due.len() + 4096
	}
}

// touch notes that a flow received a segment: the next sweep visits it.
func (t *Tracker) touch(f *flow) {
	if !f.touched {
		f.touched = true
		t.touchedFlows = append(t.touchedFlows, f)
	}
}

// count counts an incarnation finished by a sweep.
func (t *Tracker) count(reason EndReason) {
	if reason == EndIdle {
		t.stats.Idle++
	} else {
		t.stats.Expired++
	}
}

// packEvery: between sweeps, the quiet incarnations are packed after every
// packEvery incarnations started and every packQuietEvery of capture time
// (packQuiet), so that those held whole stay about packEvery plus the ones active in
// the last half second, however far apart the sweeps (every 16,384 SYNs at most,
// every 5 s of capture time otherwise).
const (
	packEvery      = 4096
	packQuietEvery = packIdle
)

// packQuiet packs, at capture time now, the quiet current incarnations of the flows
// touched since the last sweep (those untouched were packed, if they could be, by a
// sweep or an earlier packQuiet). Packing changes nothing a report shows
// (TestPackingChangesNothing, TestSweepScheduleMissesNothing), so it may come at any
// time; the flows stay in the touched list and the next sweep visits them as it would
// have. A pass looks at the flows touched since the last pass and at those it found
// not quiet yet (packLater): its cost follows the connections active, not those
// held.
func (t *Tracker) packQuiet(now int64) {
	t.startedSincePack, t.nextPackAt = 0, satAdd(now, t.packQuietEvery)
	later := t.packLater[:0]
	check := func(f *flow) {
		c := t.cur(f)
		if c == nil {
			return // packed already, or handed out
		}
		if quietAt := c.Last.At + packIdle; now < quietAt {
			later = append(later, packCand{quietAt, f})
			return
		}
		t.pack(f) // (refused when a live view holds it: left to the sweeps)
		if f.cur == 0 {
			t.quietPacked++
		}
	}
	for _, pc := range t.packLater {
		if now < pc.quietAt {
			// Not quiet yet for sure (Last only grows): skipped without
			// touching the flow.
			later = append(later, pc)
			continue
		}
		check(pc.f)
	}
	for _, f := range t.touchedFlows[t.packScanned:] {
		check(f)
	}
	clear(later[len(later):cap(later)])
	t.packLater, t.packScanned = later, len(t.touchedFlows)
	t.trimFree()
}

// packCand is a flow packQuiet found not quiet yet, and when it would be if no
// segment came.
type packCand struct {
	quietAt int64
	f       *flow
}

// pack replaces the flow's current incarnation by its record, unless the live
// display's touched list holds it. The link to the incarnation before it (still
// held for its stale segments) is cut, as handing that one out would cut it: the
// record cannot keep a pointer, and nothing reads the link but a Done that keeps
// incarnations (see Reuse.Prev). The earlier ones held are packed too (packPrev).
func (t *Tracker) pack(f *flow) {
	c := t.cur(f)
	if t.noPack || c == nil || c.touched || c.next != nil {
		return
	}
	if c.Reuse != nil && c.Reuse.Prev != nil {
		if p := c.Reuse.Prev; p.next == c {
			p.next = nil
		}
		c.Reuse.Prev = nil
	}
	wait, reason := t.overAfter(c)
	f.packed = t.packRecord(c, wait, reason)
	t.unhold(f.cur)
	f.cur = 0
	if p := t.prev(f); p != nil {
		t.packPrev(f, p)
	}
}

// packRecord packs inc (the header: over when quiet longer than wait, for reason)
// into a record in the arena, and recycles inc.
func (t *Tracker) packRecord(inc *Incarnation, wait int64, reason EndReason) string {
	var us bool
	t.packBuf, us = packTry(t.packBuf, inc, packHeader{first: inc.First, lastAt: inc.Last.At, wait: wait, reason: reason}, t.packRecent, !t.packNS)
	t.packNS = t.packNS || !us
	t.stats.Packed++
	if !t.cfg.Touched { // (a live view may still hold what TakeTouched gave it)
		t.recycle(inc)
	}
	if reason == EndExpired && t.held >= t.coldAbove {
		if mem, ok := t.coldPut(t.packBuf); ok {
			return t.arena.alloc(mem)
		}
	}
	return t.arena.alloc(t.packBuf)
}

// unpackRecord returns the incarnation of a record on 4-tuple k (its memory reused
// when some is free), and frees the record. ahead: the records written after it are
// about to be unpacked too (see recordData).
func (t *Tracker) unpackRecord(k FlowKey, rec string, ahead bool) *Incarnation {
	inc := t.newIncarnation()
	b, cold, seg := t.recordData(rec, ahead)
	unpackInto(inc, k, b, &t.fins)
	if cold {
		t.cold.drop(seg)
	}
	t.arena.free(rec)
	return inc
}

// packPrev packs the earlier incarnations of a flow whose current one was just
// packed: a reused 4-tuple's earlier connections are held, for their stale
// segments, until their TIME_WAIT is over (a minute), and whole each took about
// 1 KB; a 4-tuple reused several times within TIME_WAIT holds several (at most
// maxEarlier). They are kept apart (Tracker.prevPacked), newest first, only while
// the current one is packed too: anything that unpacks the current one, or looks at
// the earlier ones, unpacks them first (unpackPrev), so the rest of the tracker
// sees them whole. Each header's wait puts its expiry at prevOverAt, which nothing
// can move while it is packed (only its segments change it). The links between them
// (next, older; Reuse.Prev, read only on the current incarnation: refusal.go) are
// cut as handing them out would cut them.
func (t *Tracker) packPrev(f *flow, p *Incarnation) {
	n := 0
	for q := p; q != nil; q = q.older {
		if q.touched || n == maxEarlier {
			return // (a live view holds it: left whole)
		}
		n++
	}
	var recs prevRecs
	i := 0
	for q := p; q != nil; i++ {
		older := q.older
		q.next, q.older = nil, nil
		if q.Reuse != nil {
			q.Reuse.Prev = nil
		}
		if q.rec != "" && !q.changed {
			// Unchanged since it was unpacked: its record as it was.
			recs[i], q.rec = q.rec, ""
			t.stats.Packed++
			if !t.cfg.Touched {
				t.recycle(q)
			}
		} else {
			t.dropRec(q)
			recs[i] = t.packRecord(q, max(t.prevOverAt(q)-q.Last.At-1, 0), EndReplaced)
		}
		q = older
	}
	if t.prevPacked == nil {
		t.prevPacked = make(map[*flow]prevRecs)
	}
	t.prevPacked[f] = recs
	t.unhold(f.prev)
	f.prev = 0
}

// prevRecs are the records of a flow's packed earlier incarnations, newest first
// ("" after the last).
type prevRecs [maxEarlier]string

// overAt is when the first of the records' stale-segment windows closes (their
// prevOverAt).
func (r *prevRecs) overAt() int64 {
	at := maxTime
	for _, rec := range r {
		if rec == "" {
			break
		}
		h := header(rec)
		at = min(at, satAdd(h.lastAt, h.wait+1))
	}
	return at
}

// packedPrev is the records of the flow's packed earlier incarnations (the first
// "": none). Only a flow whose current incarnation is packed can have them.
func (t *Tracker) packedPrev(f *flow) prevRecs {
	if f.packed == "" || len(t.prevPacked) == 0 {
		return prevRecs{}
	}
	return t.prevPacked[f]
}

// unpackPrev makes the flow's packed earlier incarnations, if any, whole again,
// linked to each other and to the current one if that is whole.
func (t *Tracker) unpackPrev(f *flow) {
	recs := t.packedPrev(f)
	if recs[0] == "" {
		return
	}
	delete(t.prevPacked, f)
	var newer *Incarnation
	for _, rec := range recs {
		if rec == "" {
			break
		}
		p := t.unpackKeep(f.key, rec)
		if newer == nil {
			f.prev = t.hold(p)
		} else {
			newer.older, p.next = p, newer
		}
		newer = p
	}
	if c := t.cur(f); c != nil {
		p := t.prev(f)
		p.next = c
		if c.Reuse != nil {
			c.Reuse.Prev = p
		}
	}
}

// unpackKeep unpacks an earlier incarnation's record (never on disk: only records
// of connections in TIME_WAIT go there, not those of replaced ones) and keeps the
// record with it (Incarnation.rec).
func (t *Tracker) unpackKeep(k FlowKey, rec string) *Incarnation {
	inc := t.newIncarnation()
	b, cold, _ := t.recordData(rec, false)
	unpackInto(inc, k, b, &t.fins)
	if cold {
		panic("reassembly: an earlier incarnation's record on disk")
	}
	inc.rec = rec
	return inc
}

// dropRec frees the record an incarnation was unpacked from, if it kept one.
func (t *Tracker) dropRec(inc *Incarnation) {
	if inc.rec != "" {
		t.arena.free(inc.rec)
		inc.rec = ""
	}
	inc.changed = false
}

// prevOver: the stale-segment window of a replaced incarnation is over.
func (t *Tracker) prevOver(p *Incarnation, now int64) bool { return now >= t.prevOverAt(p) }

// prevOverAt is when the stale-segment window of a replaced incarnation closes: the
// end of its TIME_WAIT (not before it was replaced), else the TIME_WAIT length
// after it was replaced.
func (t *Tracker) prevOverAt(p *Incarnation) int64 {
	if tw := p.TimeWait(time.Duration(t.twLen)); tw.Held() {
		return max(tw.Until, p.EndAt)
	}
	return satAdd(p.EndAt, t.twLen)
}

// overAfter says how long the current incarnation of a 4-tuple may stay quiet before
// it is over, and why it is then (-1: never by itself). A closed incarnation waits
// the TIME_WAIT length (twice that while a FIN is unacknowledged: a passive closer
// backs off to a minute between retransmissions); an open one the idle timeout.
func (t *Tracker) overAfter(c *Incarnation) (int64, EndReason) {
	if _, closed := c.closed(); closed {
		wait := t.twLen
		if (c.Half[Client].FinSeen() && !c.Half[Client].FinAcked.Seen()) || (c.Half[Server].FinSeen() && !c.Half[Server].FinAcked.Seen()) {
			wait *= 2
		}
		return wait, EndExpired
	}
	if t.cfg.IdleTimeout > 0 {
		return int64(t.cfg.IdleTimeout), EndIdle
	}
	return -1, EndCaptureEnd
}

// evict finishes the least recently active tenth of the incarnations held, to make
// room under MaxConnections.
func (t *Tracker) evict(now int64) {
	cands := make([]evictCand, 0, t.flows.n)
	t.flows.each(func(f *flow) {
		last := int64(-1 << 63)
		for p := t.prev(f); p != nil; p = p.older {
			last = max(last, p.Last.At)
		}
		if c := t.cur(f); c != nil {
			last = max(last, c.Last.At)
		}
		if f.packed != "" {
			h := header(f.packed)
			last = max(last, h.lastAt)
			for _, rec := range t.packedPrev(f) {
				if rec == "" {
					break
				}
				last = max(last, header(rec).lastAt)
			}
		}
		if last == -1<<63 {
			return // the entry of the incarnation being started
		}
		cands = append(cands, evictCand{last, f})
	})
	n := min(max(len(cands)/10, 1), len(cands))
	selectOldest(cands, n) // linear time: a full sort of a million flows stalls for seconds
	var done []finished
	for _, c := range cands[:n] {
		f := c.f
		t.unpackPrev(f)
		var earlier [maxEarlier]*Incarnation
		n := 0
		t.dropEarlier(f, func(int, *Incarnation) bool { return true }, func(p *Incarnation) {
			earlier[n] = p
			n++
		})
		for _, inc := range append(earlier[:n], t.cur(f)) {
			if inc != nil {
				// A replaced one ended when it was replaced (EndAt set then,
				// as a sweep leaves it).
				if inc.End == EndCaptureEnd {
					inc.End, inc.EndAt = EndEvicted, now
				}
				done = append(done, finishedWhole(inc))
				t.stats.Evicted++
			}
		}
		if f.packed != "" {
			done = append(done, packedEnd(f, EndEvicted, now))
			t.stats.Evicted++
		}
		t.forget(f)
	}
	t.hand(done)
}

// forget drops a 4-tuple from the flow table, keeping its incarnation count when
// asked (Config.KeepCounts), and gives the flow back to the arena: its incarnations
// were handed out or are about to be (the record moved to a finished entry).
// Until a new flow takes its slot the flow reads as gone, with its key and count:
// the hand-out that follows reads the key of a packed incarnation there, and start
// the count of its own 4-tuple evicted; no flow is made in between.
func (t *Tracker) forget(f *flow) {
	h := keyHash(&f.key)
	t.flows.remove(f, h)
	t.unhold(f.cur)
	t.unhold(f.prev)
	f.cur, f.prev, f.packed = 0, 0, ""
	t.arena.freeFlow(f)
	if t.cfg.KeepCounts && f.count > 0 {
		if t.counts.n >= t.countsGen {
			// The older generation is dropped, and its table emptied to be the
			// new one.
			t.stats.CountsDropped += uint64(t.countsOld.n)
			t.countsOld.empty()
			t.countsOld, t.counts = t.counts, t.countsOld
		}
		t.counts.put(t.arena, t.countsGen, countHash(&f.key, h), f.count)
	}
}

// countsGeneration is how many forgotten 4-tuples' counts one generation holds
// (Config.KeepCounts): two generations take at most 4 MiB (countTable), so that a
// capture of ten million connections needs no more memory than one of a million.
const countsGeneration = 1 << 16

// finished is an incarnation to hand to Done: whole, or packed (unpacked when its
// turn comes, so that finishing a million packed incarnations never holds them all
// unpacked at once).
type finished struct {
	first uint64 // the order of hand-out: its first frame (handKey for a packed one)
	inc   *Incarnation
	// A packed one: its flow (for the key: a flow's key never changes) and record,
	// and its End and EndAt once unpacked.
	f      *flow
	packed string
	endAt  int64
	end    EndReason
}

func finishedWhole(inc *Incarnation) finished { return finished{first: inc.First.Frame, inc: inc} }

// packedEnd is a packed current incarnation, finished at endAt for reason (a current
// incarnation's End is EndCaptureEnd until then).
func packedEnd(f *flow, reason EndReason, endAt int64) finished {
	return finished{first: handKey(f.packed), f: f, packed: f.packed, end: reason, endAt: endAt}
}

// packedFinal is a packed incarnation still held at the end of the capture: its
// handKey, and its flow, which keeps the record (the flow is out of the table).
// 16 bytes: Finish holds one per packed incarnation.
type packedFinal struct {
	first uint64
	f     *flow
}

// hand gives finished incarnations to Done in order of first frame, but for records
// on disk, last, in the order written (handKey): a sweep visits the flow table in
// random order, and the order handed out must not depend on it.
func (t *Tracker) hand(done []finished) {
	// Sort 16-byte (frame, index) pairs, not the entries themselves: moving 100-byte
	// entries cost more than the rest of Finish on a million incarnations.
	order := t.handOrder[:0]
	for i := range done {
		order = append(order, handOrder{done[i].first, i})
	}
	slices.SortFunc(order, func(a, b handOrder) int { return cmp.Compare(a.first, b.first) })
	for _, o := range order {
		d := &done[o.i]
		inc := d.inc
		if inc == nil {
			inc = t.unpackFinished(d.f, d.packed, d.end, d.endAt)
		}
		*d = finished{} // let the collector have it once Done is through with it
		t.give(inc)
	}
	t.handOrder = keepScratch(order)
}

// keepScratch is a scratch list to use again at the next sweep, emptied: a sweep's
// lists are as long as the incarnations it finishes, and made anew each time they
// would be most of what a large capture allocates.
// One left much longer than its last use is let go (a burst's).
func keepScratch[T any](s []T) []T {
	if cap(s) > 1<<16 && cap(s) > 8*len(s) {
		return nil
	}
	clear(s)
	return s[:0]
}

// handFinal hands out what Finish found held, whole and packed, merged in order of
// handKey: the packed current incarnations finished at the capture's end, the
// packed previous ones as they were packed (replaced), each unpacked at its turn.
func (t *Tracker) handFinal(whole []finished, packed, prevs []packedFinal, end int64) {
	byFirst := func(a, b packedFinal) int { return cmp.Compare(a.first, b.first) }
	slices.SortFunc(whole, func(a, b finished) int { return cmp.Compare(a.first, b.first) })
	slices.SortFunc(packed, byFirst)
	slices.SortFunc(prevs, byFirst)
	const none = ^uint64(0) // (no frame is numbered so)
	head := func(l []packedFinal) uint64 {
		if len(l) == 0 {
			return none
		}
		return l[0].first
	}
	for len(whole)+len(packed)+len(prevs) > 0 {
		w := none
		if len(whole) > 0 {
			w = whole[0].first
		}
		switch c, p := head(packed), head(prevs); {
		case w < c && w < p:
			inc := whole[0].inc
			whole[0] = finished{}
			whole = whole[1:]
			t.give(inc)
		case p < c:
			// The oldest of the flow's packed earlier incarnations (the
			// lowest first frame): the last of its records.
			f := prevs[0].f
			prevs[0] = packedFinal{}
			prevs = prevs[1:]
			recs := t.prevPacked[f]
			n := 0
			for n < len(recs) && recs[n] != "" {
				n++
			}
			rec := recs[n-1]
			if n == 1 {
				delete(t.prevPacked, f)
			} else {
				recs[n-1] = ""
				t.prevPacked[f] = recs
			}
			t.give(t.unpackRecord(f.key, rec, false)) // as it was packed: replaced
		default:
			f := packed[0].f
			packed[0] = packedFinal{}
			packed = packed[1:]
			inc := t.unpackFinished(f, f.packed, EndCaptureEnd, end)
			f.packed = ""
			t.give(inc)
		}
	}
}

// unpackFinished unpacks the record of flow f, finished at endAt for reason, and
// frees the record.
func (t *Tracker) unpackFinished(f *flow, packed string, reason EndReason, endAt int64) *Incarnation {
	inc := t.unpackRecord(f.key, packed, true)
	inc.End, inc.EndAt = reason, endAt
	return inc
}

// give hands one finished incarnation to Done, and cuts the links between it and
// the incarnations beside it so it can be freed (or reused).
func (t *Tracker) give(inc *Incarnation) {
	t.dropRec(inc)
	t.cfg.Done(inc)
	t.held--
	t.stats.Finished++
	if inc.next != nil && inc.next.Reuse != nil && inc.next.Reuse.Prev == inc {
		inc.next.Reuse.Prev = nil
	}
	inc.next, inc.older = nil, nil
	if inc.Reuse != nil {
		if p := inc.Reuse.Prev; p != nil && p.next == inc {
			p.next = nil
		}
		inc.Reuse.Prev = nil
	}
	if t.cfg.DoneKeepsNothing {
		t.recycle(inc) // no other incarnation points to it now
	}
}

type handOrder struct {
	first uint64
	i     int
}

// SweepEvery returns how often, in capture time (ns), a streaming tracker sweeps by
// itself (see sweepEvery): for a caller that sweeps (Config.ManualSweep).
func (t *Tracker) SweepEvery() int64 { return t.sweepEvery() }

// Shard returns which of n trackers owns the segment's 4-tuple: every segment of a
// 4-tuple (both directions) goes to the same one.
func Shard(s *capture.Segment, n int) int {
	if n <= 1 {
		return 0
	}
	return KeyedOf(s).Shard(n)
}

// sweepEvery is how often (capture time) a streaming tracker looks for incarnations
// to finish: a quarter of the TIME_WAIT length or of the idle timeout, at most 5 s.
// An incarnation is finished at most that late. (A sweep costs the flows it visits,
// not those held, but its times decide when incarnations end, EndAt: reports would
// change with them.)
func (t *Tracker) sweepEvery() int64 {
	every := t.twLen / 4
	if t.cfg.IdleTimeout > 0 {
		every = min(every, int64(t.cfg.IdleTimeout)/4)
	}
	return min(max(every, 1), int64(5*time.Second))
}

// evictCand is a 4-tuple and when it last saw a packet.
type evictCand struct {
	last int64
	f    *flow
}

// older orders candidates by last activity, then by key: a total order, so the
// selection does not depend on the map's iteration order.
func (a evictCand) older(b evictCand) bool {
	if a.last != b.last {
		return a.last < b.last
	}
	return a.f.key.less(b.f.key)
}

// selectOldest moves the n oldest candidates to the front of c, in no particular
// order (Hoare's quickselect: linear time on average).
func selectOldest(c []evictCand, n int) {
	if n <= 0 || n >= len(c) {
		return
	}
	k := n - 1
	lo, hi := 0, len(c)-1
	for lo < hi {
		p := c[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for c[i].older(p) {
				i++
			}
			for p.older(c[j]) {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

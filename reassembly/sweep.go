package reassembly

import (
	"time"
)

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
func (t *Tracker) Sweep(now Instant) {
	if t.cfg.Done == nil || t.err != nil {
		return
	}
	defer t.catchCold()
	t.sweep(now)
}

// sweep is Sweep within a Tracker method that catches cold store errors.
func (t *Tracker) sweep(now Instant) {
	done := t.sweepDone[:0]
	if t.hooks.sweepAll {
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
	t.startedSincePack, t.nextPackAt = 0, satAdd(now, t.hooks.packQuietEvery)
	clear(t.packLater)
	t.packLater, t.packScanned = t.packLater[:0], 0
	t.trimIdleFree()
}

// visit finishes what is over of one flow at time now, packs its current
// incarnation if it is quiet, forgets the flow once it holds nothing, and schedules
// its next visit.
func (t *Tracker) visit(f *flow, now Instant, done *[]finished) {
	if f.gone {
		return
	}
	t.finishEarlier(f, now, done)
	wait := time.Duration(-1) // the current incarnation's (overAfter), if it stays whole
	var packed *packHeader    // f.packed's, when read here
	if c := t.cur(f); c != nil {
		var reason EndReason
		wait, reason = t.overAfter(c)
		switch {
		case wait >= 0 && now.Sub(c.Last.At) > wait:
			c.End, c.EndAt = reason, satAdd(c.Last.At, wait)
			*done = append(*done, finishedWhole(c))
			t.count(reason)
			t.unhold(f.cur)
			f.cur = 0
		case t.held >= t.hooks.packAbove && now.Sub(c.Last.At) >= packIdle:
			t.pack(f, now)
		}
	} else if f.packed != "" {
		h := header(f.packed)
		if h.wait >= 0 && now.Sub(h.lastAt) > h.wait {
			*done = append(*done, packedEnd(f, h.reason, satAdd(h.lastAt, h.wait)))
			t.count(h.reason)
			f.packed = ""
		}
		packed = &h
	}
	if f.cur == 0 && f.prev == 0 && f.packed == "" && t.packedPrev(f) == nil {
		t.forget(f)
		return
	}
	t.schedule(f, now, wait, packed)
}

// schedule puts the flow in the sweep schedule at the earliest time a visit may find
// something to do, if no segment comes: its previous incarnation's window closing,
// its current one expiring or quiet enough to pack, its packed record expiring. A
// current incarnation quiet enough that was not packed (fewer than packAbove held)
// is visited again at the next sweep.
// wait is the current incarnation's overAfter; packed the header of f.packed if the
// caller read it (nil: read here).
func (t *Tracker) schedule(f *flow, now Instant, wait time.Duration, packed *packHeader) {
	due := maxTime
	for p := t.prev(f); p != nil; p = p.older {
		due = min(due, t.prevOverAt(p))
	}
	if l := t.packedPrev(f); l != nil {
		due = min(due, t.packedOverAt(f, l))
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
		if packed == nil {
			h := header(f.packed)
			packed = &h
		}
		if packed.wait >= 0 {
			due = min(due, satAdd(packed.lastAt, packed.wait+1))
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

// wholePrevOver reports whether one of the flow's earlier incarnations held whole
// is over at time now.
func (t *Tracker) wholePrevOver(f *flow, now Instant) bool {
	for p := t.prev(f); p != nil; p = p.older {
		if t.prevOver(p, now) {
			return true
		}
	}
	return false
}

// finishEarlier lets go of the flow's earlier incarnations whose window is over at
// time now, appended to done to be handed out (a batch tracker keeps them in
// Incarnations as they are). A sweep does it (visit), and a segment about to join
// the flow (join): what it finds must not depend on when the last sweep ran.
func (t *Tracker) finishEarlier(f *flow, now Instant, done *[]finished) {
	if l := t.packedPrev(f); l != nil && (t.packedOverAt(f, l) <= now || t.wholePrevOver(f, now)) {
		// One is over: handed out packed when it can be (finishPacked), else
		// whole again, to be handed out below. (When only whole ones are over,
		// the packed ones are unpacked too: behind whole ones, or linked to the
		// current incarnation, they stay as unpacking the flow would have left
		// them.)
		if f.prev != 0 || t.cfg.Done == nil || !t.finishPacked(f, l, now, done) {
			t.unpackPrev(f)
		}
	}
	if f.prev == 0 {
		return
	}
	t.dropEarlier(f, func(_ int, p *Incarnation) bool { return t.prevOver(p, now) }, func(p *Incarnation) {
		if t.cfg.Done == nil {
			return
		}
		p.End, p.EndAt = EndReplaced, min(p.EndAt, now)
		*done = append(*done, finishedWhole(p))
		t.stats.Expired++
	})
}

// finishPacked appends to done, still packed, the packed earlier incarnations l of
// flow f (none whole) whose window is over at time now (prevOverAt, kept in their
// signatures), when those are its oldest: handed out in handKey's order, the records
// on disk are read back in windows, not one by one. false, with nothing done, when
// one that is over is newer than one that is not.
func (t *Tracker) finishPacked(f *flow, l *prevList, now Instant, done *[]finished) bool {
	n := l.len()
	k := n // l.sig[k:] are over
	for k > 0 && l.sig[k-1].overAt <= now {
		k--
	}
	for i := range k {
		if l.sig[i].overAt <= now {
			return false
		}
	}
	for range n - k {
		rec := t.popOldest(f, l)
		*done = append(*done, finished{first: handKey(rec), f: f, packed: rec, end: endAsPacked})
		t.stats.Expired++
	}
	return true
}

// prevOver: the stale-segment window of a replaced incarnation is over.
func (t *Tracker) prevOver(p *Incarnation, now Instant) bool { return now >= t.prevOverAt(p) }

// prevOverAt is when the stale-segment window of a replaced incarnation closes: the
// end of its TIME_WAIT (not before it was replaced), else the TIME_WAIT length
// after it was replaced.
func (t *Tracker) prevOverAt(p *Incarnation) Instant {
	if tw := p.TimeWait(t.twLen); tw.Held() {
		return max(tw.Until, p.EndAt)
	}
	return satAdd(p.EndAt, t.twLen)
}

// endBy returns how the current incarnation c stands at time end when nothing comes
// after it: over (the reason, at the moment it was: its last segment and the wait
// overAfter gives), or still going when the capture ended (EndCaptureEnd, at end).
// The moment, not when a sweep found it, so that the report does not depend on the
// sweeps.
func (t *Tracker) endBy(c *Incarnation, end Instant) (EndReason, Instant) {
	if wait, reason := t.overAfter(c); wait >= 0 && end.Sub(c.Last.At) > wait {
		return reason, satAdd(c.Last.At, wait)
	}
	return EndCaptureEnd, end
}

// overAfter says how long the current incarnation of a 4-tuple may stay quiet before
// it is over, and why it is then (-1: never by itself). A closed incarnation waits
// the TIME_WAIT length (twice that while a FIN is unacknowledged: a passive closer
// backs off to a minute between retransmissions); an open one the idle timeout.
func (t *Tracker) overAfter(c *Incarnation) (time.Duration, EndReason) {
	if _, closed := c.closed(); closed {
		wait := t.twLen
		if (c.Half[Client].FinSeen() && !c.Half[Client].FinAcked.Seen()) || (c.Half[Server].FinSeen() && !c.Half[Server].FinAcked.Seen()) {
			wait *= 2
		}
		return wait, EndExpired
	}
	if t.cfg.IdleTimeout > 0 {
		return t.cfg.IdleTimeout, EndIdle
	}
	return -1, EndCaptureEnd
}

// SweepEvery returns how often, in capture time, a streaming tracker sweeps by
// itself (see sweepEvery): for a caller that sweeps (Config.ManualSweep).
func (t *Tracker) SweepEvery() time.Duration { return t.sweepEvery() }

// sweepEvery is how often (capture time) a streaming tracker looks for incarnations
// to finish: a quarter of the TIME_WAIT length or of the idle timeout, at most 5 s.
// An incarnation is finished at most that late. (A sweep costs the flows it visits,
// not those held, but its times decide when incarnations end, EndAt: reports would
// change with them.)
func (t *Tracker) sweepEvery() time.Duration {
	every := t.twLen / 4
	if t.cfg.IdleTimeout > 0 {
		every = min(every, t.cfg.IdleTimeout/4)
	}
	return min(max(every, 1), 5*time.Second)
}

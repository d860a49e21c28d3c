package reassembly

import (
	"time"
	"unsafe"
)

// recordBytes is a packed record's bytes, to read only.
func recordBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// unpackFlow makes a flow's packed current incarnation whole again. It keeps its
// record (Incarnation.rec) until a segment changes it: most incarnations in
// TIME_WAIT are woken by the SYN that reuses their 4-tuple, which leaves them as
// they were, and packing them again as earlier incarnations then rewrites only the
// record's head (packRecord).
func (t *Tracker) unpackFlow(f *flow) {
	if f.packed == "" {
		return
	}
	t.unpackPrev(f)
	inc := t.newIncarnation()
	b, cold, seg := t.recordData(f.packed, false)
	unpackInto(inc, f.key, b, &t.spares)
	if cold {
		inc.rec = t.arena.alloc(b) // (b is the tracker's buffer)
		t.cold.drop(seg)
		t.arena.free(f.packed)
	} else {
		inc.rec = f.packed
	}
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
func (t *Tracker) packQuiet(now Instant) {
	t.startedSincePack, t.nextPackAt = 0, satAdd(now, t.hooks.packQuietEvery)
	later := t.packLater[:0]
	check := func(f *flow) {
		c := t.cur(f)
		if c == nil {
			return // packed already, or handed out
		}
		if quietAt := c.Last.At.Add(packIdle); now < quietAt {
			later = append(later, packCand{quietAt, f})
			return
		}
		t.pack(f) // (refused when a live view holds it: left to the sweeps)
		if f.cur == 0 {
			t.hooks.quietPacked++
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
	quietAt Instant
	f       *flow
}

// pack replaces the flow's current incarnation by its record, unless the live
// display's touched list holds it. The link to the incarnation before it (still
// held for its stale segments) is cut, as handing that one out would cut it: the
// record cannot keep a pointer, and nothing reads the link but a Done that keeps
// incarnations (see Reuse.Prev). The earlier ones held are packed too (packPrev).
func (t *Tracker) pack(f *flow) {
	c := t.cur(f)
	if t.hooks.noPack || c == nil || c.touched || c.next != nil {
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
// into a record in the arena, and recycles inc. The record inc was unpacked from,
// if it kept one and nothing changed it since, is taken as it is, or with only its
// head written anew (rehead: the header, and End and EndAt, which replacing an
// incarnation sets).
func (t *Tracker) packRecord(inc *Incarnation, wait time.Duration, reason EndReason) string {
	h := packHeader{first: inc.First, lastAt: inc.Last.At, wait: wait, reason: reason}
	if inc.rec != "" && !inc.changed {
		if rec, ok := t.reheadRecord(inc, h); ok {
			t.stats.Packed++
			if !t.cfg.Touched {
				t.recycle(inc)
			}
			return rec
		}
	}
	t.dropRec(inc)
	var us bool
	t.packBuf, us = packTry(t.packBuf, inc, h, t.hooks.packRecent, !t.packNS)
	t.packNS = t.packNS || !us
	t.stats.Packed++
	if !t.cfg.Touched { // (a live view may still hold what TakeTouched gave it)
		t.recycle(inc)
	}
	if reason == EndExpired && t.held >= t.hooks.coldAbove {
		if mem, ok := t.coldPut(t.packBuf); ok {
			return t.arena.alloc(mem)
		}
	}
	return t.arena.alloc(t.packBuf)
}

// reheadRecord returns inc's record (inc.rec, unchanged since it was unpacked) with
// the header h and inc's head (rehead), and frees inc.rec: the record itself when
// its head is already that, else a new one in the arena or, for a connection in
// TIME_WAIT when the tracker holds enough, in the cold store. ok is false when the
// head cannot be written in the record's unit (then inc.rec is left as it was).
func (t *Tracker) reheadRecord(inc *Incarnation, h packHeader) (rec string, ok bool) {
	old := recordBytes(inc.rec)
	var same bool
	t.packBuf, same, ok = rehead(t.packBuf, inc, h, old)
	if !ok {
		return "", false
	}
	cold := h.reason == EndExpired && t.held >= t.hooks.coldAbove
	if same && !cold {
		rec, inc.rec, inc.changed = inc.rec, "", false
		return rec, true
	}
	t.dropRec(inc)
	if cold {
		if mem, ok := t.coldPut(t.packBuf); ok {
			return t.arena.alloc(mem), true
		}
	}
	return t.arena.alloc(t.packBuf), true
}

// unpackRecord returns the incarnation of a record on 4-tuple k (its memory reused
// when some is free), and frees the record. ahead: the records written after it are
// about to be unpacked too (see recordData).
func (t *Tracker) unpackRecord(k FlowKey, rec string, ahead bool) *Incarnation {
	inc := t.newIncarnation()
	b, cold, seg := t.recordData(rec, ahead)
	unpackInto(inc, k, b, &t.spares)
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
		// (Unchanged since it was unpacked as an earlier incarnation: its record
		// as it was, see packRecord.)
		recs[i] = t.packRecord(q, max(t.prevOverAt(q).Sub(q.Last.At)-1, 0), EndReplaced)
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
func (r *prevRecs) overAt() Instant {
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
	unpackInto(inc, k, b, &t.spares)
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

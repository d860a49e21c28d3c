package reassembly

import (
	"net/netip"
	"time"
	"unsafe"

	"github.com/finack/finack/capture"
)

// recordBytes is a packed record's bytes, to read only.
func recordBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// unpackFlow makes a flow's packed current incarnation whole again. It keeps its
// record (Incarnation.rec) until a segment changes it: most incarnations in
// TIME_WAIT are woken by the SYN that reuses their 4-tuple, which leaves them as
// they were, and packing them again as earlier incarnations then rewrites only the
// record's head (packRecord). The packed earlier incarnations stay packed
// (packPrev): that SYN needs of them only what their signatures say.
func (t *Tracker) unpackFlow(f *flow) {
	if f.packed == "" {
		return
	}
	inc := t.newIncarnation()
	h, d, cold, seg := t.record(f.packed, false)
	unpackFrom(inc, f.key, h, d, &t.spares, true)
	if cold {
		inc.rec = t.arena.alloc(d.b) // (d.b is the tracker's buffer)
		t.cold.drop(seg)
		t.arena.free(f.packed)
	} else {
		inc.rec = f.packed
	}
	f.cur, f.packed = t.hold(inc), ""
	if p := t.prev(f); p != nil {
		// Link the two again (pack cut the link): a refusal RST reaches
		// the previous incarnation through it. (Packed ones are linked when
		// they are unpacked: unpackPrev.)
		t.linkCur(p, inc)
	}
}

// linkCur links the newest earlier incarnation p and the current one c.
func (t *Tracker) linkCur(p, c *Incarnation) {
	p.next = c
	if c.Reuse != nil {
		c.Reuse.Prev = p
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
		t.pack(f, now) // (refused when a live view holds it: left to the sweeps)
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

// pack replaces the flow's current incarnation by its record at capture time now,
// unless the live display's touched list holds it. The link to the incarnation
// before it (still held for its stale segments) is cut, as handing that one out
// would cut it: the record cannot keep a pointer, and nothing reads the link but a
// Done that keeps incarnations (see Reuse.Prev). The earlier ones held are packed
// too (packPrev).
func (t *Tracker) pack(f *flow, now Instant) {
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
	f.packed = t.packRecord(c, wait, reason, now)
	t.unhold(f.cur)
	f.cur = 0
	if p := t.prev(f); p != nil {
		t.packPrev(f, p, now)
	}
}

// packClosed packs the flow's current incarnation inc at time now, when the segment
// just applied to it (at now) closed it: both ends' FINs sent and acknowledged
// (closedClean). Almost every connection that closes normally gets no other segment
// before its TIME_WAIT is over, or before the SYN that reuses its 4-tuple: packed
// now, while the segment just brought it into the cache, it costs a fraction of
// what packing it once it is quiet does (packQuiet: packIdle later, after the
// segments of many other connections have pushed it out of the cache), and the
// incarnations held whole are about only the connections still open. A segment
// that does come for it unpacks it, as for any packed incarnation. Only while the
// tracker packs at all (packAbove held).
func (t *Tracker) packClosed(f *flow, inc *Incarnation, now Instant) {
	if t.held >= t.hooks.packAbove && !t.hooks.noPackClosed && inc.closedClean() && inc == t.cur(f) {
		t.pack(f, now)
		if f.cur == 0 {
			t.hooks.closedPacked++
		}
	}
}

// closedClean reports an incarnation whose two ends each sent a FIN the other
// acknowledged, with no RST from either.
func (inc *Incarnation) closedClean() bool {
	c, s := &inc.Half[Client], &inc.Half[Server]
	return c.FinAcked.Seen() && s.FinAcked.Seen() && !c.Rst.Seen() && !s.Rst.Seen()
}

// packRecord packs inc (the header: over when quiet longer than wait, for reason)
// into a record in the arena, or for a connection in TIME_WAIT, when the tracker
// holds enough, in the cold store; and recycles inc. The record inc was unpacked
// from, if it kept one and nothing changed it since, is taken as it is, or with only
// its head written anew (rehead: the header, and End and EndAt, which replacing an
// incarnation sets).
//
// The signatures of the incarnation's last segments (Half.recent), which tell a copy
// of one of them from a retransmission, are kept only when its last segment is less
// than packIdle before now: they tell copies within dupWindowID of it at most.
func (t *Tracker) packRecord(inc *Incarnation, wait time.Duration, reason EndReason, now Instant) string {
	h := packHeader{first: inc.First, lastAt: inc.Last.At, wait: wait, reason: reason}
	if reason == EndExpired && !t.hooks.noReusePacked && (t.synOnPacked*wakeShare >= t.stats.Packed || t.hooks.alwaysWake) && wakeable(inc) {
		// The wake block: a SYN reusing the 4-tuple need not unpack it (reusePacked).
		t.wakeTW = inc.TimeWait(t.twLen)
		h.wake = &t.wakeTW
		t.hooks.wakeBlocks++
	}
	cold := reason == EndExpired && t.held >= t.hooks.coldAbove
	t.stats.Packed++
	headOnly, same := false, false
	if inc.rec != "" && !inc.changed {
		t.packBuf, same, headOnly = rehead(t.packBuf, inc, h, recordBytes(inc.rec))
	}
	var rec string
	if headOnly && same && !cold {
		rec, inc.rec = inc.rec, "" // (as it was)
	}
	t.dropRec(inc)
	if !headOnly {
		var us bool
		t.packBuf, us = packTry(t.packBuf, inc, h, t.hooks.packRecent || now.Sub(inc.Last.At) < packIdle, !t.packNS)
		t.packNS = t.packNS || !us
	}
	if !t.cfg.Touched || t.cfg.DoneKeepsNothing { // (else a live view may still hold what TakeTouched gave it)
		t.recycle(inc)
	}
	if rec != "" {
		return rec
	}
	if cold {
		if mem, ok := t.coldPut(t.packBuf); ok {
			return t.arena.alloc(mem)
		}
	}
	return t.arena.alloc(t.packBuf)
}

// unpackRecord returns the incarnation of a record on 4-tuple k (its memory reused
// when some is free), to be handed out (without the signatures of its last
// segments: unpackInto), and frees the record. ahead: the records written after it
// are about to be unpacked too (see recordData).
func (t *Tracker) unpackRecord(k FlowKey, rec string, ahead bool) *Incarnation {
	inc, _ := t.unpackRecordHeader(k, rec, ahead)
	return inc
}

// unpackRecordHeader is unpackRecord that also returns the record's header.
func (t *Tracker) unpackRecordHeader(k FlowKey, rec string, ahead bool) (*Incarnation, packHeader) {
	inc := t.newIncarnation()
	h, d, cold, seg := t.record(rec, ahead)
	unpackFrom(inc, k, h, d, &t.spares, false)
	if cold {
		t.cold.drop(seg)
	}
	t.arena.free(rec)
	return inc, h
}

// packPrev packs the earlier incarnations held whole, p first (newest), of a flow
// whose current one was just packed: a reused 4-tuple's earlier connections are
// held, for their stale segments, until their TIME_WAIT is over (a minute), and
// whole each took about 1 KB; a 4-tuple reused several times within TIME_WAIT holds
// several (at most maxEarlier). They are kept apart (Tracker.prevLists), newest
// first, in front of those packed before (all of those are older): the chain of
// earlier incarnations is the whole ones (flow.prev, Incarnation.older) followed by
// the packed ones. They stay packed when the current one is unpacked: a SYN reusing
// the 4-tuple needs of them only their signatures (prevSig), a segment that fits
// the current incarnation nothing. Whatever looks at them whole (a segment that
// does not fit the current one, one that a signature says is theirs, a refusal
// RST, a sweep when one is over, eviction, a start past maxEarlier) unpacks them
// first (unpackPrev). Each header's wait puts its expiry at prevOverAt, which
// nothing can move while it is packed (only its segments change it). The links
// between them (next, older; Reuse.Prev, read only on the current incarnation:
// refusal.go) are cut as handing them out would cut them.
func (t *Tracker) packPrev(f *flow, p *Incarnation, now Instant) {
	l := t.packedPrev(f)
	n := l.len()
	k := 0
	for q := p; q != nil; q = q.older {
		if q.touched || n == maxEarlier {
			return // (a live view holds it: left whole)
		}
		n++
		k++
	}
	if l == nil {
		l = t.newPrevList(f)
	}
	copy(l.rec[k:], l.rec[:maxEarlier-k])
	copy(l.sig[k:], l.sig[:maxEarlier-k])
	lo, hi := f.key.Endpoints()
	i := 0
	for q := p; q != nil; i++ {
		older := q.older
		q.next, q.older = nil, nil
		if q.Reuse != nil {
			q.Reuse.Prev = nil
		}
		over := t.prevOverAt(q)
		l.sig[i] = sigOf(q, over, lo, hi)
		// (Unchanged since it was unpacked as an earlier incarnation: its record
		// as it was, see packRecord.)
		l.rec[i] = t.packRecord(q, max(over.Sub(q.Last.At)-1, 0), EndReplaced, now)
		q = older
	}
	l.n = uint8(n)
	t.unhold(f.prev)
	f.prev = 0
}

// prevList is a flow's packed earlier incarnations, newest first: their records
// ("" after the last), signatures, and how many.
type prevList struct {
	rec [maxEarlier]string
	sig [maxEarlier]prevSig
	n   uint8
}

// len is how many records the list holds (0 for nil).
func (l *prevList) len() int {
	if l == nil {
		return 0
	}
	return int(l.n)
}

// records is the list's records, newest first (none for nil).
func (l *prevList) records() []string {
	if l == nil {
		return nil
	}
	return l.rec[:l.len()]
}

// prevSig is what a SYN arriving on the 4-tuple needs of a packed earlier
// incarnation (route: ownsSyn, prevOver), and when its window closes.
type prevSig struct {
	overAt      Instant   // prevOverAt
	isn, synEnd [2]uint32 // by Role, when its SYN was seen (sigSyn)
	synAck      uint32    // the server's SYN-ACK's acknowledgement (sigSynAck)
	bits        uint8
}

const (
	sigSyn      = 1 << iota // << Role: the end's SynCount > 0
	_                       // (the server's)
	sigFin                  // << Role: the end's FinSeen
	_                       // (the server's)
	sigSynAck               // the server's SynAckSeen
	sigClientHi             // the client is the key's higher endpoint
	sigRaw                  // the client is neither endpoint of the key: roles unknown
)

// sigOf returns the signature of earlier incarnation q on a 4-tuple whose
// endpoints are lo and hi, its window closing at over.
func sigOf(q *Incarnation, over Instant, lo, hi netip.AddrPort) prevSig {
	g := prevSig{overAt: over}
	for r := Client; r <= Server; r++ {
		h := &q.Half[r]
		if h.SynCount > 0 {
			g.bits |= sigSyn << r
			g.isn[r], g.synEnd[r] = h.ISN, h.SynEnd
		}
		if h.FinSeen() {
			g.bits |= sigFin << r
		}
	}
	if sv := &q.Half[Server]; sv.SynAckSeen {
		g.bits |= sigSynAck
		g.synAck = sv.SynAck
	}
	switch q.Half[Client].Endpoint {
	case lo:
	case hi:
		g.bits |= sigClientHi
	default:
		g.bits |= sigRaw
	}
	return g
}

// mayOwnSyn reports whether a SYN s at time at, on the 4-tuple with endpoints lo
// and hi, may be the incarnation's (route): it is in its window and ownsSyn would
// say so (any SYN when the roles are unknown).
func (g *prevSig) mayOwnSyn(s *capture.Segment, at Instant, lo, hi netip.AddrPort) bool {
	if at >= g.overAt {
		return false
	}
	if g.bits&sigRaw != 0 {
		return true
	}
	client := lo
	if g.bits&sigClientHi != 0 {
		client = hi
	}
	r := Server // (RoleOf)
	if s.Src == client {
		r = Client
	}
	p := r.Peer()
	if g.bits&(sigSyn<<r) != 0 && s.Seq == g.isn[r] {
		return true
	}
	if s.Flags&capture.ACK == 0 {
		return r == Client && g.bits&sigSynAck != 0 && s.Seq+1 == g.synAck
	}
	return g.bits&(sigFin<<r) == 0 && g.bits&(sigSyn<<p) != 0 && SeqLess(g.isn[p], s.Ack) && SeqLEQ(s.Ack, g.synEnd[p])
}

// headerOverAt is when the first of the records' stale-segment windows closes, as
// their headers tell (prevOverAt, but for one that closed before its last segment:
// then just after that segment).
func (l *prevList) headerOverAt() Instant {
	at := maxTime
	for _, rec := range l.records() {
		h := header(rec)
		at = min(at, satAdd(h.lastAt, h.wait+1))
	}
	return at
}

// sigOverAt is when the first of the records' stale-segment windows closes
// (prevOverAt).
func (l *prevList) sigOverAt() Instant {
	at := maxTime
	for i := range l.len() {
		at = min(at, l.sig[i].overAt)
	}
	return at
}

// packedOverAt is when a sweep unpacks the flow's packed earlier incarnations l,
// one being over: when the first window closes (sigOverAt) or, while the whole
// flow is packed, as the headers tell it (headerOverAt), as when only a flow packed
// whole could hold them packed.
func (t *Tracker) packedOverAt(f *flow, l *prevList) Instant {
	if f.packed != "" && f.prev == 0 {
		return l.headerOverAt()
	}
	return l.sigOverAt()
}

// packedPrev is the flow's packed earlier incarnations (nil: none).
func (t *Tracker) packedPrev(f *flow) *prevList {
	if f.prevs == 0 {
		return nil
	}
	return t.prevLists[f.prevs]
}

// newPrevList returns an empty prevList for flow f, in the arena, at a free index
// of prevLists.
func (t *Tracker) newPrevList(f *flow) *prevList {
	l := t.arena.newPrevList()
	if n := len(t.prevSlots); n > 0 {
		f.prevs = t.prevSlots[n-1]
		t.prevSlots = t.prevSlots[:n-1]
	} else {
		if len(t.prevLists) == 0 {
			t.prevLists = append(t.prevLists, nil) // (index 0: none)
		}
		f.prevs = uint32(len(t.prevLists))
		t.prevLists = append(t.prevLists, nil)
	}
	t.prevLists[f.prevs] = l
	t.prevLive++
	return l
}

// freePrevList takes l, flow f's, from prevLists and gives it back to the arena.
func (t *Tracker) freePrevList(f *flow, l *prevList) {
	t.prevLists[f.prevs] = nil
	t.prevSlots = append(t.prevSlots, f.prevs)
	f.prevs = 0
	t.prevLive--
	t.arena.freePrevList(l)
}

// popOldest takes the oldest record out of the flow's packed earlier incarnations
// l, and returns it.
func (t *Tracker) popOldest(f *flow, l *prevList) string {
	n := l.len()
	rec := l.rec[n-1]
	if n == 1 {
		t.freePrevList(f, l)
	} else {
		l.rec[n-1], l.sig[n-1] = "", prevSig{}
		l.n--
	}
	return rec
}

// unpackPrev makes the flow's packed earlier incarnations, if any, whole again,
// behind the whole ones (the newest of those linked to the current one if that is
// whole and no earlier one was whole: as unpacking the flow links them).
func (t *Tracker) unpackPrev(f *flow) {
	l := t.packedPrev(f)
	if l == nil {
		return
	}
	t.hooks.prevUnpacked++
	tail := t.prev(f)
	for tail != nil && tail.older != nil {
		tail = tail.older
	}
	linkCur := tail == nil
	for _, rec := range l.records() {
		p := t.unpackKeep(f.key, rec)
		if tail == nil {
			f.prev = t.hold(p)
		} else {
			tail.older, p.next = p, tail
		}
		tail = p
	}
	t.freePrevList(f, l)
	if c := t.cur(f); c != nil && linkCur {
		t.linkCur(t.prev(f), c)
	}
}

// unpackKeep unpacks an earlier incarnation's record and keeps the record with it
// (Incarnation.rec). A record whose body is on disk (one replaced while packed in
// TIME_WAIT: reusePacked) is kept whole in memory from then on, as unpackFlow
// keeps it.
func (t *Tracker) unpackKeep(k FlowKey, rec string) *Incarnation {
	inc := t.newIncarnation()
	h, d, cold, seg := t.record(rec, false)
	unpackFrom(inc, k, h, d, &t.spares, true)
	if cold {
		inc.rec = t.arena.alloc(d.b) // (d.b is the tracker's buffer)
		t.cold.drop(seg)
		t.arena.free(rec)
		return inc
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

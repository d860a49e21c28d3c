package reassembly

import "github.com/finack/finack/capture"

// wakeShare: writing the wake block adds to the packing of every record in
// TIME_WAIT; it saves, for the records whose 4-tuple a SYN reuses, unpacking it
// and reading it back from the cold store. packRecord writes it while such SYNs come
// for at least one packed record in wakeShare (Tracker.synOnPacked), about where the
// two costs meet (docs/performance.md): on a capture where 4-tuples are not reused
// within TIME_WAIT, after the first records, none has one.
const wakeShare = 16

// reusePacked starts the next incarnation of a 4-tuple for a SYN that reuses it
// while its current incarnation is packed in TIME_WAIT, without unpacking that
// one: the usual way (lookup, route, start) unpacks it, reading its record back
// from the cold store, only to find that the SYN opens a new connection, copy a
// few of its fields into the new one's Reuse and pack it again as an earlier
// incarnation. On a server whose clients reuse ports it holds in TIME_WAIT that is
// most connections. The record's header carries what that takes (the wake block,
// packer.wake), and the record is made the newest earlier incarnation by writing its
// header anew (replaceRecord), its body untouched, on disk or in memory.
//
// It does so only where the result is exactly what the usual way gives: a bare
// SYN from the packed incarnation's client, on a streaming tracker, the flow's
// earlier incarnations all packed, the incarnation not over at the SYN's time
// (lookup would retire the flow), the SYN neither continuing it nor any earlier
// one's (route), and no eviction due. It returns the new incarnation, the SYN not
// applied to it yet (lookup returns it); nil otherwise, and AddKeyed goes the usual
// way.
func (t *Tracker) reusePacked(f *flow, s *capture.Segment, at Instant) *Incarnation {
	// (lookup checked that s is a bare SYN and f's current incarnation packed.)
	if f.prev != 0 || t.cfg.Done == nil || t.hooks.noReusePacked || (t.cfg.MaxConnections > 0 && t.held >= t.cfg.MaxConnections) {
		return nil
	}
	rb := recordBytes(f.packed)
	hd, d := readHeader(rb)
	if hd.wakeAt == 0 || at < hd.lastAt {
		return nil
	}
	l := t.packedPrev(f)
	over := satAdd(hd.lastAt, hd.wait+1) // (overAt)
	for i := range l.len() {
		over = max(over, l.sig[i].overAt)
	}
	if at.Sub(hd.lastAt) > t.minWait && at >= over {
		return nil // over: lookup retires the flow (wakeOver)
	}
	sig, reuseAt := readWake(rb, hd)
	lo, hi := f.key.Endpoints()
	client, server := lo, hi
	if sig.bits&sigClientHi != 0 {
		client, server = hi, lo
	}
	if s.Src != client || s.Dst != server { // (wakeable: the client is lo or hi, never sigRaw)
		return nil
	}
	// route: a SYN continuing the incarnation (continuesWith: its client's SYN
	// again, or the SYN its SYN-ACK answered; wakeable rules out a retried
	// attempt), or one an earlier incarnation may own, goes the usual way.
	if (sig.bits&(sigSyn<<Client) != 0 && s.Seq == sig.isn[Client]) || (sig.bits&sigSynAck != 0 && s.Seq+1 == sig.synAck) {
		return nil
	}
	for i := range l.len() {
		if l.sig[i].mayOwnSyn(s, at, lo, hi) {
			return nil
		}
	}
	// The packed incarnation replaced at the SYN (start), and its window for stale
	// segments (prevOverAt, packPrev).
	r := readWakeReuse(rb, hd, reuseAt, &t.spares)
	tw := r.TimeWait
	prevOver := satAdd(at, t.twLen)
	if tw.Held() {
		prevOver = max(tw.Until, at)
	}
	var ok bool
	if t.packBuf, ok = replaceRecord(t.packBuf, rb, hd, d.i, at, max(prevOver.Sub(hd.lastAt)-1, 0)); !ok {
		t.spares.reuses.put(r)
		return nil
	}

	// As start does, with the Reuse the wake block gives.
	inc := t.nextIncarnation(f, s, at)
	inc.RolesKnown = true
	inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Src, s.Dst
	t.held++
	t.startedSincePack++
	t.stats.PeakHeld = max(t.stats.PeakHeld, t.held)
	inc.Before = PrevNone // (closed: stateAt)
	if tw.Held() && at < tw.Until {
		r.setSYN(s, at)
		inc.Reuse = r
		inc.Before = PrevTimeWait
	} else {
		t.spares.reuses.put(r)
	}
	rec := t.arena.alloc(t.packBuf)
	t.arena.free(f.packed)
	f.packed, f.cur = "", t.hold(inc)
	if l.len() == maxEarlier {
		// The oldest goes, as start lets it go past maxEarlier.
		old := t.unpackRecord(f.key, t.popOldest(f, l), false)
		t.stats.Expired++
		t.give(old)
	}
	if l == nil {
		l = t.newPrevList(f)
	}
	copy(l.rec[1:], l.rec[:maxEarlier-1])
	copy(l.sig[1:], l.sig[:maxEarlier-1])
	sig.overAt = prevOver
	l.rec[0], l.sig[0] = rec, sig
	l.n++
	t.touch(f)
	t.hooks.reusedPacked++
	return inc
}

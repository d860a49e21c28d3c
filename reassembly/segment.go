package reassembly

import (
	"time"

	"github.com/finack/finack/capture"
)

// join decides whether segment s, whose own key k (tags and all) has no flow,
// belongs to f, the only flow of its 4-tuple on other tags, and joins it when it
// does: a mirror port that tags one direction only (a switch's SPAN of a trunk)
// shows one connection's directions on two tag sets. s joins when f has one
// incarnation (earlier ones whose window is over at s's time, at, are let go
// first: finishEarlier), which has seen only the other direction so far, and s answers it:
// a SYN-ACK acknowledging its SYN, a SYN its SYN-ACK acknowledges, or an ACK within
// the sequence space it used. The same 4-tuple with both directions on each of
// several tag sets stays several connections. From then on the segments of k's
// tags from s's end go to f (FlowKey.PeerEnd).
func (t *Tracker) join(f *flow, k *FlowKey, s *capture.Segment, fromLo bool, at Instant) bool {
	if f.key.PeerEnd != 0 {
		return false
	}
	var done []finished
	t.finishEarlier(f, at, &done)
	t.hand(done)
	if f.prev != 0 || t.packedPrev(f) != nil || (f.cur == 0 && f.packed == "") {
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

// route picks the incarnation a segment belongs to, starting a new one when the
// segment opens a new connection on the 4-tuple. earlier: the segment is a SYN or
// SYN-ACK of an earlier incarnation still held, arriving after the current one
// started (a stale segment: AddKeyed records it there).
func (t *Tracker) route(f *flow, s *capture.Segment, at Instant) (inc *Incarnation, earlier bool) {
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
			if p := t.earlierOwning(f, s, at); p != nil {
				return p, true
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

// earlierOwning returns the newest earlier incarnation of the flow still in its
// window at time at that a SYN s is a stale segment of (ownsSyn), nil if none. The
// packed ones are unpacked only when a signature says s may be one of theirs.
func (t *Tracker) earlierOwning(f *flow, s *capture.Segment, at Instant) *Incarnation {
	for p := t.prev(f); p != nil; p = p.older {
		if !t.prevOver(p, at) && p.ownsSyn(s) {
			return p
		}
	}
	l := t.packedPrev(f)
	if l == nil {
		return nil
	}
	lo, hi := f.key.Endpoints()
	for i := range l.len() {
		if l.sig[i].mayOwnSyn(s, at, lo, hi) {
			t.unpackPrev(f)
			for p := t.prev(f); p != nil; p = p.older {
				if !t.prevOver(p, at) && p.ownsSyn(s) {
					return p
				}
			}
			return nil
		}
	}
	return nil
}

// continuesWith reports whether a segment with SYN set, at time at, belongs to this
// incarnation: a retransmitted SYN or SYN-ACK, the SYN-ACK answering its SYN, another
// SYN of an attempt that got no answer yet and was not given up (giveUp: how long a
// client retries), the other end's SYN of a simultaneous open, or a late copy of the
// SYN the connection began with.
func (inc *Incarnation) continuesWith(s *capture.Segment, at Instant, giveUp time.Duration) bool {
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
func (inc *Incarnation) attemptAlive(at Instant, giveUp time.Duration) bool {
	c := &inc.Half[Client]
	if at.Sub(inc.First.At) > giveUp {
		return false
	}
	next := firstSynRTO
	if c.SynGap > 0 {
		next = 2 * c.SynGap
	}
	return at.Sub(c.Last.At) <= next+next/10
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
func (inc *Incarnation) closed() (Instant, bool) {
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

func (inc *Incarnation) closedLongBefore(at Instant, twLen time.Duration) bool {
	end, ok := inc.closed()
	return ok && at.Sub(end) > twLen
}

// nextIncarnation returns flow f's next incarnation, numbered, its first segment s
// at time at, the rest zero.
func (t *Tracker) nextIncarnation(f *flow, s *capture.Segment, at Instant) *Incarnation {
	if f.count < 1<<32-1 { // four billion on one 4-tuple: the rest share the last number
		f.count++
	}
	inc := t.zeroIncarnation()
	inc.Key, inc.Index, inc.First, inc.rfc1337 = f.key, int(f.count), Tx{Frame: s.Frame, At: at}, t.cfg.RFC1337
	return inc
}

// start opens a new incarnation on the flow; prev is the incarnation it replaces.
func (t *Tracker) start(f *flow, s *capture.Segment, at Instant, prev *Incarnation) *Incarnation {
	inc := t.nextIncarnation(f, s, at)
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
			t.unpackPrev(f)
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
			if tw := prev.TimeWait(t.twLen); tw.Held() && at < tw.Until {
				inc.Reuse = newReuse(&t.spares, prev, s, at, tw)
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
	if l := t.packedPrev(f); prev != nil && l != nil && t.earlierCount(f) > maxEarlier {
		// The oldest, packed, goes as dropEarlier below would let it go; the
		// others stay packed.
		old := t.unpackRecord(f.key, t.popOldest(f, l), false)
		if t.cfg.Done != nil {
			t.stats.Expired++
			t.give(old)
		}
	}
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
func (inc *Incarnation) stateAt(at Instant, inTimeWait bool, giveUp time.Duration) PrevState {
	c, sv := &inc.Half[Client], &inc.Half[Server]
	switch _, closed := inc.closed(); {
	case inTimeWait:
		return PrevTimeWait
	case closed:
		return PrevNone
	case inc.RolesKnown && c.SynCount > 0 && c.Packets == uint64(c.SynCount):
		if sv.SynCount > 0 && at.Sub(inc.Last.At) <= giveUp {
			return PrevHalfOpen
		}
		return PrevNone // unanswered, or answered long ago: nothing holds it
	}
	return PrevOpen
}

// newReuse returns what the reuse of prev's 4-tuple by the SYN s within tw shows,
// in a Reuse from sp.
func newReuse(sp *spares, prev *Incarnation, s *capture.Segment, at Instant, tw TimeWait) *Reuse {
	r := sp.takeReuse()
	*r = prev.reuseBy(prev.RoleOf(s.Src), tw)
	r.Prev = prev
	r.setSYN(s, at)
	return r
}

// reuseBy is what a Reuse says of incarnation prev when its end sender sends a SYN
// that reuses its 4-tuple within tw: all but the SYN's fields and Prev.
func (prev *Incarnation) reuseBy(sender Role, tw TimeWait) Reuse {
	old, peer := &prev.Half[sender], &prev.Half[sender.Peer()]
	return Reuse{
		PrevIndex: prev.Index, PrevPeerLastFin: peer.LastFin().Tx,
		SynSender: sender, TimeWait: tw,
		OldNextSeq: old.NextSeq, OldSeqKnown: old.SeqKnown,
		OldPeerNextSeq: peer.NextSeq, OldPeerSeqKnown: peer.SeqKnown,
		OldTSval: old.LastTSval, OldHasTS: old.HasTS,
		OldFirstIPID: old.FirstIPID, OldIPID: old.LastIPID, OldTTL: old.LastTTL,
		OldPackets: old.Packets, OldLastAt: old.Last.At,
	}
}

// setSYN records in r the SYN s, at time at, that reuses the 4-tuple.
func (r *Reuse) setSYN(s *capture.Segment, at Instant) {
	r.SYN = Tx{Frame: s.Frame, At: at}
	r.NewISN, r.NewTSval, r.NewHasTS = s.Seq, s.TSval, s.HasTS
	r.NewIPID, r.NewTTL, r.IPv6 = s.IPID, s.TTL, s.Src.Addr().Is6()
}

// apply records what one segment shows. A first FIN's list comes from fins (may be
// nil).
func (inc *Incarnation) apply(s *capture.Segment, tx Tx, twLen time.Duration, fins *finPool) {
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
			h.SynGap = tx.At.Sub(lastAt)
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
	onAck := acksPeerFin && !p.FinAcked.Seen() && tx.At.Sub(p.LastFin().At) <= h.TapRTT+finOnAckSlack
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
const finOnAckSlack = 5 * time.Millisecond

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
func (h *Half) drewOwnAck(ack Tx, ackerRTT time.Duration) bool {
	c := h.finCopy
	if !c.Seen() || !h.FinLastAck.Seen() || h.FinLastAck.At < h.LastFin().At || ack.At < c.At || ack.At.Sub(c.At) > ackerRTT+finOnAckSlack {
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
		h.TapRTT = max(tx.At.Sub(p.Last.At), 1)
	case r == Client && s.Flags&(capture.SYN|capture.ACK|capture.RST) == capture.ACK && p.SynAckSeen && s.Ack == p.ISN+1:
		h.TapRTT = max(tx.At.Sub(p.Last.At), 1)
	}
}

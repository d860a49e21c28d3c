package reassembly

import (
	"time"

	"github.com/finack/finack/capture"
)

// afterClose notices a segment that reaches a TIME_WAIT holder: an RST (it would end
// TIME_WAIT early: RFC 1337) or anything but the peer's FIN retransmission (a late
// segment). Only closed incarnations pay for the check. It reports whether the
// segment reached a TIME_WAIT holder.
//
// A holder accepts an RST only at exactly the sequence number it expects next (Linux
// tcp_timewait_state_process: seq == tw_rcv_nxt); any other RST it drops, and it is
// recorded as a late segment, not as the end of TIME_WAIT.
func (inc *Incarnation) afterClose(r Role, s *capture.Segment, tx Tx, twLen time.Duration) bool {
	if !inc.Half[Client].FinSeen() || !inc.Half[Server].FinSeen() {
		return false
	}
	tw := inc.TimeWait(twLen)
	if !tw.Held() || tx.At <= tw.Since || tx.At >= tw.Until || tx.Frame == tw.Start.Frame {
		return false
	}
	if tw.Holder[r] && !tw.Holder[r.Peer()] && s.Flags&capture.SYN == 0 {
		// The holder's own segments (its ACKs of retransmitted FINs) reach nobody
		// in TIME_WAIT. A copy of its SYN is an old duplicate on the 4-tuple
		// (route kept it in its connection): a late segment.
		return false
	}
	h := &inc.Half[r]
	if h.finUnanswered() {
		// The peer's TIME_WAIT rests on ACKs of r's FIN nobody saw, and r sent the
		// FIN again: no ACK reached r either. The packets do not show the peer
		// took the FIN (it may be gone, or the FINs lost on the way), and r, in
		// LAST_ACK, still sends on its open connection: keepalive probes, data it
		// retransmits. Nothing here reached a TIME_WAIT the capture shows.
		return false
	}
	switch {
	case s.Flags&capture.RST != 0 && (!h.SeqKnown || s.Seq == h.NextSeq):
		inc.History.mark(r, HistRSTInTW)
		if !inc.RstInTimeWait.Seen() {
			inc.RstInTimeWait, inc.RstInTimeWaitFrom, inc.TimeWaitLeft = tx, r, tw.Until.Sub(tx.At)
		}
	case s.Flags&capture.FIN != 0 && s.SeqEnd()-1 == h.FinSeq:
		// the peer retransmitting its FIN: what TIME_WAIT is there to answer
	case inc.closeTail(r, s):
		// the close's own exchange: not late
	default:
		inc.History.mark(r, HistLate)
		inc.Late.add(Event{Tx: tx, From: r, Flags: uint8(s.Flags), Payload: s.PayloadLen, Since: tw.Since})
	}
	return true
}

// finUnanswered reports whether h's FIN was sent again and no ACK of it reached the
// tap.
func (h *Half) finUnanswered() bool {
	if h.FinAcked.Seen() {
		return false
	}
	for i, f := range h.FinTxs {
		if f.Resend(i) {
			return true
		}
	}
	return false
}

// closeTail reports whether a segment from r belongs to the exchange that created
// TIME_WAIT: a bare ACK at the sequence number after r's FIN acknowledging exactly
// the peer's FIN. Those are the ACKs answering FIN copies, a repeated final ACK, the
// crossing ACKs of a simultaneous close. The hazard TIME_WAIT guards against is old
// duplicates and new segments (RFC 1337), which carry other numbers.
func (inc *Incarnation) closeTail(r Role, s *capture.Segment) bool {
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	return s.Flags&(capture.SYN|capture.FIN|capture.RST|capture.ACK) == capture.ACK && s.PayloadLen == 0 &&
		h.FinSeen() && s.Seq == h.FinSeq+1 && p.FinSeen() && s.Ack == p.FinSeq+1
}

// fits checks a segment's numbers against what each end of the incarnation has
// sent: its seq within what the sender sent (plus slack for data not seen yet), its
// ack within what the receiver sent. known is false when neither end has sent
// anything to check against.
func (inc *Incarnation) fits(s *capture.Segment, slack uint32) (fit, known bool) {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	fit = true
	if h.Packets > 0 && h.SeqKnown {
		known = true
		if SeqLess(s.Seq, h.FirstSeq) || SeqLess(h.NextSeq+slack, s.SeqEnd()) {
			fit = false
		}
	}
	if s.Flags&capture.ACK != 0 && p.Packets > 0 && p.SeqKnown {
		known = true
		if SeqLess(s.Ack, p.FirstSeq) || SeqLess(p.NextSeq, s.Ack) {
			fit = false
		}
	}
	return fit, known
}

// addStale records a stale segment of this incarnation that arrived while
// incarnation during had the 4-tuple.
func (inc *Incarnation) addStale(s *capture.Segment, tx Tx, during int) {
	r := inc.RoleOf(s.Src)
	inc.changed = true
	inc.Packets++ // counted here, where it belongs, and not in the new incarnation
	inc.Half[r].Packets++
	inc.History.mark(r, HistStale)
	inc.Stale.add(Event{Tx: tx, From: r, Flags: uint8(s.Flags), Payload: s.PayloadLen, During: uint32(during)})
}

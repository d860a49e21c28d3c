package analyzer

import (
	"github.com/finack/finack/reassembly"
)

// finUnanswered decides the findings about a FIN that got no acknowledgement in time:
// missing_final_ack for the passive closer's FIN (it sits in LAST_ACK), and
// first_fin_unacked for the active closer's (it sits in FIN_WAIT_1). Both need a
// retransmission: a FIN with no answer and no retransmission when the capture ends is
// censored, not a finding.
func (a *analysis) finUnanswered(inc *reassembly.Incarnation) {
	ac, as := inc.ActiveClosers()
	for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
		h := &inc.Half[r]
		if resends(h) == 0 {
			continue
		}
		if inc.Half[r.Peer()].Packets == 0 {
			continue // the capture holds one direction only: it cannot show the ACK
		}
		active := (r == reassembly.Client && ac) || (r == reassembly.Server && as)
		switch {
		case ac && as:
			// Simultaneous: each end waits in CLOSING for the ACK of its FIN, as a
			// passive closer does in LAST_ACK; one never acknowledged is missing.
			if end, _ := lastAckEnd(h); !end.Seen() {
				a.missingFinalAck(inc, r)
			}
		case !active:
			a.missingFinalAck(inc, r)
		case !h.FinAcked.Seen():
			a.firstFinUnacked(inc, r)
		}
	}
}

// resends counts the retransmissions proper of h's FIN: every transmission after the
// first but the copies riding on the ACK of the peer's FIN (FinTx.OnAck).
func resends(h *reassembly.Half) uint32 {
	if h.FinCount < 2 {
		return 0
	}
	n := h.FinCount - 1
	for i, f := range h.FinTxs {
		if i > 0 && f.OnAck {
			n--
		}
	}
	return n
}

// firstResend is the first retransmission proper of h's FIN (see resends).
func firstResend(h *reassembly.Half) reassembly.FinTx {
	for i, f := range h.FinTxs {
		if f.Resend(i) {
			return f
		}
	}
	return reassembly.FinTx{}
}

// ackLost is the one round-trip test that decides whether an ACK of a FIN seen at
// the tap was lost after it: a transmission f of the FIN that came at least the
// sender's round trip from the tap after the ACK proves the ACK never reached the
// sender. Sooner, the ACK could not have reached it yet: the stack merely sent the
// FIN again, nothing was lost. With no round trip measured, such a FIN counts as
// proof. Both fin_retransmit's cause and missing_final_ack's ack_lost_after_tap
// come from it.
func ackLost(h *reassembly.Half, ack reassembly.Tx, f reassembly.FinTx) bool {
	return h.TapRTT == 0 || f.At.Sub(ack.At) >= h.TapRTT
}

// ackBefore is the ACK of h's FIN the sender should have had when transmission i
// went out: the first ACK after the latest earlier transmission that drew one
// (zero when none did).
func ackBefore(h *reassembly.Half, i int) reassembly.Tx {
	for j := i - 1; j >= 0; j-- {
		if h.FinTxs[j].Acked.Seen() {
			return h.FinTxs[j].Acked
		}
	}
	return reassembly.Tx{}
}

// lastAckEnd returns the ACK that ended the wait of h's sender for the ACK of its
// FIN (LAST_ACK, or CLOSING in a simultaneous close): the first ACK of the FIN that
// no later retransmission proves lost (ackLost). Later ACKs are the other end's
// answers to further copies. lostAfterTap reports that some ACK seen at the tap was
// proved lost after it.
func lastAckEnd(h *reassembly.Half) (end reassembly.Tx, lostAfterTap bool) {
	for i, f := range h.FinTxs {
		if !f.Acked.Seen() {
			continue
		}
		lost := false
		for _, g := range h.FinTxs[i+1:] {
			if !g.OnAck && ackLost(h, f.Acked, g) {
				lost = true
				break
			}
		}
		if !lost {
			return f.Acked, lostAfterTap
		}
		lostAfterTap = true
	}
	return reassembly.Tx{}, lostAfterTap
}

// giveUp decides what became of a FIN sender that got no answer after its last
// transmission: it sent an RST, or it stayed silent past the moment its next
// retransmission was due (retransmission timers double: the next one comes about
// twice the last interval later; 2.5 times leaves room for jitter), or it may still
// be retransmitting when the incarnation stopped. Linux gives up silently when the
// next retransmission would be due (tcp_orphan_retries), as recorded in
// final-ack-never.pcap. It appends how, in words, to b.
func (a *analysis) giveUp(b []byte, inc *reassembly.Incarnation, r reassembly.Role) (outcome Outcome, how []byte) {
	h := &inc.Half[r]
	last := h.LastFin()
	if h.Rst.Seen() && h.Rst.At >= last.At {
		return OutcomeNever, appendf(b, "it gave up with an RST (frame %d)", num(h.Rst.Frame))
	}
	peerRst := inc.Half[r.Peer()].Rst
	if peerRst.Seen() && peerRst.At >= last.At {
		return OutcomeNever, appendf(b, "the %s ended it with an RST (frame %d)", str(r.Peer().String()), num(peerRst.Frame))
	}
	n := len(h.FinTxs)
	interval := h.FinTxs[n-1].At.Sub(h.FinTxs[n-2].At)
	silent := inc.EndAt.Sub(last.At)
	if silent > interval*5/2 && h.Last.Frame == last.Frame {
		return OutcomeNever, appendf(b, "it gave up: nothing more from it in the %s until the %s, past its next retransmission (due about %s after the last)", dur(silent), str(a.endWord(inc)), dur(2*interval))
	}
	return OutcomeUnresolved, appendf(b, "still unresolved when the %s, %s after the last transmission", str(a.endWord(inc)), dur(silent))
}

// unackedWord says how a FIN no ACK answered stands: "never acknowledged" when its
// sender gave up (outcome never), "not yet acknowledged" while it may still
// retransmit (outcome unresolved: at the end of a capture as in a provisional
// report, the next transmission could still draw the ACK).
func (a *analysis) unackedWord(inc *reassembly.Incarnation, r reassembly.Role) string {
	if outcome, _ := a.giveUp(nil, inc, r); outcome == OutcomeUnresolved {
		return "not yet acknowledged"
	}
	return "never acknowledged"
}

// endWord names how inc ended, as in "until the ..." and "when the ...".
func (a *analysis) endWord(inc *reassembly.Incarnation) string {
	switch {
	case inc.End == reassembly.EndReplaced:
		return "4-tuple was reused"
	case a.cfg.Provisional && inc.End == reassembly.EndCaptureEnd:
		return "provisional report was made"
	case inc.End == reassembly.EndExpired:
		return "wait after its close ran out" // (the TIME_WAIT length, twice that with a FIN unanswered)
	case inc.End == reassembly.EndIdle:
		return "idle timeout"
	case inc.End == reassembly.EndEvicted:
		return "connection was evicted"
	}
	return "capture ended"
}

// finFinding starts a finding about role r's FIN: its sender and every transmission.
func (a *analysis) finFinding(k Kind, inc *reassembly.Incarnation, r reassembly.Role, at reassembly.Instant) Finding {
	f := a.finding(k, inc, at)
	f.Sender = r.String()
	f.Frames = a.finFrames(&inc.Half[r])
	return f
}

// unanswered completes a finding about a FIN no ACK answered: how its sender ended
// (giveUp), every transmission counted, the time from the first to the last. It
// appends how the sender ended, in words, to b.
func (a *analysis) unanswered(b []byte, f *Finding, inc *reassembly.Incarnation, r reassembly.Role) []byte {
	h := &inc.Half[r]
	outcome, b := a.giveUp(b, inc, r)
	f.Outcome = outcome
	f.Count = a.ar.count(uint64(h.FinCount))
	f.DurationMS = a.ar.ms(h.LastFin().At.Sub(h.FirstFin().At))
	return b
}

// finFrames lists the frames of h's FIN transmissions, with room for one more.
func (a *analysis) finFrames(h *reassembly.Half) []uint64 {
	frames := a.ar.u64s.take(len(h.FinTxs) + 1)
	for _, t := range h.FinTxs {
		frames = append(frames, t.Frame)
	}
	return frames
}

func (a *analysis) missingFinalAck(inc *reassembly.Incarnation, r reassembly.Role) {
	h := &inc.Half[r]
	first, last := h.FirstFin(), h.LastFin()
	f := a.finFinding(MissingFinalAck, inc, r, first.At)
	peer := r.Peer()
	// "<whose FIN>: <how it ended><the ACK seen at the tap><what the echoed timestamp shows>"
	state := "LAST_ACK"
	if !h.FinCoversPeerFin {
		state = "CLOSING" // a simultaneous close
	}
	end, ackAfterTap := lastAckEnd(h)
	if end.Seen() && end.Frame < firstResend(h).Frame {
		return // acknowledged before it was sent again: nothing missing (fin_retransmit tells)
	}
	m := appendf(a.msg[:0], "%s's FIN (frame %d) got no final ACK from the %s: ", str(r.String()), num(first.Frame), str(peer.String()))
	if end.Seen() {
		// Transmissions before the ACK that ended the wait (in frame order: a clock
		// step must not reorder them); the last of them drew it.
		sent := uint64(h.FinCount)
		if end.Frame < last.Frame {
			sent = 0
			for _, t := range h.FinTxs {
				if t.Frame < end.Frame {
					sent++
				}
			}
		}
		f.Outcome = OutcomeRecovered
		f.Frames = append(f.Frames, end.Frame)
		f.Count = a.ar.count(sent - 1)
		f.DurationMS = a.ar.ms(end.At.Sub(first.At))
		m = appendf(m, "sent %d times, %d unanswered; the ACK in frame %d ended %s in %s",
			num(sent), num(sent-1), num(end.Frame), dur(end.At.Sub(first.At)), str(state))
		if h.FinLastAck.Frame != end.Frame {
			m = appendf(m, " (later ACKs, the last in frame %d, answered further copies)", num(h.FinLastAck.Frame))
		}
	} else {
		m = appendf(m, "sent %d times over %s in %s, %s; ", num(h.FinCount), dur(last.At.Sub(first.At)), str(state), str(a.unackedWord(inc, r)))
		m = a.unanswered(m, &f, inc, r)
	}
	if ackAfterTap {
		f.AckAfterTap = true
		m = appendf(m, "; the %s's ACK was seen at the tap (frame %d) yet the FIN was retransmitted: the ACK was lost after the tap", str(peer.String()), num(h.FinAcked.Frame))
	}
	m = appendReached(m, h, peer)
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

// reachedAt tells which transmission of h's FIN first reached the peer, from the TSval
// the peer's ACKs echo: Linux in TIME_WAIT keeps echoing the TSval of the FIN that
// moved it there, even when it answers later retransmissions (as the recorded
// captures show), so the TSecr names the first transmission that arrived, not the
// one an ACK answers. It returns the 0-based index in h.FinTxs, or -1 when the
// capture cannot tell.
func reachedAt(h *reassembly.Half) int {
	if !h.FinLastAckHasTS {
		return -1
	}
	for i, t := range h.FinTxs {
		if t.HasTS && t.TSval == h.FinLastAckTSecr {
			return i
		}
	}
	return -1
}

// appendReached appends what the echoed timestamp shows about where the loss was.
func appendReached(b []byte, h *reassembly.Half, peer reassembly.Role) []byte {
	i := reachedAt(h)
	switch {
	case i < 0:
		return b
	case i == 0:
		return appendf(b, "; the %s's ACK echoes the first transmission's timestamp: the FIN reached it the first time and its ACKs were lost", str(peer.String()))
	default:
		return appendf(b, "; the %s's ACK echoes the timestamp of transmission %d (frame %d): the earlier ones were lost before reaching it", str(peer.String()), num(i+1), num(h.FinTxs[i].Frame))
	}
}

func (a *analysis) firstFinUnacked(inc *reassembly.Incarnation, r reassembly.Role) {
	h := &inc.Half[r]
	first, last := h.FirstFin(), h.LastFin()
	f := a.finFinding(FirstFinUnacked, inc, r, first.At)
	m := appendf(a.msg[:0], "%s's first FIN (frame %d) was %s by the %s: sent %d times over %s in FIN_WAIT_1; ",
		str(r.String()), num(first.Frame), str(a.unackedWord(inc, r)), str(r.Peer().String()), num(h.FinCount), dur(last.At.Sub(first.At)))
	m = a.unanswered(m, &f, inc, r)
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

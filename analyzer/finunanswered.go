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
	if ac && as {
		return // simultaneous: each FIN's fate is in fin_retransmit
	}
	for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
		h := &inc.Half[r]
		if h.FinCount < 2 {
			continue
		}
		if inc.Half[r.Peer()].Packets == 0 {
			continue // the capture holds one direction only: it cannot show the ACK
		}
		active := (r == reassembly.Client && ac) || (r == reassembly.Server && as)
		switch {
		case !active:
			a.missingFinalAck(inc, r)
		case !h.FinAcked.Seen():
			a.firstFinUnacked(inc, r)
		}
	}
}

// giveUp decides what became of a FIN sender that got no answer after its last
// transmission: it sent an RST, or it stayed silent past the moment its next
// retransmission was due (retransmission timers double: the next one comes about
// twice the last interval later; 2.5 times leaves room for jitter), or it may still
// be retransmitting when the incarnation stopped. Linux gives up silently when the
// next retransmission would be due (tcp_orphan_retries), as recorded in
// final-ack-never.pcap. It appends how, in words, to b.
func (a *analysis) giveUp(b []byte, inc *reassembly.Incarnation, r reassembly.Role) (outcome string, how []byte) {
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
	interval := h.FinTxs[n-1].At - h.FinTxs[n-2].At
	silent := inc.EndAt - last.At
	if silent > interval*5/2 && h.Last.Frame == last.Frame {
		return OutcomeNever, appendf(b, "it gave up: nothing more from it in the %s until the %s, past its next retransmission (due about %s after the last)", dur(silent), str(a.endWord(inc)), dur(2*interval))
	}
	return OutcomeUnresolved, appendf(b, "still unresolved when the %s, %s after the last transmission", str(a.endWord(inc)), dur(silent))
}

// endWord names how inc ended, as in "until the ..." and "when the ...".
func (a *analysis) endWord(inc *reassembly.Incarnation) string {
	switch {
	case inc.End == reassembly.EndReplaced:
		return "4-tuple was reused"
	case a.cfg.Provisional && inc.End == reassembly.EndCaptureEnd:
		return "provisional report was made"
	}
	return "capture ended"
}

// finFinding starts a finding about role r's FIN: its sender and every transmission.
func (a *analysis) finFinding(k Kind, inc *reassembly.Incarnation, r reassembly.Role, at int64) Finding {
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
	f.DurationMS = a.ar.ms(h.LastFin().At - h.FirstFin().At)
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
	m := appendf(a.msg[:0], "%s's FIN (frame %d) got no final ACK from the %s: ", str(r.String()), num(first.Frame), str(peer.String()))
	ackAfterTap := h.FinAcked.Seen() && len(h.FinTxs) > 1 && h.FinAcked.Frame < h.FinTxs[1].Frame
	if h.FinLastAck.Seen() && h.FinLastAck.Frame > last.Frame {
		f.Outcome = OutcomeRecovered
		f.Frames = append(f.Frames, h.FinLastAck.Frame)
		f.Count = a.ar.count(uint64(h.FinCount - 1))
		f.DurationMS = a.ar.ms(h.FinLastAck.At - first.At)
		m = appendf(m, "sent %d times, %d unanswered; the ACK in frame %d ended %s in LAST_ACK",
			num(h.FinCount), num(h.FinCount-1), num(h.FinLastAck.Frame), dur(h.FinLastAck.At-first.At))
	} else {
		m = appendf(m, "sent %d times over %s in LAST_ACK, never acknowledged; ", num(h.FinCount), dur(last.At-first.At))
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
	m := appendf(a.msg[:0], "%s's first FIN (frame %d) was never acknowledged by the %s: sent %d times over %s in FIN_WAIT_1; ",
		str(r.String()), num(first.Frame), str(r.Peer().String()), num(h.FinCount), dur(last.At-first.At))
	m = a.unanswered(m, &f, inc, r)
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

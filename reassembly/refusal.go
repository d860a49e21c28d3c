package reassembly

import "github.com/finack/finack/capture"

// refusalSegment recognises the answer of a TIME_WAIT holder (or of a half-open or
// open connection: Before) that refuses a SYN: an ACK (no SYN) that does not
// acknowledge the SYN, and the client's RST that answers it (seq = the refusing
// ACK's ack number). Such segments belong to the old
// connection's sequence space and must not be taken as this one's. The client's RST
// also ends the holder's TIME_WAIT (Linux, tcp_rfc1337=0): it is recorded on the old
// incarnation as an RST in TIME_WAIT.
func (inc *Incarnation) refusalSegment(r Role, s *capture.Segment, tx Tx) bool {
	switch inc.refusalKind(r, s, 1) {
	case refusalAck:
		inc.refusals++
		if !inc.Refusal.Ack.Seen() {
			inc.Refusal.Ack, inc.Refusal.AckNum = tx, s.Ack
		}
		return true
	case refusalRst:
		if !inc.Refusal.Rst.Seen() {
			inc.Refusal.Rst = tx
			// (No Prev: the earlier incarnation was handed out, its TIME_WAIT
			// over before this RST: it ends none.)
			if ru := inc.Reuse; ru != nil && ru.Prev != nil && !ru.Prev.RstInTimeWait.Seen() && ru.TimeWait.Held() && tx.At < ru.TimeWait.Until {
				ru.Prev.RstInTimeWait, ru.Prev.RstInTimeWaitFrom = tx, ru.SynSender
				ru.Prev.changed = true
				ru.Prev.TimeWaitLeft = ru.TimeWait.Until.Sub(tx.At)
				ru.Prev.History.mark(ru.SynSender, HistRSTInTW)
			}
		}
		return true
	}
	return false
}

const (
	refusalNone = iota
	refusalAck
	refusalRst
)

// refusalCandidate reports whether a segment would be taken as part of a refusal.
func (inc *Incarnation) refusalCandidate(r Role, s *capture.Segment) bool {
	return inc.refusalKind(r, s, 0) != refusalNone
}

// refusalKind classifies a segment as a refusing ACK, the client's RST answering it,
// or neither. Only when the previous incarnation still held the 4-tuple when this
// one started (in TIME_WAIT, half-open or open: Before), and only while the client
// has sent nothing but SYNs (it is in SYN-SENT) and the server nothing but
// refusals. counted is 1 when s is already in the packet counts, else 0.
func (inc *Incarnation) refusalKind(r Role, s *capture.Segment, counted uint64) int {
	c, sv := &inc.Half[Client], &inc.Half[Server]
	if !inc.RolesKnown || c.SynCount == 0 || inc.Before == PrevNone {
		return refusalNone
	}
	onlySyns := c.Packets == uint64(c.SynCount) || (r == Client && c.Packets-1 == uint64(c.SynCount))
	switch {
	case !onlySyns:
		return refusalNone
	case r == Server && sv.SynCount == 0 && sv.Packets == uint64(sv.RstCount)+inc.refusals+counted && s.Flags&(capture.SYN|capture.RST|capture.ACK) == capture.ACK && !acksSyn(c, s.Ack):
		return refusalAck
	case r == Client && inc.Refusal.Ack.Seen() && s.Flags&capture.RST != 0 && s.Seq == inc.Refusal.AckNum:
		return refusalRst
	}
	return refusalNone
}

// injected recognises, and records in Injected, a segment from the server that
// reaches the client in SYN-SENT (it has sent nothing but SYNs, and no SYN-ACK came)
// and that the client cannot take as this connection's, and the RST the client
// answers one with:
//   - a FIN: in SYN-SENT a segment without SYN changes nothing (RFC 9293
//     §3.10.7.3): the client drops it, or answers it with an RST when its
//     acknowledgement or its timestamp echo is wrong (Linux: PAWSActiveRejected),
//     and stays in SYN-SENT;
//   - an RST acknowledging the SYN whose timestamp echo is not one of the TSvals
//     the client sent in this attempt: Linux checks the echo before the RST
//     (tcp_rcv_synsent_state_process) and drops it;
//   - the client's RST after such a segment: its rejection, not its end.
//
// Such segments were injected (a middlebox, an attacker) or strayed from another
// connection: they end nothing, and are neither FIN nor RST of this one. They are
// counted in the incarnation's packets, not in either end's.
func (inc *Incarnation) injected(r Role, s *capture.Segment, tx Tx) bool {
	c, sv := &inc.Half[Client], &inc.Half[Server]
	if !inc.RolesKnown || c.SynCount == 0 || sv.SynCount > 0 || c.Packets != uint64(c.SynCount) || s.Flags&capture.SYN != 0 {
		return false
	}
	switch {
	case r == Server && s.Flags&capture.RST == 0 && s.Flags&capture.FIN != 0:
	case r == Server && s.Flags&(capture.RST|capture.ACK) == capture.RST|capture.ACK && acksSyn(c, s.Ack) && pawsRejects(c, s):
	case r == Client && s.Flags&capture.RST != 0 && inc.Injected.Count > 0 && inc.Injected.last().From == Server && inc.Injected.last().Flags&uint8(capture.RST) == 0:
	default:
		return false
	}
	inc.Packets++
	inc.Last = tx
	if r == Server {
		inc.History.mark(r, HistInjected)
	} else {
		inc.History.mark(r, HistRST)
	}
	inc.Injected.add(Event{Tx: tx, From: r, Flags: uint8(s.Flags), Payload: s.PayloadLen})
	return true
}

// pawsRejects reports that a segment answering h's SYN echoes a timestamp h did not
// send in this attempt (RFC 7323 §5.2; Linux: before its first SYN or after its
// latest TSval).
func pawsRejects(h *Half, s *capture.Segment) bool {
	return s.HasTS && s.TSecr != 0 && h.HasTS && (SeqLess(s.TSecr, h.SynTSval) || SeqLess(h.LastTSval, s.TSecr))
}

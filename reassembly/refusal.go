package reassembly

import "github.com/finack/finack/capture"

// refusalSegment recognises the answer of a TIME_WAIT holder that refuses a SYN: an
// ACK (no SYN) that does not acknowledge the SYN, and the client's RST that answers
// it (seq = the refusing ACK's ack number). Such segments belong to the old
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
			if ru := inc.Reuse; ru != nil && !ru.Prev.RstInTimeWait.Seen() && ru.TimeWait.Held() && tx.At < ru.TimeWait.Until {
				ru.Prev.RstInTimeWait, ru.Prev.RstInTimeWaitFrom = tx, ru.SynSender
				ru.Prev.TimeWaitLeft = ru.TimeWait.Until - tx.At
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
// or neither. Only on a 4-tuple used before in the capture, and only while the
// client has sent nothing but SYNs (it is in SYN-SENT) and the server nothing but
// refusals. counted is 1 when s is already in the packet counts, else 0.
func (inc *Incarnation) refusalKind(r Role, s *capture.Segment, counted uint64) int {
	c, sv := &inc.Half[Client], &inc.Half[Server]
	if !inc.RolesKnown || c.SynCount == 0 || inc.Index == 1 {
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

package analyzer

import (
	"github.com/finack/finack/reassembly"
)

// finRetransmit reports, per direction, a FIN sent again at the sequence number of a
// FIN already seen (data riding on it or not), with the intervals between
// transmissions and the cause the capture supports.
func (a *analysis) finRetransmit(inc *reassembly.Incarnation) {
	for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
		h := &inc.Half[r]
		if h.FinCount < 2 {
			continue
		}
		f := a.finFinding(FinRetransmit, inc, r, h.FinTxs[1].At)
		n := uint64(h.FinCount - 1)
		f.Count = a.ar.count(n)
		var spurious, lost, early, onAck int
		var earlyAck, spuriousAck reassembly.Tx // the ACK the first of each kind followed
		var earlyAt reassembly.Instant
		if len(h.FinTxs) > 1 {
			f.IntervalsMS = a.ar.f64s.take(len(h.FinTxs) - 1)
		}
		for i := 1; i < len(h.FinTxs); i++ {
			t := h.FinTxs[i]
			f.IntervalsMS = append(f.IntervalsMS, roundMS(t.At.Sub(h.FinTxs[i-1].At)))
			ack := ackBefore(h, i)
			switch {
			case t.OnAck:
				onAck++
			case !t.AckedBefore || !ack.Seen():
				lost++
			case !ackLost(h, ack, t):
				if early == 0 {
					earlyAck, earlyAt = ack, t.At
				}
				early++
			default:
				if spurious == 0 {
					spuriousAck = ack
				}
				spurious++
			}
		}
		// The message, in a.msg: "%s's FIN (frame %d) retransmitted %d time(s) after
		// <the gaps, comma separated><more>; <why>".
		m := appendf(a.msg[:0], "%s's FIN (frame %d) retransmitted %d time(s) after ", str(r.String()), num(h.FinTxs[0].Frame), num(n))
		for i := 1; i < len(h.FinTxs); i++ {
			if i > 1 {
				m = append(m, ", "...)
			}
			m = appendMS(m, h.FinTxs[i].At.Sub(h.FinTxs[i-1].At))
		}
		if int(h.FinCount) > len(h.FinTxs) {
			m = appendf(m, " (%d transmissions, first %d and last kept)", num(h.FinCount), num(len(h.FinTxs)-1))
		}
		m = append(m, "; "...)
		if onAck > 0 && lost+spurious+early > 0 {
			m = appendf(m, "%d copy riding on the ACK of the %s's FIN (FreeBSD/macOS set FIN on every segment while theirs is unacknowledged); of the rest: ", num(onAck), str(r.Peer().String()))
		}
		switch {
		case onAck > 0 && lost+spurious+early == 0:
			f.Cause = CauseOnAck
			t := h.FinTxs[1]
			m = appendf(m, "the copy (frame %d) is the %s's ACK of the %s's FIN, %s after that FIN, with FIN set again: FreeBSD and macOS set FIN on every segment while their FIN is unacknowledged; nothing was lost",
				num(t.Frame), str(r.String()), str(r.Peer().String()), dur(t.At.Sub(inc.Half[r.Peer()].FirstFin().At)))
		case lost > 0 && spurious == 0 && early == 0:
			f.Cause = CauseNotAcked
			m = append(m, "no ACK of it reached the tap in between: the FIN was lost after the tap or its ACK before it"...)
		case spurious > 0 && lost == 0 && early == 0:
			f.Cause = CauseSpurious
			m = appendf(m, "the FIN was already ACKed at the tap (frame %d): the ACK was lost after the tap", num(spuriousAck.Frame))
		case early > 0 && lost == 0 && spurious == 0:
			f.Cause = CauseEarly
			m = appendf(m, "re-sent %s after its ACK passed the tap (frame %d), sooner than that ACK could reach the %s (round trip from the tap %s): not a loss, the stack sent the FIN again",
				dur(earlyAt.Sub(earlyAck.At)), num(earlyAck.Frame), str(r.String()), dur(h.TapRTT))
		default:
			f.Cause = CauseMixed
			m = appendf(m, "%d retransmission(s) before any ACK reached the tap, %d after an ACK the sender should have had (lost after the tap), %d sooner than the ACK could reach the sender", num(lost), num(spurious), num(early))
		}
		a.msg = m
		f.Message = a.ar.string(m)
		a.add(f)
	}
}

package analyzer

import (
	"fmt"
	"strings"

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
		f.setCount(n)
		var spurious, lost, early int
		gaps := make([]string, 0, len(h.FinTxs)-1)
		for i := 1; i < len(h.FinTxs); i++ {
			gap := h.FinTxs[i].At - h.FinTxs[i-1].At
			f.IntervalsMS = append(f.IntervalsMS, roundMS(gap))
			gaps = append(gaps, ms(gap))
			switch {
			case !h.FinTxs[i].AckedBefore:
				lost++
			case h.TapRTT > 0 && h.FinTxs[i].At-h.FinAcked.At < h.TapRTT:
				early++
			default:
				spurious++
			}
		}
		var why string
		switch {
		case lost > 0 && spurious == 0 && early == 0:
			f.Cause = CauseNotAcked
			why = "no ACK of it reached the tap in between: the FIN was lost after the tap or its ACK before it"
		case spurious > 0 && lost == 0 && early == 0:
			f.Cause = CauseSpurious
			why = fmt.Sprintf("the FIN was already ACKed at the tap (frame %d): the ACK was lost after the tap", h.FinAcked.Frame)
		case early > 0 && lost == 0 && spurious == 0:
			f.Cause = CauseEarly
			why = fmt.Sprintf("re-sent %s after its ACK passed the tap (frame %d), sooner than that ACK could reach the %s (round trip from the tap %s): not a loss, the stack sent the FIN again",
				ms(h.FinTxs[1].At-h.FinAcked.At), h.FinAcked.Frame, r, ms(h.TapRTT))
		default:
			f.Cause = CauseMixed
			why = fmt.Sprintf("%d retransmission(s) before any ACK reached the tap, %d after an ACK the sender should have had (lost after the tap), %d sooner than the ACK could reach the sender", lost, spurious, early)
		}
		more := ""
		if int(h.FinCount) > len(h.FinTxs) {
			more = fmt.Sprintf(" (%d transmissions, first %d and last kept)", h.FinCount, len(h.FinTxs)-1)
		}
		f.Message = fmt.Sprintf("%s's FIN (frame %d) retransmitted %d time(s) after %s%s; %s",
			r, h.FinTxs[0].Frame, n, strings.Join(gaps, ", "), more, why)
		a.add(f)
	}
}

package analyzer

import (
	"fmt"
	"strings"

	"github.com/finack/finack/reassembly"
)

// reuse reports an incarnation that started while the previous one on its 4-tuple was
// still held in TIME_WAIT, judges whether old duplicates could be taken for new data
// (RFC 1122 §4.2.2.13 by sequence number, RFC 6191 by timestamps) and tells what
// became of the new handshake.
func (a *analysis) reuse(inc *reassembly.Incarnation) {
	ru := inc.Reuse
	if ru == nil {
		return
	}
	f := a.finding(ReuseIn2MSL, inc, ru.SYN.At)
	sender := ru.SynSender // role in prev
	holder := pairName(ru.TimeWait.Holder[reassembly.Client], ru.TimeWait.Holder[reassembly.Server])
	f.TimeWaitHolder = holder
	f.Sender = "client" // the SYN sender is the new incarnation's client
	elapsed := ru.SYN.At - ru.TimeWait.Since
	f.setDuration(elapsed)
	if ru.TimeWait.Start.Seen() {
		f.Frames = append(f.Frames, ru.TimeWait.Start.Frame)
	} else if ru.PrevPeerLastFin.Seen() {
		f.Frames = append(f.Frames, ru.PrevPeerLastFin.Frame)
	}
	f.Frames = append(f.Frames, ru.SYN.Frame)

	verdict, why := reuseVerdict(ru)
	f.Verdict = verdict
	outcome, how, frames := reuseOutcome(inc)
	f.Outcome = outcome
	f.Frames = append(f.Frames, frames...)

	who := fmt.Sprintf("the %s of incarnation %d", holder, ru.PrevIndex)
	if holder == "both" {
		who = fmt.Sprintf("both ends of incarnation %d", ru.PrevIndex)
	}
	selfHeld := ru.TimeWait.Holder[sender]
	self := ""
	if selfHeld {
		self = fmt.Sprintf("; the SYN came from the TIME_WAIT holder itself (%s): port reuse settings, or several hosts behind one address (NAT)", inc.Client())
	}
	f.NATEvidence = natEvidence(ru)
	nat := ""
	if len(f.NATEvidence) > 0 {
		nat = "; another host behind the same address? " + strings.Join(f.NATEvidence, "; ")
	}
	tw := "TIME_WAIT began"
	if ru.TimeWait.Inferred {
		tw = "TIME_WAIT began (inferred: the final ACK was not seen)"
	}
	f.Message = fmt.Sprintf("new SYN (frame %d) %s after %s, while %s held the 4-tuple in TIME_WAIT; %s; %s%s%s",
		ru.SYN.Frame, ms(elapsed), tw, who, why, how, self, nat)
	a.add(f)
}

func reuseVerdict(ru *reassembly.Reuse) (string, string) {
	if ru.OldSeqKnown && reassembly.SeqLess(ru.OldNextSeq, ru.NewISN) {
		return VerdictSafeBySequence, fmt.Sprintf("safe by sequence: ISN %d is beyond the old connection's %d", ru.NewISN, ru.OldNextSeq)
	}
	if ru.OldHasTS && ru.NewHasTS && reassembly.SeqLess(ru.OldTSval, ru.NewTSval) {
		return VerdictSafeByTimestamps, fmt.Sprintf("safe by timestamps: TSval %d is newer than the old connection's %d", ru.NewTSval, ru.OldTSval)
	}
	if !ru.OldSeqKnown {
		return VerdictUnknown, "verdict unknown: the capture has no segment of the SYN sender in the old connection"
	}
	if ru.OldHasTS && ru.NewHasTS {
		return VerdictUnsafe, fmt.Sprintf("unsafe: ISN %d is not beyond the old connection's %d and TSval %d is not newer than %d",
			ru.NewISN, ru.OldNextSeq, ru.NewTSval, ru.OldTSval)
	}
	return VerdictUnsafe, fmt.Sprintf("unsafe: ISN %d is not beyond the old connection's %d and there are no timestamps on both to tell them apart", ru.NewISN, ru.OldNextSeq)
}

// reuseOutcome tells what the new handshake became, with the frames that show it.
func reuseOutcome(inc *reassembly.Incarnation) (string, string, []uint64) {
	srv := &inc.Half[reassembly.Server]
	c := &inc.Half[reassembly.Client]
	if inc.Refusal.Ack.Seen() {
		frames := []uint64{inc.Refusal.Ack.Frame}
		how := fmt.Sprintf("refused: the holder answered with an ACK of the old connection (frame %d)", inc.Refusal.Ack.Frame)
		if inc.Refusal.Rst.Seen() {
			frames = append(frames, inc.Refusal.Rst.Frame)
			how += fmt.Sprintf(", the client reset it (frame %d)", inc.Refusal.Rst.Frame)
		}
		if inc.Refusal.Retry.Seen() {
			frames = append(frames, inc.Refusal.Retry.Frame)
			how += fmt.Sprintf(", retried the SYN (frame %d)", inc.Refusal.Retry.Frame)
		}
		if srv.SynCount > 0 {
			frames = append(frames, srv.Syn.Frame)
			how += fmt.Sprintf(", and the handshake completed %s after the first SYN (SYN-ACK frame %d): the connect delay the refusal cost", ms(srv.Syn.At-c.Syn.At), srv.Syn.Frame)
		}
		return OutcomeRefused, how, frames
	}
	if srv.SynCount > 0 {
		how := fmt.Sprintf("accepted (SYN-ACK frame %d)", srv.Syn.Frame)
		if ru := inc.Reuse; ru.OldPeerSeqKnown && srv.ISN == ru.OldPeerNextSeq+65537 {
			how += fmt.Sprintf("; the SYN-ACK ISN is the server's old snd_nxt %d + 65537: the signature of a Linux TIME_WAIT socket accepting the SYN", ru.OldPeerNextSeq)
		}
		return OutcomeAccepted, how, []uint64{srv.Syn.Frame}
	}
	if srv.Rst.Seen() {
		return OutcomeRST, fmt.Sprintf("answered by RST (frame %d)", srv.Rst.Frame), []uint64{srv.Rst.Frame}
	}
	return OutcomeUnanswered, "no answer seen", nil
}

// natEvidence lists what says the new SYN's sender is not the host that used the
// 4-tuple before (several hosts behind one NAT address): the IP TTL changed (a host
// sends with one initial TTL and the path to the tap did not change within TIME_WAIT),
// a host-wide IPv4 ID counter does not continue, or the TCP timestamp clock (1 ms to
// 1 s a tick, RFC 7323; Linux keeps one offset per address pair) went backwards or ran
// ahead of the time that passed. The IP ID counts only when the old connection shows
// a counter shared with other traffic (it advanced by more than twice its own
// packets): Linux starts a fresh random counter per connection, so for it a jump
// means nothing (measured on the recorded reuse captures).
func natEvidence(ru *reassembly.Reuse) []string {
	var ev []string
	if ru.OldTTL != 0 && ru.NewTTL != 0 && ru.OldTTL != ru.NewTTL {
		ev = append(ev, fmt.Sprintf("IP TTL %d in the old connection, %d in the new SYN", ru.OldTTL, ru.NewTTL))
	}
	elapsed := max(ru.SYN.At-ru.OldLastAt, 0)
	if !ru.IPv6 && ru.OldPackets >= 4 {
		run := uint64(ru.OldIPID - ru.OldFirstIPID)
		sequential := run > 2*ru.OldPackets && run <= 64*ru.OldPackets
		step := uint64(ru.NewIPID - ru.OldIPID)
		if sequential && (step == 0 || step > 1000+uint64(elapsed/1e9)*2000) {
			ev = append(ev, fmt.Sprintf("IP ID counter ran %d..%d in the old connection, new SYN has %d", ru.OldFirstIPID, ru.OldIPID, ru.NewIPID))
		}
	}
	if ru.OldHasTS && ru.NewHasTS {
		delta := int64(int32(ru.NewTSval - ru.OldTSval))
		switch {
		case delta < 0:
			ev = append(ev, fmt.Sprintf("TCP timestamp clock went back from %d to %d", ru.OldTSval, ru.NewTSval))
		case delta > elapsed/1e6+1000:
			ev = append(ev, fmt.Sprintf("TCP timestamp clock jumped from %d to %d in %s (more than 1 ms a tick allows)", ru.OldTSval, ru.NewTSval, ms(elapsed)))
		}
	}
	return ev
}

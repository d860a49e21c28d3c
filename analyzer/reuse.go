package analyzer

import (
	"time"

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
	elapsed := ru.SYN.At.Sub(ru.TimeWait.Since)
	f.DurationMS = a.ar.ms(elapsed)
	// The frames: TIME_WAIT's start, the SYN, then those of the outcome
	// (reuseOutcome: 4 at most), copied to the arena once all are known.
	var frameBuf [6]uint64
	frames := frameBuf[:0]
	if ru.TimeWait.Start.Seen() {
		frames = append(frames, ru.TimeWait.Start.Frame)
	} else if ru.PrevPeerLastFin.Seen() {
		frames = append(frames, ru.PrevPeerLastFin.Frame)
	}
	frames = append(frames, ru.SYN.Frame)

	// "new SYN (frame %d) %s after <tw>, while <who> held the 4-tuple in
	// TIME_WAIT; <verdict, why>; <outcome, how><self><nat>"
	tw := "TIME_WAIT began"
	if ru.TimeWait.Inferred {
		tw = "TIME_WAIT began (inferred: the final ACK was not seen)"
	}
	m := appendf(a.msg[:0], "new SYN (frame %d) %s after %s, while ", num(ru.SYN.Frame), dur(elapsed), str(tw))
	if holder == "both" {
		m = appendf(m, "both ends of incarnation %d", num(ru.PrevIndex))
	} else {
		m = appendf(m, "the %s of incarnation %d", str(holder), num(ru.PrevIndex))
	}
	m = append(m, " held the 4-tuple in TIME_WAIT; "...)
	f.Verdict, m = reuseVerdict(m, ru)
	m = append(m, "; "...)
	f.Outcome, m, frames = reuseOutcome(m, frames, inc)
	f.Frames = a.ar.u64s.clone(frames)
	if ru.TimeWait.Holder[sender] {
		m = appendf(m, "; the SYN came from the TIME_WAIT holder itself (%s): port reuse settings, or several hosts behind one address (NAT)", endpoint(inc.Client()))
	}
	f.NATEvidence = a.natEvidence(ru)
	if len(f.NATEvidence) > 0 {
		m = append(m, "; another host behind the same address? "...)
		for i, ev := range f.NATEvidence {
			if i > 0 {
				m = append(m, "; "...)
			}
			m = append(m, ev...)
		}
	}
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

// reuseVerdict judges whether old duplicates could pass as new data, and appends why
// to b.
func reuseVerdict(b []byte, ru *reassembly.Reuse) (Verdict, []byte) {
	if ru.OldSeqKnown && reassembly.SeqLess(ru.OldNextSeq, ru.NewISN) {
		return VerdictSafeBySequence, appendf(b, "safe by sequence: ISN %d is beyond the old connection's %d", num(ru.NewISN), num(ru.OldNextSeq))
	}
	if ru.OldHasTS && ru.NewHasTS && reassembly.SeqLess(ru.OldTSval, ru.NewTSval) {
		return VerdictSafeByTimestamps, appendf(b, "safe by timestamps: TSval %d is newer than the old connection's %d", num(ru.NewTSval), num(ru.OldTSval))
	}
	if !ru.OldSeqKnown {
		return VerdictUnknown, append(b, "verdict unknown: the capture has no segment of the SYN sender in the old connection"...)
	}
	if ru.OldHasTS && ru.NewHasTS {
		return VerdictUnsafe, appendf(b, "unsafe: ISN %d is not beyond the old connection's %d and TSval %d is not newer than %d",
			num(ru.NewISN), num(ru.OldNextSeq), num(ru.NewTSval), num(ru.OldTSval))
	}
	return VerdictUnsafe, appendf(b, "unsafe: ISN %d is not beyond the old connection's %d and there are no timestamps on both to tell them apart", num(ru.NewISN), num(ru.OldNextSeq))
}

// reuseOutcome tells what the new handshake became, appending how to b and the
// frames that show it (4 at most) to frames.
func reuseOutcome(b []byte, frames []uint64, inc *reassembly.Incarnation) (Outcome, []byte, []uint64) {
	srv := &inc.Half[reassembly.Server]
	c := &inc.Half[reassembly.Client]
	if inc.Refusal.Ack.Seen() {
		frames = append(frames, inc.Refusal.Ack.Frame)
		b = appendf(b, "refused: the holder answered with an ACK of the old connection (frame %d)", num(inc.Refusal.Ack.Frame))
		if inc.Refusal.Rst.Seen() {
			frames = append(frames, inc.Refusal.Rst.Frame)
			b = appendf(b, ", the client reset it (frame %d)", num(inc.Refusal.Rst.Frame))
		}
		if inc.Refusal.Retry.Seen() {
			frames = append(frames, inc.Refusal.Retry.Frame)
			b = appendf(b, ", retried the SYN (frame %d)", num(inc.Refusal.Retry.Frame))
		}
		if srv.SynCount > 0 {
			frames = append(frames, srv.Syn.Frame)
			b = appendf(b, ", and the handshake completed %s after the first SYN (SYN-ACK frame %d): the connect delay the refusal cost", dur(srv.Syn.At.Sub(c.Syn.At)), num(srv.Syn.Frame))
		}
		return OutcomeRefused, b, frames
	}
	if srv.SynCount > 0 {
		b = appendf(b, "accepted (SYN-ACK frame %d)", num(srv.Syn.Frame))
		if ru := inc.Reuse; ru.OldPeerSeqKnown && srv.ISN == ru.OldPeerNextSeq+65537 {
			b = appendf(b, "; the SYN-ACK ISN is the server's old snd_nxt %d + 65537: the signature of a Linux TIME_WAIT socket accepting the SYN", num(ru.OldPeerNextSeq))
		}
		return OutcomeAccepted, b, append(frames, srv.Syn.Frame)
	}
	if srv.Rst.Seen() {
		return OutcomeRST, appendf(b, "answered by RST (frame %d)", num(srv.Rst.Frame)), append(frames, srv.Rst.Frame)
	}
	return OutcomeUnanswered, append(b, "no answer seen"...), frames
}

// natEvidence lists what says the new SYN's sender is not the host that used the
// 4-tuple before (several hosts behind one NAT address): the IP TTL changed (a host
// sends with one initial TTL and the path to the tap did not change within TIME_WAIT),
// a host-wide IPv4 ID counter does not continue, or the TCP timestamp clock (1 ms to
// 1 s a tick, RFC 7323; Linux keeps one offset per address pair) went backwards or ran
// ahead of the time that passed. The IP ID counts only when the old connection shows
// a counter shared with other traffic (it advanced by more than twice its own
// packets): Linux starts a fresh random counter per connection, so for it a jump
// means nothing (as the recorded reuse captures show). The list and its strings
// are in the arena; nil when there is no evidence.
func (a *analysis) natEvidence(ru *reassembly.Reuse) []string {
	var evBuf [3]string
	ev := evBuf[:0]
	if ru.OldTTL != 0 && ru.NewTTL != 0 && ru.OldTTL != ru.NewTTL {
		ev = append(ev, a.sprintf("IP TTL %d in the old connection, %d in the new SYN", num(ru.OldTTL), num(ru.NewTTL)))
	}
	elapsed := max(ru.SYN.At.Sub(ru.OldLastAt), 0)
	if !ru.IPv6 && ru.OldPackets >= 4 {
		run := uint64(ru.OldIPID - ru.OldFirstIPID)
		sequential := run > 2*ru.OldPackets && run <= 64*ru.OldPackets
		step := uint64(ru.NewIPID - ru.OldIPID)
		if sequential && (step == 0 || step > 1000+uint64(elapsed/1e9)*2000) {
			ev = append(ev, a.sprintf("IP ID counter ran %d..%d in the old connection, new SYN has %d", num(ru.OldFirstIPID), num(ru.OldIPID), num(ru.NewIPID)))
		}
	}
	if ru.OldHasTS && ru.NewHasTS {
		delta := int64(int32(ru.NewTSval - ru.OldTSval))
		switch {
		case delta < 0:
			ev = append(ev, a.sprintf("TCP timestamp clock went back from %d to %d", num(ru.OldTSval), num(ru.NewTSval)))
		case delta > int64(elapsed/time.Millisecond)+1000:
			ev = append(ev, a.sprintf("TCP timestamp clock jumped from %d to %d in %s (more than 1 ms a tick allows)", num(ru.OldTSval), num(ru.NewTSval), dur(elapsed)))
		}
	}
	if len(ev) == 0 {
		return nil
	}
	return a.ar.strs.clone(ev)
}

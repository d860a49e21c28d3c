package analyzer

import (
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// afterClose reports what reached a 4-tuple after its incarnation had closed: stale
// segments of an old incarnation that reached a newer one (the hazard TIME_WAIT
// exists to stop), late segments reaching a TIME_WAIT holder, and an RST that cut
// TIME_WAIT short (RFC 1337). tw is inc's TIME_WAIT.
func (a *analysis) afterClose(inc *reassembly.Incarnation, tw reassembly.TimeWait) {
	if inc.Stale.Count == 0 && inc.Late.Count == 0 && !inc.RstInTimeWait.Seen() {
		return // the common case: nothing after the close
	}
	if ev := &inc.Stale; ev.Count > 0 {
		// Time since the old close: its TIME_WAIT start, else its last packet.
		closed := inc.Last.At
		if tw.Held() {
			closed = tw.Since
		}
		f := a.eventsFinding(StaleSegment, inc, ev, closed)
		first, last := ev.List[0], ev.List[len(ev.List)-1]
		m := appendf(a.msg[:0], "%d segment(s) of incarnation %d reached the 4-tuple after incarnation %d had started: their numbers fit the old connection's sequence space, not the new one's, so they count here and not as data, retransmissions or a FIN of the new one; first ",
			num(ev.Count), num(inc.Index), num(during(inc, first)))
		m = appendEvent(m, first)
		m = appendf(m, " from the %s (frame %d) %s after the old close, last kept ", str(first.From.String()), num(first.Frame), dur(first.At.Sub(closed)))
		m = appendEvent(m, last)
		m = appendf(m, " (frame %d) %s after", num(last.Frame), dur(last.At.Sub(closed)))
		if d := during(inc, last); d != during(inc, first) {
			m = appendf(m, ", while incarnation %d had the 4-tuple", num(d))
		}
		a.msg = m
		f.Message = a.ar.string(m)
		a.add(f)
	}
	if ev := &inc.Late; ev.Count > 0 {
		since := ev.List[0].Since // the TIME_WAIT start the tracker judged it against
		f := a.eventsFinding(LateInTimeWait, inc, ev, since)
		first := ev.List[0]
		m := appendf(a.msg[:0], "%d segment(s) other than a FIN retransmission reached the 4-tuple while the %s held it in TIME_WAIT; the first (frame %d, ",
			num(ev.Count), str(holderName(tw)), num(first.Frame))
		m = appendEvent(m, first)
		m = appendf(m, " from the %s) %s after TIME_WAIT began", str(first.From.String()), dur(first.At.Sub(since)))
		a.msg = m
		f.Message = a.ar.string(m)
		a.add(f)
	}
	if rst := inc.RstInTimeWait; rst.Seen() {
		f := a.finding(RstInTimeWait, inc, rst.At)
		f.Frames = a.ar.u64s.clone([]uint64{rst.Frame})
		f.Sender = inc.RstInTimeWaitFrom.String()
		f.DurationMS = a.ar.ms(inc.TimeWaitLeft)
		why := ""
		if inc.End == reassembly.EndReplaced && inc.RstInTimeWait.At >= inc.EndAt {
			why = " (the client's answer to the refusal of its new SYN)"
		}
		f.Message = a.sprintf("RST from the %s (frame %d)%s reached the 4-tuple in TIME_WAIT with %s of it left: a host with tcp_rfc1337=0 (the Linux default) ends TIME_WAIT at once (TIME-WAIT assassination, RFC 1337)",
			str(inc.RstInTimeWaitFrom.String()), num(rst.Frame), str(why), dur(inc.TimeWaitLeft))
		a.add(f)
	}
}

// during is the incarnation that had the 4-tuple when a stale segment of inc
// arrived: any later one, not only the next (a 4-tuple reused quickly has several
// within 2MSL).
func during(inc *reassembly.Incarnation, ev reassembly.Event) int {
	if ev.During == 0 {
		return inc.Index + 1 // (not recorded)
	}
	return int(ev.During)
}

// reuseRefused reports a SYN that the TIME_WAIT holder (reuse_refused), or a
// half-open or open earlier connection (syn_refused), answered with an ACK of the
// old connection, and the connect delay it cost.
func (a *analysis) reuseRefused(inc *reassembly.Incarnation) {
	ref := inc.Refusal
	if !ref.Ack.Seen() {
		return
	}
	c, srv := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
	kind := ReuseRefused
	if inc.Reuse == nil {
		kind = SynRefused
	}
	f := a.finding(kind, inc, ref.Ack.At)
	frames := append(make([]uint64, 0, 5), c.Syn.Frame, ref.Ack.Frame) // on the stack
	for _, t := range [3]reassembly.Tx{ref.Rst, ref.Retry, srv.Syn} {
		if t.Seen() {
			frames = append(frames, t.Frame)
		}
	}
	f.Frames = a.ar.u64s.clone(frames)
	f.Sender = "server"
	var m []byte
	if kind == SynRefused {
		m = appendf(a.msg[:0], "the server, still holding %s, answered the SYN (frame %d) with an ACK of it (frame %d, ack %d)", str(refusedBy(inc)), num(c.Syn.Frame), num(ref.Ack.Frame), num(ref.AckNum))
	} else {
		m = appendf(a.msg[:0], "the TIME_WAIT holder answered the SYN (frame %d) with an ACK of the old connection (frame %d, ack %d)", num(c.Syn.Frame), num(ref.Ack.Frame), num(ref.AckNum))
	}
	if ref.Rst.Seen() {
		m = appendf(m, "; the client reset it (frame %d)", num(ref.Rst.Frame))
	}
	if ref.Retry.Seen() {
		m = appendf(m, " and sent the SYN again (frame %d)", num(ref.Retry.Frame))
	}
	if srv.SynCount > 0 {
		f.DurationMS = a.ar.ms(srv.Syn.At.Sub(c.Syn.At))
		f.Outcome = OutcomeAccepted
		m = appendf(m, "; the connection was set up %s after the first SYN (SYN-ACK frame %d): the connect delay the refusal cost", dur(srv.Syn.At.Sub(c.Syn.At)), num(srv.Syn.Frame))
	} else {
		f.DurationMS = a.ar.ms(inc.EndAt.Sub(c.Syn.At))
		f.Outcome = OutcomeUnanswered
		m = appendf(m, "; no SYN-ACK in the %s until the %s", dur(inc.EndAt.Sub(c.Syn.At)), str(a.endWord(inc)))
	}
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

// refusedBy names what held the 4-tuple when a SYN was refused without TIME_WAIT.
func refusedBy(inc *reassembly.Incarnation) string {
	if inc.Before == reassembly.PrevHalfOpen {
		return "the earlier attempt half-open (its SYN-ACK sent, the handshake never completed: no TIME_WAIT involved)"
	}
	return "the earlier connection open (no TIME_WAIT involved)"
}

// injected reports segments the client rejected in SYN-SENT before any SYN-ACK
// (reassembly's Incarnation.Injected): what they were, and that the attempt went on.
func (a *analysis) injected(inc *reassembly.Incarnation) {
	ev := &inc.Injected
	if ev.Count == 0 {
		return
	}
	first := ev.List[0]
	f := a.eventsFinding(InjectedBeforeHandshake, inc, ev, inc.Half[reassembly.Client].Syn.At)
	m := appendf(a.msg[:0], "%d segment(s) reached the client in SYN-SENT before any SYN-ACK and were not this connection's; the first ", num(ev.Count))
	m = appendEvent(m, first)
	m = appendf(m, " from the %s (frame %d) %s after the SYN", str(first.From.String()), num(first.Frame), dur(first.At.Sub(inc.Half[reassembly.Client].Syn.At)))
	switch {
	case first.Flags&uint8(capture.RST) != 0:
		m = append(m, ": an RST echoing a timestamp the client never sent, which it drops (Linux: PAWSActiveRejected)"...)
	default:
		m = append(m, ": a segment without SYN cannot move a client in SYN-SENT (RFC 9293 §3.10.7.3)"...)
	}
	for _, e := range ev.List[1:] {
		if e.From == reassembly.Client {
			m = appendf(m, "; the client rejected it with an RST (frame %d)", num(e.Frame))
			break
		}
	}
	if srv := &inc.Half[reassembly.Server]; srv.SynCount > 0 {
		m = appendf(m, "; the attempt went on at the same ISN and the server's SYN-ACK came %s after the SYN (frame %d)", dur(srv.Syn.At.Sub(inc.Half[reassembly.Client].Syn.At)), num(srv.Syn.Frame))
	} else {
		m = append(m, "; no SYN-ACK followed"...)
	}
	m = append(m, ": injected by a middlebox or an attacker, or strayed from another connection; neither a FIN nor an RST of this one"...)
	a.msg = m
	f.Message = a.ar.string(m)
	a.add(f)
}

func holderName(tw reassembly.TimeWait) string {
	switch {
	case tw.Holder[reassembly.Client] && tw.Holder[reassembly.Server]:
		return "client and the server"
	case tw.Holder[reassembly.Client]:
		return "client"
	}
	return "server"
}

// eventsFinding starts a finding about a list of evidence segments: their count and
// frames, the sender of the first, and how long after since the first arrived.
func (a *analysis) eventsFinding(k Kind, inc *reassembly.Incarnation, ev *reassembly.Events, since reassembly.Instant) Finding {
	first := ev.List[0]
	f := a.finding(k, inc, first.At)
	f.Frames = a.eventFrames(ev)
	f.Count = a.ar.count(ev.Count)
	f.Sender = first.From.String()
	f.DurationMS = a.ar.ms(first.At.Sub(since))
	return f
}

func (a *analysis) eventFrames(ev *reassembly.Events) []uint64 {
	frames := a.ar.u64s.take(len(ev.List))
	for _, e := range ev.List {
		frames = append(frames, e.Frame)
	}
	return frames
}

// appendEvent names a segment by its flags and payload, as tcpdump would.
func appendEvent(b []byte, e reassembly.Event) []byte {
	b = appendf(b, "[%s]", str(capture.Flags(e.Flags).String()))
	if e.Payload > 0 {
		b = appendf(b, " with %d bytes", num(e.Payload))
	}
	return b
}

package analyzer

import (
	"net/netip"
	"sort"
	"time"

	"github.com/finack/finack/reassembly"
)

// Endpoint states, named as netstat prints them (RFC 9293 §3.3.2). A socket that is
// CLOSED, or not opened yet, has no state and is not counted.
const (
	StateSynSent     = "SYN_SENT"
	StateSynRecv     = "SYN_RECV"
	StateEstablished = "ESTABLISHED"
	StateFinWait1    = "FIN_WAIT1"
	StateFinWait2    = "FIN_WAIT2"
	StateClosing     = "CLOSING"
	StateTimeWait    = "TIME_WAIT"
	StateCloseWait   = "CLOSE_WAIT"
	StateLastAck     = "LAST_ACK"
)

// StateNames lists the states in the order netstat users read them.
var StateNames = [...]string{StateEstablished, StateSynSent, StateSynRecv, StateFinWait1, StateFinWait2,
	StateClosing, StateTimeWait, StateCloseWait, StateLastAck}

// StateAt infers the RFC 9293 state of one end of an incarnation at capture time when
// from what the tap saw: each event takes effect when it passed the tap,
// which is close to when the end sent or received it. It returns "" when the end has
// no socket then (not opened yet, closed, reset, or replaced by a newer incarnation).
// An end that gave up retransmitting its FIN is closed from when its next
// retransmission was due.
func StateAt(inc *reassembly.Incarnation, r reassembly.Role, when time.Time, twLen time.Duration) string {
	at := reassembly.InstantOf(when)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if at < inc.First.At {
		return ""
	}
	if inc.End == reassembly.EndReplaced && at >= inc.EndAt {
		return ""
	}
	if rst, ok := inc.EndingRst(); ok && at >= rst {
		return ""
	}
	if h.FinSeen() && at >= h.FirstFin().At {
		ownAcked := h.FinAcked.Seen() && at >= h.FinAcked.At
		if !ownAcked && gaveUp(h, at) {
			return ""
		}
		if h.FinCoversPeerFin { // passive closer
			if ownAcked {
				return ""
			}
			return StateLastAck
		}
		if ownAcked && at >= h.FinAcked.At.Add(reassembly.FinTimeout) && inc.SilentAfterFin(r) {
			return "" // its FIN_WAIT_2 ran out before the peer's FIN came
		}
		peerFin := p.FinSeen() && at >= p.FirstFin().At
		switch {
		case ownAcked && peerFin:
			tw := inc.TimeWait(twLen)
			if tw.Holder[r] && at < tw.Until {
				return StateTimeWait
			}
			if tw.Holder[r] {
				return ""
			}
			return StateFinWait2
		case ownAcked:
			return StateFinWait2
		case peerFin:
			return StateClosing
		}
		return StateFinWait1
	}
	if p.FinSeen() && at >= p.FirstFin().At {
		return StateCloseWait
	}
	return opening(inc, r, at)
}

// Never is the instant StateUntil returns for states that hold from then on.
const Never = reassembly.Instant(1<<63 - 1)

// StateUntil returns the first instant after at at which StateAt of either end of inc
// may differ from what it is at at, when nothing more is added to inc (Never if it
// stays as it is): the instants StateAt compares its time with. A caller that
// walks the same incarnations again and again (the live metrics, every scrape) need
// not look at one again before then.
func StateUntil(inc *reassembly.Incarnation, at reassembly.Instant, twLen time.Duration) reassembly.Instant {
	next := Never
	after := func(t reassembly.Instant) {
		if t > at && t < next {
			next = t
		}
	}
	after(inc.First.At)
	if inc.End == reassembly.EndReplaced {
		after(inc.EndAt)
	}
	if rst, ok := inc.EndingRst(); ok {
		after(rst)
	}
	for r := range inc.Half {
		h := &inc.Half[r]
		if h.FinSeen() {
			after(h.FirstFin().At)
		}
		if h.FinAcked.Seen() {
			after(h.FinAcked.At)
			after(h.FinAcked.At.Add(reassembly.FinTimeout))
		}
		if n := len(h.FinTxs); n >= 2 {
			last := h.FinTxs[n-1].At
			after(last.Add(2 * last.Sub(h.FinTxs[n-2].At))) // gaveUp
		}
		if h.Syn.Seen() {
			after(h.Syn.At)
			for p := range inc.Half {
				after(h.Syn.At.Add(inc.Half[p].TapRTT)) // opening: the SYN-ACK's, plus the client's RTT
			}
		}
	}
	if tw := inc.TimeWait(twLen); tw.Holder[reassembly.Client] || tw.Holder[reassembly.Server] {
		after(tw.Until)
	}
	return next
}

// opening is the state of an end that has not closed: the handshake, else ESTABLISHED.
func opening(inc *reassembly.Incarnation, r reassembly.Role, at reassembly.Instant) string {
	if !inc.RolesKnown {
		return StateEstablished
	}
	c, s := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
	synAck := s.SynCount > 0 && s.SynAckSeen
	if r == reassembly.Client {
		if c.SynCount > 0 && (!synAck || at < s.Syn.At) {
			return StateSynSent
		}
		return StateEstablished
	}
	if c.SynCount == 0 {
		return StateEstablished // picked up at the SYN-ACK
	}
	if !synAck {
		if inc.Refusal.Ack.Seen() || s.RstCount > 0 {
			return "" // refused or reset: no new socket on the server
		}
		return StateSynRecv
	}
	done := s.Syn.At.Add(c.TapRTT)
	if c.TapRTT == 0 {
		if c.Packets > uint64(c.SynCount) {
			return StateEstablished
		}
		return StateSynRecv
	}
	if at < done {
		return StateSynRecv
	}
	return StateEstablished
}

// gaveUp reports whether an end whose FIN went unacknowledged had given up by at: its
// next retransmission (twice the last interval after the last) was due and did not
// come.
func gaveUp(h *reassembly.Half, at reassembly.Instant) bool {
	n := len(h.FinTxs)
	if n < 2 || h.Last.Frame != h.LastFin().Frame {
		return false
	}
	last := h.FinTxs[n-1].At
	return at >= last.Add(2*last.Sub(h.FinTxs[n-2].At))
}

// States counts, per host address, the states of the endpoints it has at capture
// time at: what `netstat -n | awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'`
// would have printed on that host.
func States(incs []*reassembly.Incarnation, at time.Time, twLen time.Duration) map[netip.Addr]map[string]int {
	out := make(map[netip.Addr]map[string]int)
	for _, inc := range incs {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			st := StateAt(inc, r, at, twLen)
			if st == "" {
				continue
			}
			host := inc.Half[r].Endpoint.Addr()
			m := out[host]
			if m == nil {
				m = make(map[string]int)
				out[host] = m
			}
			m[st]++
		}
	}
	return out
}

// SortedHosts returns the hosts of a state table in address order.
func SortedHosts[V any](m map[netip.Addr]V) []netip.Addr {
	hosts := make([]netip.Addr, 0, len(m))
	for h := range m {
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Less(hosts[j]) })
	return hosts
}

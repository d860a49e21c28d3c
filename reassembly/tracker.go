package reassembly

import (
	"net/netip"
	"time"

	"github.com/finack/finack/capture"
)

// Config tunes the tracker.
type Config struct {
	// TimeWait is the TIME_WAIT (2MSL) length of the hosts in the capture.
	TimeWait time.Duration
}

// DefaultTimeWait is Linux's TCP_TIMEWAIT_LEN.
const DefaultTimeWait = 60 * time.Second

// flow is the per-4-tuple entry: the current incarnation and the one before it (kept
// while it may still receive late or stale segments).
type flow struct {
	cur, prev *Incarnation
	count     int
}

// Tracker follows every 4-tuple of a capture. Feed it segments in capture order with
// Add, then call Finish.
type Tracker struct {
	cfg    Config
	twLen  int64
	flows  map[FlowKey]*flow
	all    []*Incarnation
	lastAt int64
}

// NewTracker returns an empty tracker.
func NewTracker(cfg Config) *Tracker {
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = DefaultTimeWait
	}
	return &Tracker{cfg: cfg, twLen: int64(cfg.TimeWait), flows: make(map[FlowKey]*flow)}
}

// TimeWaitLen returns the TIME_WAIT length in use, in nanoseconds.
func (t *Tracker) TimeWaitLen() int64 { return t.twLen }

// Incarnations returns every incarnation seen so far, in order of first packet.
func (t *Tracker) Incarnations() []*Incarnation { return t.all }

// Finish marks the end of the capture at time end (Unix ns; the last packet's time).
func (t *Tracker) Finish(end int64) {
	for _, inc := range t.all {
		if inc.End == EndCaptureEnd {
			inc.EndAt = end
		}
	}
}

// Add attributes one segment to its incarnation and records what it shows.
func (t *Tracker) Add(s *capture.Segment) {
	at := s.Time.UnixNano()
	t.lastAt = at
	k, _ := KeyOf(s)
	f := t.flows[k]
	if f == nil {
		f = &flow{}
		t.flows[k] = f
	}
	inc := t.route(f, k, s, at)
	inc.apply(s, Tx{Frame: s.Frame, At: at})
}

// route picks the incarnation a segment belongs to, starting a new one when the
// segment opens a new connection on the 4-tuple.
func (t *Tracker) route(f *flow, k FlowKey, s *capture.Segment, at int64) *Incarnation {
	cur := f.cur
	if cur == nil {
		return t.start(f, k, s, at, nil)
	}
	if s.Flags&capture.SYN != 0 {
		if cur.continuesWith(s) {
			return cur
		}
		return t.start(f, k, s, at, cur)
	}
	if cur.closedLongBefore(at, t.twLen) {
		// A segment long after the close and its TIME_WAIT: a connection picked up
		// mid-stream on a 4-tuple that was free again.
		return t.start(f, k, s, at, cur)
	}
	return cur
}

// continuesWith reports whether a segment with SYN set belongs to this incarnation:
// a retransmitted SYN or SYN-ACK, the SYN-ACK answering its SYN, or another SYN of an
// attempt that got no answer yet.
func (inc *Incarnation) continuesWith(s *capture.Segment) bool {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if h.SynCount > 0 && s.Seq == h.ISN {
		return true
	}
	if s.Flags&capture.ACK == 0 {
		// A new ISN on a bare SYN continues the attempt only while nothing has come
		// back and nothing else was sent: a retry, not a new connection.
		return r == Client && h.SynCount > 0 && p.Packets == 0 && h.Packets == uint64(h.SynCount)
	}
	// A SYN-ACK answering the peer's SYN, with none sent yet by this end.
	return h.SynCount == 0 && p.SynCount > 0 && s.Ack == p.ISN+1 && !h.FinSeen() && h.RstCount == 0
}

// closed reports whether the incarnation has ended on the wire (both FINs, or an RST)
// and when.
func (inc *Incarnation) closed() (int64, bool) {
	if rst, _, ok := inc.FirstRst(); ok {
		return rst.At, true
	}
	c, s := &inc.Half[Client], &inc.Half[Server]
	if c.FinSeen() && s.FinSeen() {
		return max(c.LastFin().At, s.LastFin().At, c.FinLastAck.At, s.FinLastAck.At), true
	}
	return 0, false
}

func (inc *Incarnation) closedLongBefore(at, twLen int64) bool {
	end, ok := inc.closed()
	return ok && at-end > twLen
}

// start opens a new incarnation on the flow; prev is the incarnation it replaces.
func (t *Tracker) start(f *flow, k FlowKey, s *capture.Segment, at int64, prev *Incarnation) *Incarnation {
	f.count++
	inc := &Incarnation{Key: k, Index: f.count, First: Tx{Frame: s.Frame, At: at}}
	switch {
	case s.Flags&(capture.SYN|capture.ACK) == capture.SYN:
		inc.RolesKnown = true
		inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Src, s.Dst
	case s.Flags&(capture.SYN|capture.ACK) == capture.SYN|capture.ACK:
		inc.RolesKnown = true
		inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Dst, s.Src
	default:
		// Mid-stream: guess the server as the end with the lower port (ties: the
		// receiver of this first segment).
		if s.Src.Port() < s.Dst.Port() {
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Dst, s.Src
		} else {
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = s.Src, s.Dst
		}
	}
	if prev != nil {
		prev.End = EndReplaced
		prev.EndAt = at
		if s.Flags&(capture.SYN|capture.ACK) == capture.SYN {
			if tw := prev.TimeWait(t.twLen); tw.Held() && at < tw.Until {
				inc.Reuse = newReuse(prev, s, at, tw)
			}
		}
	}
	f.prev, f.cur = prev, inc
	t.all = append(t.all, inc)
	return inc
}

func newReuse(prev *Incarnation, s *capture.Segment, at int64, tw TimeWait) *Reuse {
	sender := prev.RoleOf(s.Src)
	old, peer := &prev.Half[sender], &prev.Half[sender.Peer()]
	return &Reuse{
		Prev: prev, SYN: Tx{Frame: s.Frame, At: at}, SynSender: sender, TimeWait: tw,
		OldNextSeq: old.NextSeq, OldSeqKnown: old.SeqKnown,
		OldPeerNextSeq: peer.NextSeq, OldPeerSeqKnown: peer.SeqKnown,
		OldTSval: old.LastTSval, OldHasTS: old.HasTS,
		NewISN: s.Seq, NewTSval: s.TSval, NewHasTS: s.HasTS,
		OldIPID: old.LastIPID, NewIPID: s.IPID, OldTTL: old.LastTTL, NewTTL: s.TTL,
	}
}

// apply records what one segment shows.
func (inc *Incarnation) apply(s *capture.Segment, tx Tx) {
	r := inc.RoleOf(s.Src)
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	inc.Packets++
	inc.Last = tx
	if h.Packets == 0 {
		h.FirstIPID, h.FirstTTL = s.IPID, s.TTL
	}
	h.Packets++
	h.Last = tx
	h.LastIPID, h.LastTTL = s.IPID, s.TTL
	h.Bytes += uint64(s.PayloadLen)
	if s.HasTS && (!h.HasTS || SeqLess(h.LastTSval, s.TSval)) {
		h.HasTS, h.LastTSval = true, s.TSval
	}

	if inc.refusalSegment(r, s, tx) {
		return
	}
	if s.Flags&capture.RST != 0 {
		if !h.Rst.Seen() {
			h.Rst = tx
		}
		h.RstCount++
		return // an RST's numbers say nothing about what this end sent
	}
	if s.Flags&capture.SYN != 0 {
		if r == Client && inc.Refusal.Rst.Seen() && !inc.Refusal.Retry.Seen() {
			inc.Refusal.Retry = tx
		}
		if h.SynCount == 0 || s.Seq != h.ISN {
			h.ISN, h.Syn = s.Seq, tx
		}
		h.SynCount++
	}

	end := s.SeqEnd()
	newData := s.PayloadLen > 0 && (!h.SeqKnown || SeqLess(h.NextSeq, end))
	if !h.SeqKnown || SeqLess(h.NextSeq, end) {
		h.NextSeq, h.SeqKnown = end, true
	}

	acksPeerFin := s.Flags&capture.ACK != 0 && p.FinSeen() && SeqLEQ(p.FinSeq+1, s.Ack)
	if acksPeerFin {
		if !p.FinAcked.Seen() {
			p.FinAcked = tx
		}
		p.FinLastAck = tx
		p.FinLastAckTSecr, p.FinLastAckHasTS = s.TSecr, s.HasTS
	}
	if newData && acksPeerFin && !h.DataAfterPeerFin.Seen() && s.Flags&capture.FIN == 0 {
		h.DataAfterPeerFin = tx
	}

	if s.Flags&capture.FIN != 0 {
		finSeq := end - 1
		switch {
		case h.FinCount == 0:
			h.FinSeq = finSeq
			h.FinCoversPeerFin = acksPeerFin
			h.FinCount = 1
			h.FinTxs = append(h.FinTxs, FinTx{Tx: tx, TSval: s.TSval, HasTS: s.HasTS})
		case finSeq == h.FinSeq:
			h.FinCount++
			ft := FinTx{Tx: tx, TSval: s.TSval, HasTS: s.HasTS, AckedBefore: h.FinAcked.Seen()}
			if len(h.FinTxs) < maxFinTx {
				h.FinTxs = append(h.FinTxs, ft)
			} else {
				h.FinTxs[maxFinTx-1] = ft
			}
		default:
			h.InconsistentFin++
		}
	}
}

// refusalSegment recognises the answer of a TIME_WAIT holder that refuses a SYN: an
// ACK (no SYN) that does not acknowledge the SYN, and the client's RST that answers
// it (seq = the refusing ACK's ack number). Such segments belong to the old
// connection's sequence space and must not be taken as this one's.
func (inc *Incarnation) refusalSegment(r Role, s *capture.Segment, tx Tx) bool {
	c := &inc.Half[Client]
	if !inc.RolesKnown || c.SynCount == 0 {
		return false
	}
	switch {
	case r == Server && inc.Half[Server].SynCount == 0 && s.Flags&(capture.SYN|capture.RST|capture.ACK) == capture.ACK && s.Ack != c.ISN+1:
		if !inc.Refusal.Ack.Seen() {
			inc.Refusal.Ack, inc.Refusal.AckNum = tx, s.Ack
		}
		return true
	case r == Client && inc.Refusal.Ack.Seen() && s.Flags&capture.RST != 0 && s.Seq == inc.Refusal.AckNum:
		if !inc.Refusal.Rst.Seen() {
			inc.Refusal.Rst = tx
		}
		return true
	}
	return false
}

// Endpoints returns the two endpoints of a key, for convenience.
func (k FlowKey) Endpoints() (netip.AddrPort, netip.AddrPort) { return k.Lo, k.Hi }

package reassembly

import "github.com/finack/finack/capture"

// Earlier incarnations: a 4-tuple reused quickly (Linux takes a SYN in TIME_WAIT at
// once) has several incarnations closed less than the TIME_WAIT length ago, and
// an old duplicate of any of them may still arrive. The tracker keeps, besides the
// current incarnation, the earlier ones whose window for stale segments is not
// over (prevOverAt), newest first: the flow holds the newest held whole (flow.prev)
// and each links the one replaced before it (Incarnation.older); behind those come
// the packed ones (packPrev), which stay packed until something needs them whole
// (unpackPrev). A segment for the current incarnation whose numbers do not fit it
// is looked up in them, newest first, and attributed to the first whose sequence
// space it fits (staleFor).
//
// At most maxEarlier are kept per 4-tuple: when a new incarnation pushes the chain
// past that, the oldest is finished at once (handed to Done when streaming), and an
// old duplicate of it arriving later is judged against the current incarnation
// alone (out of its window when its acknowledgement acknowledges nothing of it,
// otherwise taken as its segment). A fast-reuse flood on one 4-tuple therefore holds
// maxEarlier+1 incarnations at most, whatever its rate.

// maxEarlier bounds the earlier incarnations held per 4-tuple for their stale
// segments.
const maxEarlier = 4

// ackSlack: how far an acknowledgement may lie beyond what the tap saw the peer send
// (segments the tap missed), or below the lowest sequence number seen from it when
// its SYN was not captured, and still acknowledge something of the incarnation.
const ackSlack = 1 << 24

// staleFor returns the earlier incarnation of the flow a non-SYN segment that would
// go to the current incarnation cur belongs to: the newest one still in its window
// whose sequence space the segment fits, when it does not fit cur's (nil: none, the
// segment is cur's). The TIME_WAIT holder's refusal of cur's SYN is cur's.
// Packed earlier incarnations are unpacked only for a segment that does not fit cur.
func (t *Tracker) staleFor(f *flow, cur *Incarnation, s *capture.Segment, at Instant) *Incarnation {
	if f.prev == 0 && (t.prevLive == 0 || cur.Index == 1) {
		// No earlier incarnation whole, and none packed: the tracker holds none,
		// or this is the 4-tuple's first (every earlier one has a lower number).
		return nil
	}
	if cur.refusalCandidate(cur.RoleOf(s.Src), s) {
		return nil
	}
	if fit, known := cur.fits(s, ackSlack); !known || fit {
		return nil
	}
	t.unpackPrev(f)
	for p := t.prev(f); p != nil; p = p.older {
		if t.prevOver(p, at) {
			continue
		}
		if fit, known := p.fits(s, 0); known && fit {
			return p
		}
	}
	return nil
}

// acksNothing reports whether ack acknowledges nothing that h (the peer of the
// segment's sender) sent in this incarnation: below its ISN (below the lowest
// sequence number seen from it less ackSlack when its SYN was not captured), or
// beyond what it sent plus ackSlack. Unknown (nothing seen from h): false.
func acksNothing(h *Half, ack uint32) bool {
	if h.Packets == 0 || !h.SeqKnown {
		return false
	}
	lo := h.FirstSeq
	if h.SynCount == 0 {
		lo -= ackSlack
	}
	return SeqLess(ack, lo) || SeqLess(h.NextSeq+ackSlack, ack)
}

// outOfWindow reports a segment that acknowledges nothing of the incarnation:
// neither SYN nor RST (those have their own rules), with ACK set.
func (inc *Incarnation) outOfWindow(r Role, s *capture.Segment) bool {
	return s.Flags&(capture.SYN|capture.RST|capture.ACK) == capture.ACK && acksNothing(&inc.Half[r.Peer()], s.Ack)
}

// dropEarlier takes out of the flow's earlier incarnations those drop selects
// (depth: 1 for the newest), and calls out for each, unlinked, oldest first.
func (t *Tracker) dropEarlier(f *flow, drop func(depth int, m *Incarnation) bool, out func(*Incarnation)) {
	head := t.prev(f)
	var kept [maxEarlier + 1]*Incarnation
	var dropped [maxEarlier + 2]*Incarnation
	nk, nd := 0, 0
	depth := 0
	for m := head; m != nil; {
		nx := m.older
		depth++
		if drop(depth, m) || nk == len(kept) {
			m.older = nil
			if nd < len(dropped) {
				dropped[nd] = m
				nd++
			} else {
				out(m)
			}
		} else {
			kept[nk] = m
			nk++
		}
		m = nx
	}
	for i := 0; i+1 < nk; i++ {
		kept[i].older = kept[i+1]
	}
	if nk > 0 {
		kept[nk-1].older = nil
	}
	if nk == 0 || kept[0] != head {
		t.unhold(f.prev)
		f.prev = 0
		if nk > 0 {
			f.prev = t.hold(kept[0])
		}
	}
	for i := nd - 1; i >= 0; i-- {
		out(dropped[i])
	}
}

// earlierCount is how many earlier incarnations the flow holds, whole and packed.
func (t *Tracker) earlierCount(f *flow) int {
	n := t.packedPrev(f).len()
	for p := t.prev(f); p != nil; p = p.older {
		n++
	}
	return n
}

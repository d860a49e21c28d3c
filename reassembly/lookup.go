package reassembly

import "github.com/finack/finack/capture"

// lookup returns the flow of a segment's key k (hash h) at time at or, when there is
// none, the only flow of its 4-tuple on other tags (a candidate for a join; nil when
// there are none or several).
//
// A flow that is over at time at, one a sweep at that time would forget, is forgotten
// first (retire): what a segment finds then never depends on when the last sweep ran
// (a streaming tracker sweeps now and then, a batch tracker never). It matters where
// tags differ: a tag join lasts as long as its flow, so a segment on the joined tags
// after the flow is over starts a flow of its own in either kind of tracker, and a
// segment finds a flow to join only among flows not over.
//
// A bare SYN for a flow whose current incarnation is packed in TIME_WAIT may start
// the next incarnation there and then (reusePacked): inc is that incarnation.
func (t *Tracker) lookup(k *FlowKey, h uint64, s *capture.Segment, at Instant) (f, other *flow, inc *Incarnation) {
	f, other, others := t.flows.get(k, h)
	if f != nil {
		if f.packed != "" && s.Flags&(capture.SYN|capture.ACK) == capture.SYN {
			t.synOnPacked++
			if inc := t.reusePacked(f, s, at); inc != nil {
				return f, nil, inc
			}
		}
		if !t.wakeOver(f, at) {
			return f, nil, nil
		}
		t.retire(f, at)
		f, other, others = t.flows.get(k, h)
	}
	if others == 0 {
		return f, nil, nil
	}
	for {
		g := t.flows.firstOf(k, h, func(g *flow) bool { return t.wakeOver(g, at) })
		if g == nil {
			break
		}
		if t.retire(g, at); !g.gone {
			break // (a sweep judged it not over: overAt mirrors visit, so never)
		}
		_, other, others = t.flows.get(k, h)
	}
	if others != 1 {
		other = nil
	}
	return nil, other, nil
}

// wakeOver reports whether a flow is over at time at (overAt), made whole first as
// a segment for it makes it: a packed earlier incarnation's record tells when its
// window closes only when that is after its last segment (capture times may go
// backwards).
func (t *Tracker) wakeOver(f *flow, at Instant) bool {
	if f.packed != "" {
		if t.cfg.Done != nil {
			t.touch(f)
		}
		t.unpackFlow(f)
	}
	if c := t.cur(f); c != nil && at.Sub(c.Last.At) <= t.minWait {
		return false // on most segments: too soon for any wait to have run out
	}
	return at >= t.overAt(f)
}

// overAt is the time from which a sweep would forget a whole flow (visit), maxTime
// if nothing ends it by itself: its current incarnation over (closed
// and quiet past TIME_WAIT, or idle past the idle timeout), and every earlier one
// past its stale-segment window.
func (t *Tracker) overAt(f *flow) Instant {
	at := Instant(-1 << 63)
	if c := t.cur(f); c != nil {
		wait, _ := t.overAfter(c)
		if wait < 0 {
			return maxTime
		}
		at = satAdd(c.Last.At, wait+1)
	}
	for p := t.prev(f); p != nil; p = p.older {
		at = max(at, t.prevOverAt(p))
	}
	if l := t.packedPrev(f); l != nil {
		for i := range l.len() {
			at = max(at, l.sig[i].overAt)
		}
	}
	return at
}

// retire forgets a flow that is over at time at (wakeOver). A streaming tracker does
// what a sweep at that time would: it finishes the flow's incarnations, hands them
// out and forgets it. A batch tracker keeps the incarnations (Incarnations) and drops
// the flow from its table, keeping its count (retiredCounts).
func (t *Tracker) retire(f *flow, at Instant) {
	if t.cfg.Done != nil {
		var done []finished
		t.visit(f, at, &done)
		t.hand(done)
		return
	}
	if c := t.cur(f); c != nil {
		c.End, c.EndAt = t.endBy(c, at)
	}
	h := keyHash(&f.key)
	t.flows.remove(f, h)
	if t.retiredCounts == nil {
		t.retiredCounts = map[uint64]uint32{}
	}
	t.retiredCounts[countHash(&f.key, h)] = f.count
	t.unhold(f.cur)
	t.unhold(f.prev)
	f.cur, f.prev = 0, 0
	t.arena.freeFlow(f)
}

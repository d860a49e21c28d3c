package reassembly

import (
	"sort"
	"time"
)

// TrackerStats counts what a streaming tracker did with its incarnations.
type TrackerStats struct {
	Tracked  int    // incarnations held now
	Flows    int    // 4-tuples held now
	Finished uint64 // incarnations handed to Done
	Expired  uint64 // ... because their close and TIME_WAIT were over
	Idle     uint64 // ... because they were idle longer than IdleTimeout
	Evicted  uint64 // ... because MaxConnections was reached
	PeakHeld int    // the most incarnations held at once
}

// Stats returns what a streaming tracker holds and has finished.
func (t *Tracker) Stats() TrackerStats {
	st := t.stats
	st.Tracked, st.Flows = t.held, len(t.flows)
	return st
}

// Each calls fn for every incarnation the tracker holds now (in no fixed order):
// for a live view of a streaming tracker.
func (t *Tracker) Each(fn func(*Incarnation)) {
	for _, f := range t.flows {
		if f.prev != nil {
			fn(f.prev)
		}
		if f.cur != nil {
			fn(f.cur)
		}
	}
}

// TakeTouched returns the incarnations that received a segment since the last call
// (Config.Touched), appended to dst.
func (t *Tracker) TakeTouched(dst []*Incarnation) []*Incarnation {
	for _, inc := range t.touched {
		inc.touched = false
		dst = append(dst, inc)
	}
	t.touched = t.touched[:0]
	return dst
}

// Sweep finishes, at capture time now, every incarnation nothing can change any
// more: one replaced by a newer incarnation, once the window for its stale segments
// (its TIME_WAIT, or the TIME_WAIT length after the replacement) is over; one closed
// and quiet for the TIME_WAIT length (twice that while a FIN is unacknowledged: a
// passive closer backs off to a minute between retransmissions); one idle longer than
// IdleTimeout. A streaming tracker sweeps by itself every second of capture time;
// call Sweep on a timer when packets may stop coming (live capture).
func (t *Tracker) Sweep(now int64) {
	if t.cfg.Done == nil {
		return
	}
	var done []*Incarnation
	for k, f := range t.flows {
		if p := f.prev; p != nil && t.prevOver(p, now) {
			p.End, p.EndAt = EndReplaced, min(p.EndAt, now)
			done = append(done, p)
			f.prev = nil
			t.stats.Expired++
		}
		if c := f.cur; c != nil {
			switch reason := t.curOver(c, now); reason {
			case EndExpired, EndIdle:
				c.End, c.EndAt = reason, now
				done = append(done, c)
				if reason == EndIdle {
					t.stats.Idle++
				} else {
					t.stats.Expired++
				}
				f.cur = nil
			}
		}
		if f.cur == nil && f.prev == nil {
			t.forget(k, f)
		}
	}
	t.hand(done)
}

// prevOver: the stale-segment window of a replaced incarnation is over.
func (t *Tracker) prevOver(p *Incarnation, now int64) bool {
	if tw := p.TimeWait(t.twLen); tw.Held() {
		return now >= max(tw.Until, p.EndAt)
	}
	return now >= p.EndAt+t.twLen
}

// curOver says whether the current incarnation of a 4-tuple is over, and why.
func (t *Tracker) curOver(c *Incarnation, now int64) EndReason {
	quiet := now - c.Last.At
	if _, closed := c.closed(); closed {
		wait := t.twLen
		if (c.Half[Client].FinSeen() && !c.Half[Client].FinAcked.Seen()) || (c.Half[Server].FinSeen() && !c.Half[Server].FinAcked.Seen()) {
			wait *= 2
		}
		if quiet > wait {
			return EndExpired
		}
		return EndCaptureEnd
	}
	if t.cfg.IdleTimeout > 0 && quiet > int64(t.cfg.IdleTimeout) {
		return EndIdle
	}
	return EndCaptureEnd
}

// evict finishes the least recently active tenth of the incarnations held, to make
// room under MaxConnections.
func (t *Tracker) evict(now int64) {
	cands := make([]evictCand, 0, len(t.flows))
	for k, f := range t.flows {
		if f.cur == nil && f.prev == nil {
			continue // the entry of the incarnation being started
		}
		last := int64(0)
		for _, inc := range [2]*Incarnation{f.prev, f.cur} {
			if inc != nil {
				last = max(last, inc.Last.At)
			}
		}
		cands = append(cands, evictCand{last, k})
	}
	n := min(max(len(cands)/10, 1), len(cands))
	selectOldest(cands, n) // linear time: a full sort of a million flows stalls for seconds
	var done []*Incarnation
	for _, c := range cands[:n] {
		f := t.flows[c.k]
		for _, inc := range [2]*Incarnation{f.prev, f.cur} {
			if inc != nil {
				if inc.End == EndCaptureEnd {
					inc.End = EndEvicted
				}
				inc.EndAt = now
				done = append(done, inc)
				t.stats.Evicted++
			}
		}
		t.forget(c.k, f)
	}
	t.hand(done)
}

// forget drops a 4-tuple from the flow table, keeping its incarnation count when
// asked (Config.KeepCounts).
func (t *Tracker) forget(k FlowKey, f *flow) {
	delete(t.flows, k)
	if t.cfg.KeepCounts && f.count > 0 {
		if t.counts == nil {
			t.counts = make(map[uint64]uint32)
		}
		t.counts[keyHash(&k)] = uint32(min(f.count, 1<<32-1))
	}
}

// hand gives finished incarnations to Done in order of first frame (a sweep visits
// the flow table in random order; the order handed out must not depend on it), and
// cuts the link from a newer incarnation to a finished one so it can be freed.
func (t *Tracker) hand(done []*Incarnation) {
	sort.Slice(done, func(i, j int) bool { return done[i].First.Frame < done[j].First.Frame })
	for _, inc := range done {
		t.cfg.Done(inc)
		t.held--
		t.stats.Finished++
		if inc.next != nil && inc.next.Reuse != nil && inc.next.Reuse.Prev == inc {
			inc.next.Reuse.Prev = nil
		}
		inc.next = nil
		if inc.Reuse != nil {
			inc.Reuse.Prev = nil
		}
	}
}

// sweepEvery is how often (capture time) a streaming tracker looks for incarnations
// to finish: a quarter of the TIME_WAIT length or of the idle timeout, at most 5 s.
// An incarnation is finished at most that late, and a sweep visits every 4-tuple
// held, so sweeping more often costs more than it saves.
func (t *Tracker) sweepEvery() int64 {
	every := t.twLen / 4
	if t.cfg.IdleTimeout > 0 {
		every = min(every, int64(t.cfg.IdleTimeout)/4)
	}
	return min(max(every, 1), int64(5*time.Second))
}

// evictCand is a 4-tuple and when it last saw a packet.
type evictCand struct {
	last int64
	k    FlowKey
}

// older orders candidates by last activity, then by key: a total order, so the
// selection does not depend on the map's iteration order.
func (a evictCand) older(b evictCand) bool {
	if a.last != b.last {
		return a.last < b.last
	}
	return a.k.less(b.k)
}

// selectOldest moves the n oldest candidates to the front of c, in no particular
// order (Hoare's quickselect: linear time on average).
func selectOldest(c []evictCand, n int) {
	if n <= 0 || n >= len(c) {
		return
	}
	k := n - 1
	lo, hi := 0, len(c)-1
	for lo < hi {
		p := c[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for c[i].older(p) {
				i++
			}
			for p.older(c[j]) {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

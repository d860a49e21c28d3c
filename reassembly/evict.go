package reassembly

// evict finishes the least recently active tenth of the incarnations held, to make
// room under MaxConnections.
func (t *Tracker) evict(now Instant) {
	cands := t.evictCands()
	defer unmapSlice(t.arena, cands)
	n := min(max(len(cands)/10, 1), len(cands))
	selectOldest(cands, n)         // linear time: a full sort of a million flows stalls for seconds
	done := make([]finished, 0, n) // (one a flow, most often: sized once, not grown by append)
	for _, c := range cands[:n] {
		f := c.f
		t.unpackPrev(f)
		var earlier [maxEarlier]*Incarnation
		n := 0
		t.dropEarlier(f, func(int, *Incarnation) bool { return true }, func(p *Incarnation) {
			earlier[n] = p
			n++
		})
		for _, inc := range append(earlier[:n], t.cur(f)) {
			if inc != nil {
				// A replaced one ended when it was replaced (EndAt set then,
				// as a sweep leaves it).
				if inc.End == EndCaptureEnd {
					inc.End, inc.EndAt = EndEvicted, now
				}
				done = append(done, finishedWhole(inc))
				t.stats.Evicted++
			}
		}
		if f.packed != "" {
			done = append(done, packedEnd(f, EndEvicted, now))
			t.stats.Evicted++
		}
		t.forget(f)
	}
	t.hand(done)
}

// forget drops a 4-tuple from the flow table, keeping its incarnation count when
// asked (Config.KeepCounts), and gives the flow back to the arena: its incarnations
// were handed out or are about to be (the record moved to a finished entry).
// Until a new flow takes its slot the flow reads as gone, with its key and count:
// the hand-out that follows reads the key of a packed incarnation there, and start
// the count of its own 4-tuple evicted; no flow is made in between.
func (t *Tracker) forget(f *flow) {
	h := keyHash(&f.key)
	t.flows.remove(f, h)
	t.unhold(f.cur)
	t.unhold(f.prev)
	f.cur, f.prev, f.packed = 0, 0, ""
	t.arena.freeFlow(f)
	if t.cfg.KeepCounts && f.count > 0 {
		if t.counts.n >= t.countsGen {
			// The older generation is dropped, and its table emptied to be the
			// new one.
			t.stats.CountsDropped += uint64(t.countsOld.n)
			t.countsOld.empty()
			t.countsOld, t.counts = t.counts, t.countsOld
		}
		t.counts.put(t.arena, t.countsGen, countHash(&f.key, h), f.count)
	}
}

// countsGeneration is how many forgotten 4-tuples' counts one generation holds
// (Config.KeepCounts): two generations take at most 4 MiB (countTable), so that a
// capture of ten million connections needs no more memory than one of a million.
const countsGeneration = 1 << 16

// evictCand is a 4-tuple and when it last saw a packet.
type evictCand struct {
	last Instant
	f    *flow
}

// older orders candidates by last activity, then by key: a total order, so the
// selection does not depend on the map's iteration order.
func (a evictCand) older(b evictCand) bool {
	if a.last != b.last {
		return a.last < b.last
	}
	return a.f.key.less(b.f.key)
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

// evictBlock is how many flows evictCands reads ahead of deciding their last
// activity.
const evictBlock = 64

// evictCands returns every flow held with its last activity. Each flow, and the
// header of its packed record, is elsewhere in memory: read one after the other,
// each waits for the memory before the next is asked for, and a tracker at its cap
// holds hundreds of thousands. So the flows of a block are first only touched, in
// a loop that asks for each without waiting for any, then their records, and only
// then read: the memory's waits overlap.
//
// The list is in the arena (unmapSlice gives it back): in the collected heap, the
// collector would scan a pointer a flow, megabytes of them at each eviction.
func (t *Tracker) evictCands() []evictCand {
	if t.flows.n == 0 {
		return nil
	}
	cands := mapSlice[evictCand](t.arena, t.flows.n, false)[:0]
	var blk [evictBlock]*flow
	var touched uintptr
	// The flows in the order flowTable.each visits them: selectOldest's result,
	// and so the order in which the evicted 4-tuples' counts are kept (forget),
	// depends on it.
	t.flows.eachBlock(blk[:], func(blk []*flow) {
		for _, f := range blk {
			// (a flow spans two cache lines: packed is at its start, prevs at its end)
			touched += uintptr(len(f.packed)) + uintptr(f.prevs)
		}
		for _, f := range blk {
			if f.packed != "" {
				touched += uintptr(f.packed[0])
			}
			if c := t.cur(f); c != nil {
				touched += uintptr(c.Last.At)
			}
		}
		for _, f := range blk {
			if last, ok := t.lastActive(f); ok {
				cands = append(cands, evictCand{last, f})
			}
		}
	})
	t.evictTouched = touched // (kept, so that the loads that only touch are not dropped)
	return cands
}

// lastActive is when flow f last saw a packet: the latest of its incarnations',
// whole and packed; false for the entry of the incarnation being started, which
// has none yet.
func (t *Tracker) lastActive(f *flow) (Instant, bool) {
	last := Instant(-1 << 63)
	for p := t.prev(f); p != nil; p = p.older {
		last = max(last, p.Last.At)
	}
	if c := t.cur(f); c != nil {
		last = max(last, c.Last.At)
	}
	if f.packed != "" {
		last = max(last, header(f.packed).lastAt)
	}
	for _, rec := range t.packedPrev(f).records() {
		last = max(last, header(rec).lastAt)
	}
	return last, last != -1<<63
}

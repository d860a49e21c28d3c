package reassembly

// incRef names an incarnation a flow holds: an index in Tracker.incs (0: none). A
// flow is in the arena, where a pointer would not keep the incarnation alive.
type incRef uint32

// hold keeps inc in the table of incarnations flows hold and returns its index.
func (t *Tracker) hold(inc *Incarnation) incRef {
	if n := len(t.incsFree); n > 0 {
		r := t.incsFree[n-1]
		t.incsFree = t.incsFree[:n-1]
		t.incs[r] = inc
		return r
	}
	t.incs = append(t.incs, inc)
	return incRef(len(t.incs) - 1)
}

// unhold lets go of an index from hold (0: nothing).
func (t *Tracker) unhold(r incRef) {
	if r != 0 {
		t.incs[r] = nil
		t.incsFree = append(t.incsFree, r)
	}
}

// maxFree bounds the incarnations kept for reuse (about 1 KB each): a sweep may
// pack or hand out tens of thousands at once. After it the list is trimmed to
// keepFree (trimFree): between sweeps, packQuiet recycles the incarnations it packs
// every packEvery starts, so the starts need about that many, and memory kept
// beyond would be memory held for nothing. At each sweep, the ones not needed since
// the previous sweep are dropped too, but freeSlack (trimIdleFree): a host with a few
// hundred connections a second needs far fewer than keepFree, and each tracker
// (worker) has its own list.
const (
	maxFree   = 1 << 16
	keepFree  = 2 * packEvery
	freeSlack = 512
)

// newIncarnation returns an incarnation to fill: a reused one, or a new one. Its
// caller overwrites it whole.
func (t *Tracker) newIncarnation() *Incarnation {
	if n := len(t.free); n > 0 {
		inc := t.free[n-1]
		t.free[n-1] = nil
		t.free = t.free[:n-1]
		t.freeLow = min(t.freeLow, n-1)
		return inc
	}
	return new(Incarnation)
}

// zeroIncarnation returns a zeroed incarnation: a reused one cleared, or a new one.
// A new one is not cleared again: while the collector marks, clearing memory that
// holds pointers reads it first (a write barrier), and a fresh page read before it
// is written is faulted in twice, the second time with a TLB flush on every core.
func (t *Tracker) zeroIncarnation() *Incarnation {
	if len(t.free) == 0 {
		return new(Incarnation)
	}
	inc := t.newIncarnation()
	*inc = Incarnation{} // cleared in place: a literal with fields is built aside and copied, 1.2 KB twice
	return inc
}

// recycle keeps an incarnation nothing points to any more, for reuse, and the
// arrays of its FIN transmission lists and its Reuse.
func (t *Tracker) recycle(inc *Incarnation) {
	for r := range inc.Half {
		t.spares.fins.put(inc.Half[r].FinTxs)
		inc.Half[r].FinTxs = nil
	}
	if inc.Reuse != nil {
		t.spares.reuses.put(inc.Reuse)
		inc.Reuse = nil
	}
	if len(t.free) < maxFree {
		t.free = append(t.free, inc)
	}
}

// trimFree drops the incarnations free for reuse beyond keepFree, and the FIN
// lists beyond two each.
func (t *Tracker) trimFree() {
	if len(t.free) > keepFree {
		clear(t.free[keepFree:])
		t.free = t.free[:keepFree]
	}
	if f := &t.spares.fins; len(*f) > 2*keepFree {
		clear((*f)[2*keepFree:])
		*f = (*f)[:2*keepFree]
	}
	if r := &t.spares.reuses; len(*r) > keepFree {
		clear((*r)[keepFree:])
		*r = (*r)[:keepFree]
	}
}

// trimIdleFree drops, from the bottom of the free list (the coldest), the
// incarnations no start or unpacking needed since the last sweep, but freeSlack, then
// trims to keepFree; the next interval's low-water mark starts from what is left.
func (t *Tracker) trimIdleFree() {
	if idle := min(t.freeLow, len(t.free)) - freeSlack; idle > 0 {
		n := copy(t.free, t.free[idle:])
		clear(t.free[n:])
		t.free = t.free[:n]
	}
	t.trimFree()
	t.freeLow = len(t.free)
}

// spares are what recycled incarnations leave for the next ones: the arrays of
// their FIN lists and their Reuse (a reused 4-tuple's incarnation has one, made
// anew at each unpacking otherwise).
type spares struct {
	fins   finPool
	reuses reusePool
}

// takeFins returns an empty FIN list from s (nil when s is nil or has none).
func (s *spares) takeFins() []FinTx {
	if s == nil {
		return nil
	}
	return s.fins.take()
}

// takeReuse returns a Reuse from s to overwrite whole (new when s is nil or has none).
func (s *spares) takeReuse() *Reuse {
	if s == nil {
		return new(Reuse)
	}
	return s.reuses.take()
}

// reusePool keeps the Reuse of recycled incarnations.
type reusePool []*Reuse

// take returns a Reuse to overwrite whole: a kept one, or a new one.
func (p *reusePool) take() *Reuse {
	if len(*p) == 0 {
		return new(Reuse)
	}
	n := len(*p) - 1
	r := (*p)[n]
	(*p)[n] = nil
	*p = (*p)[:n]
	return r
}

// put keeps r, its link to the previous incarnation cut, unless keepFree are kept
// (incarnations freed in a burst outnumber the reused ones among those unpacked
// next).
func (p *reusePool) put(r *Reuse) {
	if len(*p) < keepFree {
		r.Prev = nil
		*p = append(*p, r)
	}
}

// finPool keeps the arrays behind the FIN transmission lists of recycled
// incarnations for the next ones: nearly every connection has two FIN lists, which
// would otherwise be allocated for each (and again for each unpacking).
type finPool [][]FinTx

// take returns an empty list, with room when one was kept (nil on a nil pool).
func (p *finPool) take() []FinTx {
	if p == nil || len(*p) == 0 {
		return nil
	}
	n := len(*p) - 1
	l := (*p)[n]
	(*p)[n] = nil
	*p = (*p)[:n]
	return l
}

// put keeps l's array (FinTx holds no pointers: nothing to clear).
func (p *finPool) put(l []FinTx) {
	if cap(l) > 0 && len(*p) < 2*maxFree {
		*p = append(*p, l[:0])
	}
}

// keepScratch is a scratch list to use again at the next sweep, emptied: a sweep's
// lists are as long as the incarnations it finishes, and made anew each time they
// would be most of what a large capture allocates.
// One left much longer than its last use is let go (a burst's).
func keepScratch[T any](s []T) []T {
	if cap(s) > 1<<16 && cap(s) > 8*len(s) {
		return nil
	}
	clear(s)
	return s[:0]
}

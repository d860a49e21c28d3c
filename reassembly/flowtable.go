package reassembly

import (
	"math/bits"
	"time"
)

// The flow table and the sweep schedule.
//
// The table maps a 4-tuple's 64-bit hash (keyHash) to its flow, which holds its key:
// it hashes and compares 8 bytes instead of a 56-byte key, and stores 16 bytes a
// slot instead of 64. The hash leaves the tags out (keyHash): the flows of one
// 4-tuple on several tag sets share it. Two 4-tuples with the same hash (about 3e-6 for ten million of
// them, or a crafted capture) take a slot each, like any two whose home slot is the
// same: a lookup compares the key of every flow of its hash on its way, so a
// collision costs a comparison, never a wrong connection.
//
// It is an open-addressing table with linear probing, in memory mapped outside the
// collected heap (arena.mapRegion) like the flows it points to: a Go map of the same
// flows costs more an entry, and the collector lets the heap grow by half of that
// again; this one takes 16 bytes a slot, 21 to 32 bytes an entry (it grows by half
// when three quarters full, where doubling would leave it three eighths full at the
// worst), and nothing more (a small one is on the heap). Removal shifts
// the entries after it back (no tombstones), so a table that held a million flows
// once probes as short as one that holds a few.
//
// A sweep (stream.go) must look at every flow whose incarnations may be over, or may
// be packed, at its time; visiting every flow held each time made sweeps cost the
// flows held times the sweeps, which grows with the square of the connection rate
// (flood sweeps come every floodSweep SYNs). Instead a sweep visits:
//   - the flows that received a segment since the last sweep (Tracker.touchedFlows),
//   - the flows whose earliest possible change is due (Tracker.due, a heap of
//     (time, flow); computed when the flow was last visited: its previous
//     incarnation's stale-segment window closing, its current one expiring, becoming
//     quiet enough to pack, its packed record expiring),
//   - the flows that were quiet enough to pack and could not be packed yet
//     (Tracker.again: fewer than packAbove incarnations held, or a link to the
//     previous incarnation still to be cut).
//
// Nothing else can change a flow between two of its visits (a segment makes it
// touched), so a sweep acts on exactly the flows that visiting them all would.

// flowTable is the set of flows of a tracker, by key.
type flowTable struct {
	mem   *arena
	slots []flowSlot // in memory from mapSlice (nil: none yet)
	n     int        // flows, one a slot
}

// flowSlot: flow f, whose key has hash h; f nil: empty.
type flowSlot struct {
	h uint64
	f *flow
}

const flowTableMin = 64 // slots of a new table (1 KB)

func newFlowTable(mem *arena) flowTable { return flowTable{mem: mem} }

// home is h's first slot: h scaled to the table's size (the high word of h times
// the size: tables need not be powers of two). keyHash is well mixed, but Shard deals
// 4-tuples out by it: multiplying first spreads each worker's share over all the
// slots.
func (ft *flowTable) home(h uint64) int { return homeSlot(h, len(ft.slots)) }

// after is the slot after i, cyclically.
func (ft *flowTable) after(i int) int { return nextSlot(i, len(ft.slots)) }

// homeSlot is the first slot of hash h in a table of n slots (flowTable.home).
func homeSlot(h uint64, n int) int {
	hi, _ := bits.Mul64(h*0x9e3779b97f4a7c15, uint64(n))
	return int(hi)
}

// nextSlot is the slot after i in a table of n, cyclically.
func nextSlot(i, n int) int {
	if i++; i == n {
		return 0
	}
	return i
}

// free returns the first empty slot from h's home on: where a flow of hash h goes.
func (ft *flowTable) free(h uint64) int {
	i := ft.home(h)
	for ft.slots[i].f != nil {
		i = ft.after(i)
	}
	return i
}

// get returns the flow of a segment's key k, whose hash is h, or nil. The flow is
// k's own, or the one segments of k's tags were joined to (FlowKey.PeerEnd): there is
// at most one, since a join takes a tag set no flow of the 4-tuple has, and every
// segment of that tag set goes to the joined flow until it is forgotten. When there
// is none, other is a flow of k's 4-tuple on other tags and others how many there
// are (a candidate for a join when it is the only one).
func (ft *flowTable) get(k *FlowKey, h uint64) (f, other *flow, others int) {
	if ft.slots == nil {
		return nil, nil, 0
	}
	for i := ft.home(h); ft.slots[i].f != nil; i = ft.after(i) {
		s := &ft.slots[i]
		if s.h != h || !s.f.key.sameTuple(k) {
			continue
		}
		fk := &s.f.key
		if fk.VLAN == k.VLAN || fk.PeerEnd != 0 && fk.PeerVLAN == k.VLAN {
			return s.f, nil, 0
		}
		if others++; others == 1 {
			other = s.f
		}
	}
	return nil, other, others
}

// firstOf returns the first flow of k's 4-tuple (hash h) for which pick is true, or
// nil.
func (ft *flowTable) firstOf(k *FlowKey, h uint64, pick func(*flow) bool) *flow {
	if ft.slots == nil {
		return nil
	}
	for i := ft.home(h); ft.slots[i].f != nil; i = ft.after(i) {
		s := &ft.slots[i]
		if s.h == h && s.f.key.sameTuple(k) && pick(s.f) {
			return s.f
		}
	}
	return nil
}

// put adds a flow whose key is not in the table; h is the hash of its key.
func (ft *flowTable) put(f *flow, h uint64) {
	if 4*(ft.n+1) > 3*len(ft.slots) {
		ft.grow()
	}
	ft.slots[ft.free(h)] = flowSlot{h, f}
	ft.n++
}

// grow makes the table half as large again (or makes the first one) and puts the
// slots back.
func (ft *flowTable) grow() {
	old := ft.slots
	ft.slots = mapSlice[flowSlot](ft.mem, max(flowTableMin, len(old)+len(old)/2), true)
	for _, s := range old {
		if s.f != nil {
			ft.slots[ft.free(s.h)] = s
		}
	}
	unmapSlice(ft.mem, old)
}

// remove takes a flow out of the table; h is the hash of its key.
func (ft *flowTable) remove(f *flow, h uint64) {
	i := ft.home(h)
	for ft.slots[i].f != f {
		i = ft.after(i)
	}
	ft.n--
	ft.shiftBack(i)
}

// shiftBack empties slot i, moving back the entries after it that may not stay
// where they are (their home is not after the hole, cyclically), so that every
// entry stays reachable from its home without tombstones.
func (ft *flowTable) shiftBack(i int) {
	for j := ft.after(i); ft.slots[j].f != nil; j = ft.after(j) {
		if homeBetween(i, ft.home(ft.slots[j].h), j) {
			continue // it stays
		}
		ft.slots[i] = ft.slots[j]
		i = j
	}
	ft.slots[i] = flowSlot{}
}

// homeBetween reports whether home k is in (i, j], cyclically: an entry at j whose
// home is there stays when slot i is emptied (backward-shift removal).
func homeBetween(i, k, j int) bool {
	return (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j))
}

// each calls fn for every flow, in no fixed order; fn may remove the flow it is given
// (nothing else). It starts after an empty slot (gap), so that an entry shifted back
// by a removal comes from later in the same run of slots: it is visited next, never
// twice.
func (ft *flowTable) each(fn func(*flow)) {
	if ft.n == 0 {
		return
	}
	start := ft.gap()
	for k := 1; k <= len(ft.slots); k++ {
		i := (start + k) % len(ft.slots)
		for ft.slots[i].f != nil {
			f := ft.slots[i].f
			fn(f)
			if ft.slots[i].f == f {
				break
			}
			// f was removed and another entry shifted back here.
		}
	}
}

// eachBlock calls fn with every flow, in each's order, up to len(blk) at a time in
// blk, for a caller that removes none: one that reads the flows of a block ahead
// of using them (evictCands).
func (ft *flowTable) eachBlock(blk []*flow, fn func([]*flow)) {
	if ft.n == 0 {
		return
	}
	for i, left := ft.gap(), len(ft.slots); left > 0; {
		n := 0
		for ; n < len(blk) && left > 0; left-- {
			if i++; i == len(ft.slots) {
				i = 0
			}
			if f := ft.slots[i].f; f != nil {
				blk[n] = f
				n++
			}
		}
		fn(blk[:n])
	}
}

// gap is the first empty slot of a table that has flows (it always has an empty
// slot: it grows before it is full).
func (ft *flowTable) gap() int {
	i := 0
	for ft.slots[i].f != nil {
		i++
	}
	return i
}

// release gives the table's memory back; the table is empty after it.
func (ft *flowTable) release() {
	unmapSlice(ft.mem, ft.slots)
	ft.slots, ft.n = nil, 0
}

// dueEntry: visit f at the first sweep at or after due, if f.due is still due (a
// flow whose schedule moved earlier leaves its older entry behind: stale, skipped).
type dueEntry struct {
	due Instant
	f   *flow
}

// dueHeap is a binary min-heap of entries by time. Its entries are 16 bytes in one
// array: sifting never touches the flows. A tracker's schedule is in memory from its
// arena (mem), like the flows it points to: it holds an entry or two per flow held,
// and on the collected heap it cost that again in the collector's headroom and in
// the arrays append left behind as it grew.
type dueHeap struct {
	a   []dueEntry
	mem *arena
}

// dueMin is the entries of a new schedule (4 KB).
const dueMin = 256

func (h *dueHeap) len() int { return len(h.a) }

// next is the earliest entry; the heap must not be empty.
func (h *dueHeap) next() dueEntry { return h.a[0] }

func (h *dueHeap) push(e dueEntry) {
	if len(h.a) == cap(h.a) {
		h.resize(max(dueMin, 2*cap(h.a)))
	}
	h.a = append(h.a, e)
	a := h.a
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].due <= a[i].due {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *dueHeap) pop() dueEntry {
	a := h.a
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = dueEntry{}
	a = a[:last]
	h.a = a
	down(a, 0)
	return top
}

// resize moves the entries to an array of n (at least len) entries.
func (h *dueHeap) resize(n int) {
	old := h.a
	h.a = append(mapSlice[dueEntry](h.mem, n, false)[:0], old...) // (filled by append: written first)
	unmapSlice(h.mem, old)
}

// release gives the schedule's memory back; it is empty after it.
func (h *dueHeap) release() {
	unmapSlice(h.mem, h.a)
	h.a = nil
}

func down(a []dueEntry, i int) {
	for {
		l := 2*i + 1
		if l >= len(a) {
			return
		}
		m := l
		if r := l + 1; r < len(a) && a[r].due < a[l].due {
			m = r
		}
		if a[i].due <= a[m].due {
			return
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
}

// current reports whether the entry is its flow's schedule.
func (e dueEntry) current() bool { return !e.f.gone && e.f.dueSet && e.f.due == e.due }

// compact drops the stale entries, when they have come to outnumber the others: a
// flow forgotten (evicted) before its time keeps no memory alive for long. An array
// left mostly empty is moved to a smaller one (after a burst of
// connections, the schedule shrinks with them): it keeps room for as many again.
func (h *dueHeap) compact() {
	a := h.a
	n := 0
	for _, e := range a {
		if e.current() {
			a[n] = e
			n++
		}
	}
	clear(a[n:])
	a = a[:n]
	for i := n/2 - 1; i >= 0; i-- {
		down(a, i)
	}
	h.a = a
	if c := cap(a); c > dueMin && n < c/4 {
		h.resize(max(dueMin, 2*n))
	}
}

// satAdd is a + d (d >= 0) without wrapping past the largest time.
func satAdd(a Instant, d time.Duration) Instant {
	if a > maxTime-Instant(d) {
		return maxTime
	}
	return a.Add(d)
}

const maxTime = Instant(1<<63 - 1)

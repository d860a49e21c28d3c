package reassembly

import (
	"math/bits"
)

// countTable holds the incarnation counts of forgotten 4-tuples (Config.KeepCounts),
// by the hash of their key, for one generation (Tracker.counts): at most gen entries,
// in a table that doubles when half full, up to the first power of two at least twice
// gen (so probes stay short). It is an open-addressing table with linear probing and
// backward-shift removal like the flow table, in memory from the tracker's arena: 16
// bytes a slot, 32 to 64 an entry, kept from one generation to the next. A Go map of
// the same entries would grow anew at each generation, and the collector would let
// the heap grow by half of it again.
type countTable struct {
	slots []countSlot // nil until the first put
	n     int
}

// countSlot: count n for hash h; n 0: empty (a forgotten 4-tuple had at least one
// incarnation).
type countSlot struct {
	h uint64
	n uint32
}

// home is h's first slot, as in the flow table.
func (ct *countTable) home(h uint64) int { return homeSlot(h, len(ct.slots)) }

// find returns the slot of h, or the empty slot where it would go.
func (ct *countTable) find(h uint64) int {
	i := ct.home(h)
	for ct.slots[i].n != 0 && ct.slots[i].h != h {
		i = nextSlot(i, len(ct.slots))
	}
	return i
}

// put sets h's count to n (n > 0); the table must hold fewer than gen entries or h.
func (ct *countTable) put(mem *arena, gen int, h uint64, n uint32) {
	if full := 1 << bits.Len(uint(max(2*gen, countTableMin)-1)); 2*(ct.n+1) > len(ct.slots) && len(ct.slots) < full {
		ct.grow(mem, min(max(2*len(ct.slots), countTableMin), full))
	}
	s := &ct.slots[ct.find(h)]
	if s.n == 0 {
		s.h = h
		ct.n++
	}
	s.n = n
}

// countTableMin is the slots of a new table (16 KB).
const countTableMin = 1024

// grow moves the entries to a table of size slots.
func (ct *countTable) grow(mem *arena, size int) {
	old := ct.slots
	ct.slots = mapSlice[countSlot](mem, size, true)
	for _, s := range old {
		if s.n != 0 {
			ct.slots[ct.find(s.h)] = s
		}
	}
	unmapSlice(mem, old)
}

// take returns h's count and removes it; ok false: none.
func (ct *countTable) take(h uint64) (n uint32, ok bool) {
	if ct.n == 0 {
		return 0, false
	}
	i := ct.find(h)
	if n = ct.slots[i].n; n == 0 {
		return 0, false
	}
	ct.n--
	// Backward shift (see flowTable.shiftBack): no tombstones.
	for j := nextSlot(i, len(ct.slots)); ct.slots[j].n != 0; j = nextSlot(j, len(ct.slots)) {
		if homeBetween(i, ct.home(ct.slots[j].h), j) {
			continue // it stays
		}
		ct.slots[i] = ct.slots[j]
		i = j
	}
	ct.slots[i] = countSlot{}
	return n, true
}

// empty drops every entry, keeping the memory.
func (ct *countTable) empty() {
	clear(ct.slots)
	ct.n = 0
}

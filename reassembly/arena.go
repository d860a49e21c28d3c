package reassembly

import (
	"runtime"
	"unsafe"
)

// arena holds what a streaming tracker keeps per 4-tuple, its flows, their packed
// records and the lists of a reused 4-tuple's packed earlier incarnations, outside
// the collected heap, in chunks mapped from the system (mapChunk).
//
// Why: most of what a busy capture holds at once is flows of incarnations packed in
// TIME_WAIT (it lasts a minute). On the Go heap each flow and record cost its size
// rounded up to a size class, and the collector lets the heap grow by GOGC percent of
// everything live before it collects: about 1.5 times their bytes at the GOGC of 50
// finack runs a large heap with. Here a record costs its length rounded up to 8
// bytes and a flow its size, and nothing more, and the collector neither marks nor
// counts them: their lifetimes are known exactly (a record is freed when it is
// unpacked or handed out, a flow when its 4-tuple is forgotten).
//
// Nothing in the arena points into the Go heap but into the arena's own memory (a
// pointer there would not keep its target alive): a flow names its incarnations by
// index (incRef), and its record, like the records of a list of earlier
// incarnations, is in the arena.
//
// A small tracker should not pay for system calls and whole mappings: the first
// chunks (4, 16, 64 and 256 KB) and small regions are plain byte slices on the heap,
// which the arena keeps alive (smallMemory); only past them is memory mapped.
//
// Slots are carved from the newest chunk and, once freed, kept for the next
// allocation of the same size class (a multiple of arenaGrain), flows apart from
// records: a capture's mix of sizes changes slowly, so freed slots are soon taken
// again. Records longer than arenaMax get their own memory (memory: mapped unless
// small). Chunks are given back to the system only when the tracker finishes
// (release) or is collected.
//
// A record is a string whose bytes are in the arena: a string made with alloc must
// be given to free exactly once, and never read after it (the slot is reused; tests
// poison freed records, testHooks.poisonFreed, so that a read after free cannot pass unseen).
// A freed flow reads as gone until its slot is taken again (see freeFlow).
type arena struct {
	poison bool     // testHooks.poisonFreed
	chunks [][]byte // every chunk mapped, for release
	tail   []byte   // the unused end of the newest chunk
	// freed: the freed slots of each size class (class c holds c*arenaGrain bytes),
	// in the arena's chunks; nil until a slot is freed (6 KB: a tracker of a small
	// capture, one of thousands with --separate, may free none).
	freed *[arenaMax/arenaGrain + 1][]*byte
	// freedFlows: the freed flows, never given to a record: a stale reference to a
	// freed flow may still write its flags (freeFlow).
	freedFlows []*flow
	// freedPrevLists: the freed lists of packed earlier incarnations, kept for
	// lists only, as flows are.
	freedPrevLists []*prevList
	big            map[*byte][]byte // records longer than arenaMax and regions, each in its own mapping
	used           int              // bytes of the slots in use (tests)
}

const (
	arenaGrain = 8
	// arenaMax: a longer record (hundreds of FIN retransmissions or stale
	// segments) is mapped alone: rare, and it would waste a chunk's tail.
	arenaMax   = 2048
	arenaChunk = 1 << 20
	// smallMemory: chunks and regions below this size are on the heap.
	smallMemory = 256 << 10
	flowClass   = (unsafe.Sizeof(flow{}) + arenaGrain - 1) / arenaGrain
	prevClass   = (unsafe.Sizeof(prevList{}) + arenaGrain - 1) / arenaGrain
)

// newArena returns an arena whose chunks are given back when owner is collected, if
// release was not called before.
func newArena(owner *Tracker) *arena {
	a := &arena{poison: owner.hooks.poisonFreed}
	runtime.AddCleanup(owner, (*arena).release, a)
	return a
}

// slot returns the memory of a slot of class c (c*arenaGrain bytes, 8-aligned).
func (a *arena) slot(c int) *byte {
	if a.freed == nil {
		return a.carve(c)
	}
	if fl := a.freed[c]; len(fl) > 0 {
		p := fl[len(fl)-1]
		a.freed[c] = fl[:len(fl)-1]
		a.used += c * arenaGrain
		return p
	}
	return a.carve(c)
}

// carve returns a new slot of class c from the newest chunk.
func (a *arena) carve(c int) *byte {
	size := c * arenaGrain
	if len(a.tail) < size {
		n := arenaChunk
		if len(a.chunks) < 4 {
			n = 4 << 10 << (2 * len(a.chunks)) // 4 KB, 16 KB, 64 KB, 256 KB
		}
		a.tail = memory(n, true) // (written in: see memory)
		a.chunks = append(a.chunks, a.tail)
	}
	p := &a.tail[0]
	a.tail = a.tail[size:]
	a.used += size
	return p
}

// unslot frees a slot of class c.
func (a *arena) unslot(p *byte, c int) {
	if a.freed == nil {
		a.freed = new([arenaMax/arenaGrain + 1][]*byte)
	}
	a.freed[c] = append(a.freed[c], p)
	a.used -= c * arenaGrain
}

// alloc returns a copy of b (not empty) as a record.
func (a *arena) alloc(b []byte) string {
	n := len(b)
	var p *byte
	if n > arenaMax {
		m := a.mapRegion(n, false)
		p = &m[0]
		a.used += len(m)
	} else {
		p = a.slot((n + arenaGrain - 1) / arenaGrain)
	}
	copy(unsafe.Slice(p, n), b)
	return unsafe.String(p, n)
}

// mapRegion maps n zeroed bytes (a long record, or the array behind a table: see
// mapSlice), given back by unmapRegion or release; writeIn as memory's.
func (a *arena) mapRegion(n int, writeIn bool) []byte {
	m := memory(n, writeIn)
	if a.big == nil {
		a.big = make(map[*byte][]byte)
	}
	a.big[&m[0]] = m
	return m
}

// memory returns n zeroed bytes: from the heap when small, else mapped.
//
// writeIn: its pages are written in now, all of them (mapChunk's populate; the
// heap's cleared once: fresh from the system they are untouched). A page whose
// first touch is a read maps the shared zero page, and the write that follows
// copies it and flushes the page from the TLB of every core that runs the
// process, an interrupt to each. The hash tables need it (probed as they grow, they
// read before they write), and so do the arena's chunks: their slots are written
// before they are read, yet the first writes of flows and records meet many of a
// chunk's pages already mapped to the zero page (read by something other than
// finack, not found: perf shows the copies, not the reads) and pay for each. An
// array filled by append comes in a page at a time as it is written.
func memory(n int, writeIn bool) []byte {
	if n <= smallMemory {
		b := make([]byte, n)
		if writeIn {
			clear(b)
		}
		return b
	}
	return mapChunk(n, writeIn)
}

// unmapRegion gives back a region from mapRegion.
func (a *arena) unmapRegion(m []byte) {
	delete(a.big, &m[0])
	unmapChunk(m)
}

// mapSlice returns n zeroed elements in a region of a's (the tracker's tables: flow
// table, sweep schedule, counts), given back by unmapSlice or a's release; writeIn
// as memory's (the hash tables). T must need no more than 8-byte alignment and,
// like everything in the arena, point nowhere but into the arena.
func mapSlice[T any](a *arena, n int, writeIn bool) []T {
	m := a.mapRegion(n*int(unsafe.Sizeof(*new(T))), writeIn)
	return unsafe.Slice((*T)(unsafe.Pointer(&m[0])), n)
}

// unmapSlice gives back the region behind s, from mapSlice (its whole capacity;
// nothing if it has none).
func unmapSlice[T any](a *arena, s []T) {
	if cap(s) > 0 {
		a.unmapRegion(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), cap(s)*int(unsafe.Sizeof(*new(T)))))
	}
}

// free takes back a record made by alloc.
func (a *arena) free(s string) {
	n := len(s)
	if n == 0 {
		return
	}
	p := unsafe.StringData(s)
	if a.poison {
		b := unsafe.Slice(p, n)
		for i := range b {
			b[i] = 0xff // an unterminated varint: unpack panics
		}
	}
	if n > arenaMax {
		m := a.big[p]
		a.used -= len(m)
		a.unmapRegion(m)
		return
	}
	a.unslot(p, (n+arenaGrain-1)/arenaGrain)
}

// newFlow returns a zeroed flow in the arena.
func (a *arena) newFlow() *flow {
	var f *flow
	if n := len(a.freedFlows); n > 0 {
		f = a.freedFlows[n-1]
		a.freedFlows = a.freedFlows[:n-1]
		a.used += int(flowClass) * arenaGrain
	} else {
		f = (*flow)(unsafe.Pointer(a.carve(int(flowClass))))
	}
	*f = flow{}
	return f
}

// freeFlow takes back a flow its tracker forgot, which holds no incarnation nor
// record any more. Until the slot is taken again (newFlow) the flow reads as gone,
// its other fields as they were (Tracker.forget). Stale references to it may remain
// (an entry of the sweep schedule, the lists of flows touched or to visit again):
// until the slot is taken again they find it gone, after that they find another
// flow, which they visit or look at once more than needed. That is harmless: a visit
// or a packing pass changes nothing a flow's report shows by coming more often
// (TestSweepScheduleMissesNothing visits every flow at every sweep), and each looks
// at the flow's own state, not at what the reference remembered of it. A sweep
// clears the flags of the flows its lists name (touched, again, dueSet), so a freed
// flow's slot goes only to another flow, never to a record.
func (a *arena) freeFlow(f *flow) {
	f.gone = true
	a.freedFlows = append(a.freedFlows, f)
	a.used -= int(flowClass) * arenaGrain
}

// newPrevList returns an empty list for a flow's packed earlier incarnations
// (packPrev). Its records are the arena's, and it is written before it is read: on
// the collected heap a new list's page can already be mapped to the shared zero
// page (read before, not by finack), and its first write then faults it in a second
// time, with a TLB flush on every core.
func (a *arena) newPrevList() *prevList {
	var l *prevList
	if n := len(a.freedPrevLists); n > 0 {
		l = a.freedPrevLists[n-1]
		a.freedPrevLists = a.freedPrevLists[:n-1]
		a.used += int(prevClass) * arenaGrain
	} else {
		l = (*prevList)(unsafe.Pointer(a.carve(int(prevClass))))
	}
	*l = prevList{}
	return l
}

// freePrevList takes back a list no flow holds any more, emptied: a list is given
// only to another list, as a flow is (freeFlow).
func (a *arena) freePrevList(l *prevList) {
	*l = prevList{}
	a.freedPrevLists = append(a.freedPrevLists, l)
	a.used -= int(prevClass) * arenaGrain
}

// release gives every chunk back to the system. Nothing of the arena may be read
// after it; the arena may be used again.
func (a *arena) release() {
	for _, c := range a.chunks {
		unmapChunk(c)
	}
	for _, m := range a.big {
		unmapChunk(m)
	}
	clear(a.chunks)
	a.chunks, a.tail, a.big = a.chunks[:0], nil, nil
	a.freed, a.freedFlows, a.freedPrevLists = nil, nil, nil
	a.used = 0
}

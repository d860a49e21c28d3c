package reassembly

import (
	"runtime"
	"unsafe"
)

// recordArena holds the packed records of a streaming tracker outside the collected
// heap, in chunks mapped from the system (mapChunk).
//
// Why: most incarnations a busy capture holds at once are packed records (TIME_WAIT
// lasts a minute). On the Go heap each record cost its size rounded up to a size
// class, and the collector lets the heap grow by GOGC percent of everything live
// before it collects: about 1.5 times the record's bytes at finack's GOGC of 50, and
// more between the peaks of the collector's cycle. Here a record costs its length
// rounded up to 8 bytes, and nothing more: records hold no pointers, their lifetime
// is known exactly (a record is freed when it is unpacked or handed out), and the
// collector has nothing to do with them.
//
// Slots are carved from the newest chunk and, once freed, kept for the next record
// of the same size class (a multiple of arenaGrain): a capture's mix of record sizes
// changes slowly, so freed slots are soon taken again. Chunks are given back to the
// system only when the tracker finishes (release) or is collected.
//
// A record is a string whose bytes are in a chunk: a string made with alloc must be
// given to free exactly once, and never read after it (the slot is reused; tests
// poison freed slots, poisonFreed, so that a read after free cannot pass unseen).
type recordArena struct {
	chunks [][]byte // every chunk mapped, for release
	tail   []byte   // the unused end of the newest chunk
	// freed: the freed slots of each size class (class c holds records of
	// (c-1)*arenaGrain+1 to c*arenaGrain bytes). Pointers to memory outside the
	// heap, which the collector ignores.
	freed [arenaMax/arenaGrain + 1][]*byte
	used  int // bytes of the slots holding records (tests)
}

const (
	arenaGrain = 8
	// arenaMax: a longer record (hundreds of FIN retransmissions or stale segments)
	// goes on the Go heap, as a plain string: rare, and it would waste a chunk's
	// tail.
	arenaMax   = 2048
	arenaChunk = 1 << 20
)

// poisonFreed (tests): overwrite a freed slot, so that a record read after free
// fails to unpack or differs.
var poisonFreed bool

// newRecordArena returns an arena whose chunks are given back when owner is
// collected, if release was not called before.
func newRecordArena(owner *Tracker) *recordArena {
	a := new(recordArena)
	runtime.AddCleanup(owner, (*recordArena).release, a)
	return a
}

// alloc returns a copy of b (not empty) as a record.
func (a *recordArena) alloc(b []byte) string {
	n := len(b)
	if n > arenaMax {
		return string(b)
	}
	c := (n + arenaGrain - 1) / arenaGrain
	var p *byte
	if fl := a.freed[c]; len(fl) > 0 {
		p = fl[len(fl)-1]
		a.freed[c] = fl[:len(fl)-1]
	} else {
		size := c * arenaGrain
		if len(a.tail) < size {
			a.tail = mapChunk(arenaChunk)
			a.chunks = append(a.chunks, a.tail)
		}
		p = &a.tail[0]
		a.tail = a.tail[size:]
	}
	copy(unsafe.Slice(p, n), b)
	a.used += c * arenaGrain
	return unsafe.String(p, n)
}

// free takes back a record made by alloc.
func (a *recordArena) free(s string) {
	n := len(s)
	if n == 0 || n > arenaMax {
		return
	}
	c := (n + arenaGrain - 1) / arenaGrain
	p := unsafe.StringData(s)
	if poisonFreed {
		b := unsafe.Slice(p, n)
		for i := range b {
			b[i] = 0xff // an unterminated varint: unpack panics
		}
	}
	a.freed[c] = append(a.freed[c], p)
	a.used -= c * arenaGrain
}

// release gives every chunk back to the system. No record of the arena may be read
// after it; the arena may be used again.
func (a *recordArena) release() {
	for _, c := range a.chunks {
		unmapChunk(c)
	}
	clear(a.chunks)
	a.chunks, a.tail = a.chunks[:0], nil
	for i := range a.freed {
		a.freed[i] = nil
	}
	a.used = 0
}

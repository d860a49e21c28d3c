package analyzer

import (
	"time"
	"unsafe"
)

// arena holds the variable parts of the records and findings a Stream makes: their
// strings, frame lists, counts and durations. Each had an allocation of its own (a
// string, a slice, a pointer for an optional number), about five per finding and one
// per incarnation: small objects, many, most of the garbage of an analysis. They go
// into slabs instead, one allocation for many.
//
// What the arena hands out is never written again, except after reset: a Stream that
// spills encodes each record before the next Add, which resets its arena (the slabs
// are then reused, without an allocation); any other Stream keeps what it made until
// the Report, and only gives back, with release, what it made for an incarnation of
// which it kept nothing.
type arena struct {
	bytes slab[byte]
	u64s  slab[uint64]
	f64s  slab[float64]
	fins  slab[finAcks]
	strs  slab[string]
	vlans slab[uint16]
}

// arenaMark is where each slab of an arena was: release goes back to it.
type arenaMark [6]int

// slab is a run of memory the arena hands out in pieces. A piece that does not fit
// in buf gets a new buf (the pieces handed out keep the old one alive).
type slab[T any] struct{ buf []T }

// The first slab of a kind has minSlab elements, each next one twice as many, up to
// maxSlabBytes (or what the piece needs): a Stream that makes one record (cmd/finack's
// live --connections) does not pay for a large slab; one that keeps many records
// allocates a slab every few hundred pieces. The bound is small because a piece keeps
// its whole slab alive: live runs keep some findings (provisional ones) long after
// the Stream that made them, when the other pieces of their slabs are garbage.
const (
	minSlab      = 16
	maxSlabBytes = 4 << 10
)

// take returns n elements, of length 0 and capacity n: the caller appends up to n.
// It is never nil.
func (s *slab[T]) take(n int) []T {
	if s.buf == nil || len(s.buf)+n > cap(s.buf) {
		var zero T
		most := max(maxSlabBytes/int(unsafe.Sizeof(zero)), minSlab)
		s.buf = make([]T, 0, max(min(2*cap(s.buf), most), minSlab, n))
	}
	i := len(s.buf)
	s.buf = s.buf[:i+n]
	return s.buf[i : i : i+n]
}

// clone returns a copy of v in the slab (never nil).
func (s *slab[T]) clone(v []T) []T { return append(s.take(len(v)), v...) }

// one returns a pointer to a copy of v in the slab.
func (s *slab[T]) one(v T) *T {
	p := s.take(1)[:1]
	p[0] = v
	return &p[0]
}

// mark and release: what was taken after the mark is given back. When a new slab
// was started since, all of it was taken after the mark: its part past the mark's
// length is given back, what the old slab held past the mark stays taken (unused).
func (s *slab[T]) mark() int { return len(s.buf) }

func (s *slab[T]) release(m int) {
	if m <= len(s.buf) {
		clear(s.buf[m:]) // no pointer kept alive by what was given back
		s.buf = s.buf[:m]
	}
}

func (a *arena) mark() arenaMark {
	return arenaMark{a.bytes.mark(), a.u64s.mark(), a.f64s.mark(), a.fins.mark(), a.strs.mark(), a.vlans.mark()}
}

// release gives back what was taken since m: nothing of it may be in use.
func (a *arena) release(m arenaMark) {
	a.bytes.release(m[0])
	a.u64s.release(m[1])
	a.f64s.release(m[2])
	a.fins.release(m[3])
	a.strs.release(m[4])
	a.vlans.release(m[5])
}

// reset gives back everything: nothing the arena handed out may be in use.
func (a *arena) reset() { a.release(arenaMark{}) }

// string returns b as a string in the arena. The string's bytes are the slab's,
// which nothing writes again while the string can be in use (see arena): the
// conversion without a copy is safe.
func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	s := a.bytes.clone(b)
	return unsafe.String(unsafe.SliceData(s), len(s))
}

// count and ms: the optional numbers of a record (pointers, so that JSON leaves them
// out where they do not apply), in the arena.
func (a *arena) count(n uint64) *uint64 { return a.u64s.one(n) }

// ms is roundMS(d), in the arena.
func (a *arena) ms(d time.Duration) *float64 { return a.f64s.one(roundMS(d)) }

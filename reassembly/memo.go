package reassembly

import (
	"hash/maphash"
	"unsafe"
)

// Memo keeps what a caller that walks a tracker again and again (EachMemo) derived
// from each packed incarnation, and until when it holds, so that a walk need not
// unpack (or read back from disk) a record that has not changed since.
//
// Why: a live run's metrics count the socket states of every connection tracked at
// each scrape. Almost all of them are packed, in TIME_WAIT, and each keeps its state
// for most of its minute there: unpacking every one of them at every scrape would
// be most of what a scrape costs.
//
// A packed record is known by where its bytes are and a hash of them (with its
// 4-tuple's): a record that a segment changed, packed again, moved to disk or freed
// and its memory reused, reads as another one. Entries that a walk did not visit
// go once they are a fifth of all (a map does not give back the room of the
// entries it held at most); a walk at an earlier instant than the one
// before (capture time going back) forgets them all. Entries hold no pointers: the
// collector does not scan them.
//
// The zero Memo is ready to use; a Memo serves one tracker and one kind of value.
type Memo struct {
	seed    maphash.Seed
	entries map[uintptr]memoEntry
	walk    uint32  // the walks so far: an entry's walk says when it was last visited
	lastAt  Instant // the instant of the last walk
	// Hits and Misses count the packed incarnations of the last walk whose value was
	// remembered, and those unpacked (for tests and benchmarks).
	Hits, Misses int
}

type memoEntry struct {
	sum   uint64  // maphash of the record's bytes and its 4-tuple's key
	until Instant // v holds from the walk that put it until then
	v     uint32
	walk  uint32
}

// EachMemo calls use for every incarnation the tracker holds now, as Each calls fn,
// with the value eval gives for it at capture time at: eval returns the value and
// the first instant at which it may change if nothing is added to the incarnation
// (it must not depend on anything else). The value of a packed incarnation whose
// record is as it was when eval last saw it, at an instant from then to before the
// one eval gave, comes from m without unpacking it. use gets the incarnation's
// 4-tuple (to be read during the call only); eval, as Each's fn, must not keep the
// incarnation nor change it.
func (t *Tracker) EachMemo(m *Memo, at Instant, eval func(*Incarnation) (v uint32, until Instant), use func(k *FlowKey, v uint32)) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	if m.entries == nil || at < m.lastAt {
		m.seed, m.entries = maphash.MakeSeed(), map[uintptr]memoEntry{}
	}
	m.lastAt = at
	m.walk++
	m.Hits, m.Misses = 0, 0
	t.eachHeld(func(f *flow, inc *Incarnation) {
		v, _ := eval(inc)
		use(&f.key, v)
	}, func(f *flow, rec string) bool {
		return m.hit(rec, m.sum(rec, f), at, f, use)
	}, func(f *flow, rec string, ahead bool) {
		b, _, _ := t.recordData(rec, ahead)
		m.put(t, rec, m.sum(rec, f), at, f, b, eval, use)
	})
	if visited := m.Hits + m.Misses; len(m.entries) > visited+visited/4+1024 {
		for p, e := range m.entries {
			if e.walk != m.walk {
				delete(m.entries, p)
			}
		}
	}
}

// sum is the hash that tells a record from any other: its bytes in memory, and the
// 4-tuple it is on (a record does not hold its key).
func (m *Memo) sum(rec string, f *flow) uint64 {
	return maphash.String(m.seed, rec) ^ keyHash(&f.key)
}

// hit hands use the value m holds for rec, if it holds at at.
func (m *Memo) hit(rec string, sum uint64, at Instant, f *flow, use func(*FlowKey, uint32)) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(rec)))
	e, ok := m.entries[p]
	if !ok || e.sum != sum || at >= e.until {
		return false
	}
	e.walk = m.walk
	m.entries[p] = e
	m.Hits++
	use(&f.key, e.v)
	return true
}

// put unpacks record rec (its bytes b), evaluates it, remembers the value and hands
// it to use.
func (m *Memo) put(t *Tracker, rec string, sum uint64, at Instant, f *flow, b []byte, eval func(*Incarnation) (uint32, Instant), use func(*FlowKey, uint32)) {
	inc := t.zeroIncarnation()
	unpackInto(inc, f.key, b, &t.spares, true)
	v, until := eval(inc)
	t.recycle(inc)
	m.entries[uintptr(unsafe.Pointer(unsafe.StringData(rec)))] = memoEntry{sum: sum, until: until, v: v, walk: m.walk}
	m.Misses++
	use(&f.key, v)
}

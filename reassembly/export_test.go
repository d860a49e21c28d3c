package reassembly

import "math"

// NewPoisonedTracker is NewTracker with freed records poisoned
// (testHooks.poisonFreed): a record read after it was freed fails to unpack, or
// differs, instead of passing unseen. The package's tests build their trackers
// with it (benchmarks with NewTracker, as a program runs).
func NewPoisonedTracker(cfg Config) *Tracker {
	h := defaultHooks()
	h.poisonFreed = true
	return newTracker(cfg, h)
}

// unpack returns the incarnation of record b on 4-tuple k, in new memory, with the
// signatures of its last segments (the tests' inverse of pack).
func unpack(k FlowKey, b []byte) *Incarnation {
	inc := new(Incarnation)
	unpackInto(inc, k, b, nil, true)
	return inc
}

// packingTracker is a poisoned tracker that packs every connection as soon as it
// can, and puts the records in its cold store at once when cold, else never.
func packingTracker(cfg Config, cold bool) *Tracker {
	tr := NewPoisonedTracker(cfg)
	tr.hooks.packAbove, tr.hooks.packEvery = 0, 1
	tr.hooks.coldAbove = math.MaxInt
	if cold {
		tr.coldAtOnce()
	}
	return tr
}

// coldAtOnce makes the tracker put every record of a connection in TIME_WAIT in its
// cold store, in small segments and windows, even where its directory is on tmpfs.
func (t *Tracker) coldAtOnce() {
	t.hooks.coldAbove = 0
	t.cold.segSize, t.cold.window = 512, 128
	t.cold.checked = true
}

package reassembly

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

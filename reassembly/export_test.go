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

package reassembly

import "time"

// testHooks are what only tests change or read in a Tracker: thresholds that the
// package's constants set (tests lower them to pack, sweep or move records to disk
// in small captures), switches, and a counter. A Tracker holds one (Tracker.hooks),
// which NewTracker copies from testDefaults; production code never sets either.
type testHooks struct {
	// packAbove, packEvery, packQuietEvery, coldAbove: the constants of the same
	// names.
	packAbove, packEvery, coldAbove int
	packQuietEvery                  time.Duration
	// noPack keeps every incarnation whole.
	noPack bool
	// sweepAll: a sweep visits every flow, as well as those it schedules.
	sweepAll bool
	// packRecent (tests that pack incarnations however recently they saw a
	// packet): keep the signatures of their last segments in the record.
	packRecent bool
	// poisonFreed: the arena overwrites a freed record, so that a record read
	// after free fails to unpack or differs.
	poisonFreed bool
	// quietPacked counts the incarnations packed by packQuiet.
	quietPacked int
}

// testDefaults is the testHooks every new Tracker starts with. Only tests change
// it (the package's tests poison freed records in every tracker).
var testDefaults = testHooks{packAbove: packAbove, packEvery: packEvery, packQuietEvery: packQuietEvery, coldAbove: coldAbove}

package reassembly

import "time"

// testHooks are what only tests change or read in a Tracker: thresholds that the
// package's constants set (tests lower them to pack, sweep or move records to disk
// in small captures), switches, and counters. A Tracker holds one (Tracker.hooks):
// NewTracker's is defaultHooks; a test changes the one of the tracker it built.
type testHooks struct {
	// packAbove, packEvery, packQuietEvery, coldAbove: the constants of the same
	// names.
	packAbove, packEvery, coldAbove int
	packQuietEvery                  time.Duration
	// noPack keeps every incarnation whole; noPackClosed leaves the ones that close
	// to the quiet packing (packClosed does nothing).
	noPack, noPackClosed bool
	// sweepAll: a sweep visits every flow, as well as those it schedules.
	sweepAll bool
	// packRecent (tests that pack incarnations however recently they saw a
	// packet): keep the signatures of their last segments in the record.
	packRecent bool
	// poisonFreed: the arena overwrites a freed record, so that a record read
	// after free fails to unpack or differs. The arena takes it when the tracker
	// is built (newTracker).
	poisonFreed bool
	// noReusePacked: a SYN reusing a 4-tuple whose current incarnation is packed
	// always unpacks it (reusePacked does nothing); alwaysWake: every record that
	// may have a wake block gets one (whatever wakeShare says).
	noReusePacked, alwaysWake bool
	// quietPacked counts the incarnations packed by packQuiet; closedPacked those
	// packed at their close (packClosed); prevUnpacked the times a flow's packed
	// earlier incarnations were unpacked (unpackPrev); reusedPacked the incarnations
	// started by reusePacked.
	quietPacked, closedPacked, prevUnpacked, reusedPacked int
	// wakeBlocks counts the records written with a wake block.
	wakeBlocks int
}

// defaultHooks returns the testHooks of a Tracker outside tests: the package's
// constants, every switch off.
func defaultHooks() testHooks {
	return testHooks{packAbove: packAbove, packEvery: packEvery, packQuietEvery: packQuietEvery, coldAbove: coldAbove}
}

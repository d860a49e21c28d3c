package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The collector's pace. finack's heap is small for most runs (what a busy capture
// holds is in the trackers' arenas, outside it), and a collection costs about as
// much whatever the growth it allowed: at GOGC 50 a small heap is collected every
// few megabytes allocated. So the heap may grow by gcHeadroom bytes past what the
// last collection found live, or by half of it (GOGC 50) when that is more: a run
// whose heap is large (the pictures of --html, the comparison of --baseline, a
// flood's connections held whole) keeps peak memory first, and a small one pays a
// fixed amount of memory for fewer collections. gcHeadroom is what the memory
// targets leave room for (docs/performance.md).
const (
	gcHeadroom   = 16 << 20
	gcMinPercent = 50
	gcMaxPercent = 1000
	// The runtime's first goal is 4 MB times the percent: the first collection
	// comes at about gcHeadroom as well.
	gcFirstPercent = gcHeadroom / (4 << 20) * 100
)

// gcPacer sets the collector's percent after each collection (a cleanup of an
// object made unreachable at once runs after each cycle that finds it).
type gcPacer struct {
	sample []metrics.Sample
	stop   atomic.Bool  // (tests) no more pacing
	paced  atomic.Int64 // collections paced
}

// gcSentinel holds a pointer so that it is not a tiny allocation: those share a
// block, which dies (and runs its cleanups) only when all of them have.
type gcSentinel struct{ _ *byte }

// paceCollector starts pacing: once, at start-up, unless GOGC is set.
func paceCollector() *gcPacer {
	p := &gcPacer{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	debug.SetGCPercent(gcFirstPercent)
	p.arm()
	return p
}

func (p *gcPacer) arm() {
	runtime.AddCleanup(new(gcSentinel), (*gcPacer).collected, p)
}

// collected sets the percent for the live heap the last collection found, then
// waits for the next.
func (p *gcPacer) collected() {
	if p.stop.Load() {
		return
	}
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(gcPercent(p.sample[0].Value.Uint64()))
	}
	p.paced.Add(1)
	p.arm()
}

// gcPercent is the percent that lets a heap of live bytes grow by gcHeadroom,
// from gcMinPercent to gcMaxPercent.
func gcPercent(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	return int(min(max(gcHeadroom*100/live, gcMinPercent), gcMaxPercent))
}

package main

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// Reading a file on several cores (--workers): one goroutine reads and decodes the
// capture and deals its segments out by 4-tuple (reassembly.Shard) to the workers,
// each a streaming tracker with its own analysis; every segment of a connection goes
// to the same worker, in capture order. The sweeps that finish incarnations are
// decided here, for all workers at once and at the same capture times whatever their
// number (reassembly.Config.ManualSweep): every SweepEvery of capture time, and after
// floodSweep SYNs. An incarnation's record never depends on how many workers there
// were. The reports are merged in the order of the report.

// Tracking defaults, for files and live capture.
const (
	// defaultIdleTimeout, live capture only (Zeek's tcp_inactivity_timeout): an
	// open connection quiet this long is finished and reported as dropped, so days
	// of capture do not hold every connection abandoned without a close. Files
	// default to never: a connection idle for minutes (a database pool's) that
	// resumes is still one connection, and a file ends.
	defaultIdleTimeout = 5 * time.Minute
	// idleTimeoutUnset: --idle-timeout not given (the default depends on the mode).
	idleTimeoutUnset = -1
	defaultMaxConns  = 1_000_000
	maxWorkers       = 64
)

func defaultWorkers() int { return min(runtime.NumCPU(), maxWorkers) }

func (o *options) validateTracking() error {
	if o.idleTimeout == idleTimeoutUnset {
		o.idleTimeout = 0 // files; live.go sets its own
		if o.live {
			o.idleTimeout = defaultIdleTimeout
		}
	}
	if o.idleTimeout < 0 {
		return fmt.Errorf("--idle-timeout: must not be negative, got %v", o.idleTimeout)
	}
	if o.maxConns < 0 {
		return fmt.Errorf("--max-connections: must not be negative, got %d", o.maxConns)
	}
	if o.workers < 1 || o.workers > maxWorkers {
		return fmt.Errorf("--workers: must be 1 to %d, got %d", maxWorkers, o.workers)
	}
	return nil
}

// batchLen is how many segments go to a worker in one channel send: sends cost
// about 100 ns, a segment to track a few hundred.
const batchLen = 512

// floodSweep: a sweep also comes after this many SYNs since the last one, so that
// a SYN flood's half-open connections are packed (reassembly/pack.go) at the pace
// they arrive, not every few seconds of capture time.
const floodSweep = 16384

// batch is a run of segments for one worker, after a sweep at sweepAt (capture
// time, ns) when sweep is set.
type batch struct {
	sweep   bool
	sweepAt int64
	segs    []capture.Segment
	keys    []reassembly.Keyed // keys[i] is segs[i]'s, computed once by the dispatcher
}

// trackAll reads every segment of r and tracks it on len(done) trackers configured
// by cfg (Done set to done[i] for worker i, ManualSweep set, MaxConnections shared
// out), then finishes them at the capture's last timestamp. done[i] runs on worker
// i's goroutine. It returns the connections the trackers dropped (Idle, Evicted),
// summed, and the error that stopped the reading (nil at the end of the input).
func trackAll(r *capture.Reader, cfg reassembly.Config, done []func(*reassembly.Incarnation), pr *progress) (reassembly.TrackerStats, error) {
	n := len(done)
	cfg.ManualSweep = true
	if cfg.MaxConnections > 0 {
		cfg.MaxConnections = max(cfg.MaxConnections/n, 1)
	}
	trackers := make([]*reassembly.Tracker, n)
	work := make([]chan *batch, n)
	free := make(chan *batch, 4*n)
	var wg sync.WaitGroup
	for i := range trackers {
		c := cfg
		c.Done = done[i]
		trackers[i] = reassembly.NewTracker(c)
		work[i] = make(chan *batch, 4)
		wg.Add(1)
		go func(tr *reassembly.Tracker, in <-chan *batch) {
			defer wg.Done()
			for b := range in {
				if b.sweep {
					tr.Sweep(b.sweepAt)
				}
				for j := range b.segs {
					tr.AddKeyed(&b.segs[j], &b.keys[j])
				}
				b.segs, b.keys = b.segs[:0], b.keys[:0]
				select {
				case free <- b:
				default: // enough spare batches
				}
			}
		}(trackers[i], work[i])
	}
	newBatch := func() *batch {
		select {
		case b := <-free:
			b.sweep = false
			return b
		default:
			return &batch{segs: make([]capture.Segment, 0, batchLen), keys: make([]reassembly.Keyed, 0, batchLen)}
		}
	}
	cur := make([]*batch, n)
	for i := range cur {
		cur[i] = newBatch()
	}
	every := trackers[0].SweepEvery()
	var nextSweep int64
	syns := 0
	var readErr error
	var count uint
	var seg capture.Segment
	for {
		err := r.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		at := seg.Time.UnixNano()
		if seg.Flags&(capture.SYN|capture.ACK) == capture.SYN {
			syns++
		}
		if at >= nextSweep || syns >= floodSweep {
			// Every tracker sweeps before this segment, at its time (none before
			// the first segment: it only starts the schedule).
			if nextSweep != 0 {
				for i := range cur {
					if len(cur[i].segs) > 0 || cur[i].sweep {
						work[i] <- cur[i]
						cur[i] = newBatch()
					}
					cur[i].sweep, cur[i].sweepAt = true, at
				}
				syns = 0
			}
			nextSweep = at + every
		}
		var k reassembly.Keyed
		k.Set(&seg)
		w := k.Shard(n)
		cur[w].segs = append(cur[w].segs, seg)
		cur[w].keys = append(cur[w].keys, k)
		if len(cur[w].segs) == batchLen {
			work[w] <- cur[w]
			cur[w] = newBatch()
		}
		if count++; count%progressPublish == 0 && pr != nil {
			pr.setPackets(r.Stats().Packets)
		}
	}
	for i := range cur {
		if len(cur[i].segs) > 0 || cur[i].sweep {
			work[i] <- cur[i]
		}
		close(work[i])
	}
	wg.Wait()
	st := r.Stats()
	end := st.Last.UnixNano()
	if st.Last.IsZero() {
		end = 0
	}
	// Finish on every worker at once: a capture shorter than TIME_WAIT has every
	// connection still held here, and handing them out is most of the work.
	for _, tr := range trackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.Finish(end)
		}()
	}
	wg.Wait()
	var sum reassembly.TrackerStats // what the report states: connections dropped
	for _, tr := range trackers {
		st := tr.Stats()
		sum.Idle += st.Idle
		sum.Evicted += st.Evicted
	}
	return sum, readErr
}

package pipeline

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// Reading a file on several cores (--workers): one goroutine reads and decodes the
// capture, in batches, and deals its segments out by 4-tuple (reassembly.Keyed, the
// key computed once) to the workers, each a streaming tracker with its own analysis
// (from three workers on, reading is shared out: a pcap file is read in parts by
// several goroutines, readParts, other inputs decoded by decoders, readDecoding; this
// goroutine then only deals the batches out in order); every segment of a connection
// goes to the same worker, in capture order. A batch is not copied per worker: every
// worker reads the segments it owns out of the same one. The sweeps that finish
// incarnations are decided here, for all workers at once and at the same capture times
// whatever their number (reassembly.Config.ManualSweep): every SweepEvery of capture
// time, and after floodSweep SYNs. An incarnation's record never depends on how many
// workers there were. Each worker's analysis sorts its own records; they are merged in
// the order of the report as it is written (analyzer.Merge).

// Tracking defaults, for files and live capture.
const (
	// DefaultIdleTimeout, live capture only (Zeek's tcp_inactivity_timeout): an
	// open connection quiet this long is finished and reported as dropped, so days
	// of capture do not hold every connection abandoned without a close. Files
	// default to never: a connection idle for minutes (a database pool's) that
	// resumes is still one connection, and a file ends.
	DefaultIdleTimeout = 5 * time.Minute
	// IdleTimeoutUnset: --idle-timeout not given (the default depends on the mode).
	IdleTimeoutUnset = -1
	DefaultMaxConns  = 1_000_000
	MaxWorkers       = 64
)

// DefaultWorkers is the number of CPUs finack may use: GOMAXPROCS, which follows
// the CPU affinity (taskset), a container's CPU limit (cgroup quota, since Go 1.25)
// and the GOMAXPROCS variable, where runtime.NumCPU counts the host's CPUs in a
// container limited to two of them.
func DefaultWorkers() int { return min(runtime.GOMAXPROCS(0), MaxWorkers) }

// batchLen is how many segments the reader decodes into one batch, shared by every
// worker: a channel send costs about 100 ns, a segment to track a few hundred.
const batchLen = 1024

// queued is how many batches may wait for a worker. The workers do not take the
// same time over the same stretch of capture (one sweeps a larger share of the
// flows, or hands out more connections), and while the reader waits for room in
// the queue of one the other may run dry: a deeper queue lets them drift apart,
// and deeper than this buys nothing (docs/performance.md).
const queued = 16

// frameDecoders is how many goroutines decode the capture for n workers: none below
// three workers (one goroutine reads and decodes, and keeps two workers busy), then
// one for every four workers. Reading and decoding a segment and computing its key
// take about a third of what tracking it takes (docs/performance.md): past two
// workers, one goroutine doing all of it would be what limits the others. What
// stays on one goroutine then is reading the records and numbering them
// (capture.Reader.ReadFrames), about half of it.
func frameDecoders(n int) int {
	if n < 3 {
		return 0
	}
	return (n + 3) / 4
}

// partReaders is how many goroutines read a pcap file in parts for n workers
// (capture.Reader.Parts: from three workers on, as frameDecoders): one for every
// three workers. Reading, decoding and keying a segment take about a third of what
// tracking it takes.
func partReaders(n int) int { return (n + 2) / 3 }

// partBytes is the size of the parts a pcap file is read in; partQueued how many
// batches of a part its reader may have read ahead of the dealing (then it waits:
// the batches in memory are at most this many for each part being read).
const (
	partBytes  = 1 << 20
	partQueued = 4
)

// frameBytes: a batch read for the decoders takes no more records past this many
// bytes of them (records are copied into it; most are a few hundred bytes).
const frameBytes = 512 << 10

// floodSweep: a sweep also comes after this many SYNs since the last one, so that
// a SYN flood's half-open connections are packed (reassembly/pack.go) at the pace
// they arrive, not every few seconds of capture time.
const floodSweep = 16384

// batch is a run of segments in capture order, decoded in place (never copied), and
// read by every worker that owns one of them, each through its list of indexes;
// the last worker done with it hands it back for reuse.
type batch struct {
	segs []capture.Segment  // batchLen long; the first n are filled
	keys []reassembly.Keyed // keys[i] is segs[i]'s, computed once by the reader
	mem  *batchMem          // segs and keys
	n    int
	// own[w] lists the indexes of worker w's segments, ascending (with one
	// worker, unused: every segment is its own).
	own [][]uint16
	// sweeps: every tracker sweeps at at (on capture time) before the segment at
	// index pos, in this order.
	sweeps []sweepAt
	left   atomic.Int32 // workers still to read it
	// With decoders (frameDecoders): the records read for the batch, what ended the
	// reading after them (nil if nothing did), and ready, signalled once a decoder
	// filled segs, keys and own from them.
	fr    capture.Frames
	err   error
	ready chan struct{}
	// Read in parts (partReaders): the run of records of a part the batch holds.
	run capture.PartRecords
}

// batchMem is a batch's segments and keys: 200 KiB, which a run that reads many
// small captures (--separate) would otherwise allocate, and clear, for each.
type batchMem struct {
	segs [batchLen]capture.Segment
	keys [batchLen]reassembly.Keyed
}

// batchMems holds the memory of the batches of the captures read before. A new
// one's pages are written in as it is made, a zero byte each (it is zero: nothing
// changes): otherwise the reader's first writes to a new batch meet many of its
// pages mapped to the shared zero page (read by something else first, not found:
// perf shows the copies, not the reads), each then copied with a TLB flush on the
// other core.
var batchMems = sync.Pool{New: func() any {
	m := new(batchMem)
	b := unsafe.Slice((*byte)(unsafe.Pointer(m)), unsafe.Sizeof(*m))
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
	return m
}}

// key computes the key of segment i in place (no copy of the Keyed) and lists it
// for the worker that owns it, of n. The key is computed by whoever fills the batch,
// once, even for one worker: the reading side has time to spare, the trackers have
// not.
func (b *batch) key(i, n int) {
	k := &b.keys[i]
	k.Set(&b.segs[i])
	if n > 1 {
		w := k.Shard(n)
		b.own[w] = append(b.own[w], uint16(i))
	}
}

type sweepAt struct {
	pos int
	at  reassembly.Instant
}

// everyIndex lists 0 to batchLen-1: a single worker's own segments.
var everyIndex = func() []uint16 {
	ix := make([]uint16, batchLen)
	for i := range ix {
		ix[i] = uint16(i)
	}
	return ix
}()

// TrackAll reads every segment of r and tracks it on len(done) trackers configured
// by cfg (Done set to done[i] for worker i, ManualSweep set, MaxConnections shared
// out), then finishes them at the capture's last timestamp. done[i] runs on worker
// i's goroutine. It returns the connections the trackers dropped (Idle, Evicted),
// summed, and the error that stopped the reading (nil at the end of the input).
func TrackAll(r *capture.Reader, cfg reassembly.Config, done []func(*reassembly.Incarnation), pr Progress) (reassembly.TrackerStats, error) {
	n := len(done)
	cfg.ManualSweep = true
	if cfg.MaxConnections > 0 {
		cfg.MaxConnections = max(cfg.MaxConnections/n, 1)
	}
	trackers := make([]*reassembly.Tracker, n)
	work := make([]chan *batch, n)
	// free holds batches every worker is done with; the reader makes more when it
	// is empty (about queued+n are in use at most).
	free := make(chan *batch, queued+n+1)
	var wg sync.WaitGroup
	for i := range trackers {
		c := cfg
		c.Done = done[i]
		trackers[i] = reassembly.NewTracker(c)
		work[i] = make(chan *batch, queued)
		wg.Add(1)
		go func(tr *reassembly.Tracker, in <-chan *batch) {
			defer wg.Done()
			for b := range in {
				own := everyIndex[:b.n]
				if n > 1 {
					own = b.own[i]
				}
				for _, sw := range b.sweeps {
					j := 0
					for j < len(own) && int(own[j]) < sw.pos {
						j++
					}
					tr.AddKeyedEach(b.segs, b.keys, own[:j])
					own = own[j:]
					tr.Sweep(sw.at)
				}
				tr.AddKeyedEach(b.segs, b.keys, own)
				if b.left.Add(-1) == 0 {
					select {
					case free <- b:
					default: // enough spare batches
					}
				}
			}
		}(trackers[i], work[i])
	}
	newBatch := func() *batch {
		select {
		case b := <-free:
			b.n, b.sweeps, b.err = 0, b.sweeps[:0], nil
			for w := range b.own {
				b.own[w] = b.own[w][:0]
			}
			return b
		default:
			m := batchMems.Get().(*batchMem)
			b := &batch{segs: m.segs[:], keys: m.keys[:], mem: m, ready: make(chan struct{}, 1)}
			if n > 1 {
				b.own = make([][]uint16, n)
				for w := range b.own {
					b.own[w] = make([]uint16, 0, batchLen)
				}
			}
			return b
		}
	}
	// has says whether worker w has something to do in b.
	has := func(b *batch, w int) bool {
		return len(b.sweeps) > 0 || (n == 1 && b.n > 0) || (n > 1 && len(b.own[w]) > 0)
	}
	// send hands b to the workers that have something to do in it.
	send := func(b *batch) {
		to := 0
		for w := range n {
			if has(b, w) {
				to++
			}
		}
		if to == 0 {
			select {
			case free <- b: // (filtered out whole)
			default:
			}
			return
		}
		b.left.Store(int32(to))
		for w := range n {
			if has(b, w) {
				work[w] <- b
			}
		}
	}
	every := trackers[0].SweepEvery()
	var nextSweep reassembly.Instant
	syns := 0
	// sweepsBefore notes in b the sweeps due before segment i, read in order.
	sweepsBefore := func(b *batch, i int) {
		seg := &b.segs[i]
		at := reassembly.InstantOf(seg.Time)
		if seg.Flags&(capture.SYN|capture.ACK) == capture.SYN {
			syns++
		}
		if at >= nextSweep || syns >= floodSweep {
			// Every tracker sweeps before this segment, at its time (none before
			// the first segment: it only starts the schedule).
			if nextSweep != 0 {
				b.sweeps = append(b.sweeps, sweepAt{i, at})
				syns = 0
			}
			nextSweep = at.Add(every)
		}
	}
	var readErr error
	deal := func(b *batch) {
		for i := range b.n {
			sweepsBefore(b, i)
		}
		send(b)
	}
	if d := frameDecoders(n); d > 0 {
		rest := true
		if parts, ok := r.Parts(partBytes); ok {
			rest, readErr = readParts(r, parts, partReaders(n), n, newBatch, deal, pr)
		}
		if rest {
			readErr = readDecoding(r, d, n, newBatch, deal, pr)
		}
	} else {
		b := newBatch()
		for {
			seg := &b.segs[b.n]
			err := r.Next(seg)
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			sweepsBefore(b, b.n)
			b.key(b.n, n)
			if b.n++; b.n == batchLen {
				send(b)
				b = newBatch()
				if pr != nil { // every batch: batchLen is about progressPublish
					pr.SetPackets(r.Stats().Packets)
				}
			}
		}
		send(b)
	}
	if pr != nil {
		pr.SetPackets(r.Stats().Packets)
	}
	// The connections still open or in TIME_WAIT at the end are finished, and
	// analysed (done), after the read: say so while the workers catch up.
	phase(pr, PhaseFinish)
	for w := range work {
		close(work[w])
	}
	wg.Wait()
	// Every batch is read: when more captures follow (the reader's buffers go to
	// them too), two spare ones' memory goes to the next (what a small capture
	// takes; a large capture's others go to the collector rather than wait in the
	// pool while the report is written).
	for range 2 {
		if !r.ReusesBuffers() {
			break
		}
		select {
		case b := <-free:
			batchMems.Put(b.mem)
		default:
		}
	}
	end := captureEnd(r.Stats())
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
	var sum reassembly.TrackerStats // what the report states (connections dropped), and a warning
	for _, tr := range trackers {
		st := tr.Stats()
		sum.Idle += st.Idle
		sum.Evicted += st.Evicted
		if sum.ColdError == nil {
			sum.ColdError = st.ColdError
		}
		if err := tr.Err(); err != nil && readErr == nil {
			// A tracker stopped (its temporary files could not be read back): the
			// report lacks its connections from then on, as a capture read in part.
			readErr = err
		}
	}
	return sum, readErr
}

// readDecoding reads r for n workers with d decoders: this goroutine's caller goes on
// with the batches in order (deal: the sweeps to note, then the send), one goroutine
// reads the records into batches (capture.Reader.ReadFrames) and d goroutines decode
// and key them (the batch's segments, keys and own lists, as the reader fills them
// without decoders). It returns the error that stopped the reading (nil at the end of
// the input), once r's Stats count what the decoders decoded.
func readDecoding(r *capture.Reader, d, n int, newBatch func() *batch, deal func(*batch), pr Progress) error {
	order := make(chan *batch, d+2) // the batches in the order read
	todo := make(chan *batch, d)
	go func() {
		defer close(order)
		defer close(todo)
		for {
			b := newBatch()
			err := r.ReadFrames(&b.fr, batchLen, frameBytes)
			if err != nil && err != io.EOF {
				b.err = err
			}
			if pr != nil {
				pr.SetPackets(r.Stats().Packets)
			}
			order <- b
			todo <- b
			if err != nil {
				return
			}
		}
	}()
	decs := make([]*capture.FrameDecoder, d)
	var wg sync.WaitGroup
	for i := range decs {
		dec := r.NewFrameDecoder()
		decs[i] = dec
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				for j := range b.fr.Len() {
					seg := &b.segs[b.n]
					if !dec.Decode(&b.fr, j, seg) {
						continue
					}
					b.key(b.n, n)
					b.n++
				}
				b.ready <- struct{}{}
			}
		}()
	}
	var readErr error
	for b := range order {
		<-b.ready
		if b.err != nil {
			readErr = b.err
		}
		deal(b)
	}
	wg.Wait()
	for _, dec := range decs {
		r.AddDecoded(dec)
	}
	return readErr
}

// readParts reads r's file in parts (capture.Reader.Parts) for n workers with k
// readers: each reads, decodes and keys the parts it takes into batches, which this
// goroutine's caller goes on with in the order of the file (deal) once
// capture.Reader.Sequence has numbered and timed them. A part whose start the
// reader guessed wrong is read again here, from where the part before ended. It
// returns the error that stopped the reading (nil at the end of the input), or
// rest: the parts were read up to a block that r reads on from
// (capture.PartRecords.Sequential), and the rest is to be read as any other input.
func readParts(r *capture.Reader, parts []capture.Part, k, n int, newBatch func() *batch, deal func(*batch), pr Progress) (rest bool, _ error) {
	type job struct {
		part capture.Part
		runs chan *batch // the part's batches, in order
	}
	readers := make([]*capture.PartReader, k+1) // (the last one for this goroutine)
	for i := range readers {
		p, err := r.NewPartReader()
		if err != nil {
			return false, err // (the filter compiled for its link types at Open or by Parts: cannot fail)
		}
		readers[i] = p
	}
	// fill reads the run that p has next into a new batch, keyed and dealt among the
	// workers.
	fill := func(p *capture.PartReader) *batch {
		b := newBatch()
		b.n = p.Read(&b.run, b.segs)
		for i := range b.n {
			b.key(i, n)
		}
		return b
	}
	var stop atomic.Bool
	jobs := make(chan *job, k)
	order := make(chan *job, k+2)
	go func() {
		defer close(order)
		defer close(jobs)
		for _, part := range parts {
			if stop.Load() {
				return
			}
			j := &job{part, make(chan *batch, partQueued)}
			order <- j
			jobs <- j
		}
	}()
	for _, p := range readers[:k] {
		go func() {
			for j := range jobs {
				p.Begin(j.part, j.part == parts[0])
				for done := false; !done && !stop.Load(); {
					b := fill(p)
					done = b.run.Done // (b is the sequencer's once sent)
					j.runs <- b
				}
				close(j.runs)
			}
		}()
	}
	var readErr error
	ended := false
	// sequence deals b out, if it starts where the run before ended; false if not.
	sequence := func(b *batch) bool {
		_, ok, err := r.Sequence(&b.run, b.segs)
		if !ok {
			return false
		}
		if b.run.Sequential && err == nil {
			rest, ended = true, true
			stop.Store(true)
		}
		deal(b) // (b is the workers' from here)
		if pr != nil {
			pr.SetPackets(r.Stats().Packets)
		}
		if err != nil {
			ended = true
			stop.Store(true)
			if err != io.EOF {
				readErr = err
			}
		}
		return true
	}
	for j := range order {
		last := j.part == parts[len(parts)-1]
		for b := range j.runs {
			if ended {
				continue // (the reading ended: drained)
			}
			if sequence(b) {
				continue
			}
			// Read the part again from where the one before ended, here; what its
			// reader read is drained.
			p := readers[k]
			p.Begin(r.Again(j.part), true)
			for done := false; !done && !ended; {
				b := fill(p)
				done = b.run.Done // (b is the workers' once dealt)
				if !sequence(b) {
					panic("pipeline: a part read from where the one before ended does not follow it")
				}
			}
			for range j.runs {
			}
			break
		}
		if !ended && last {
			panic("pipeline: the last part read and no end")
		}
	}
	return rest, readErr
}

package report

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// MaxPictureTimes bounds the instants a PictureCollector keeps (TIME_WAIT starts
// and ends per host, client ports tied up per pair, closes per shape): past it, every
// instant is rounded to a coarser grid (a power of two of nanoseconds, doubled until
// they fit), so its memory follows the hosts, pairs and the capture's length, not
// its connections.
const MaxPictureTimes = 1 << 18

// maxShift is the coarsest grid (about 146 years): more series than
// MaxPictureTimes stop there.
const maxShift = 62

// Series of the collector's timeline: what a time key counts.
const (
	seriesTimeWait = iota // a host's TIME_WAIT spans (index: hosts)
	seriesTied            // a pair's client ports tied up (index: pairs)
	seriesCloses          // closes of a shape (index: CloseShapes)
	seriesKinds
)

// timeKey is an instant (rounded to the grid) of one series.
type timeKey struct {
	at     reassembly.Instant
	series int32 // kind + seriesKinds*index
}

// stateCounts counts sockets per state (of analyzer.StateNames).
type stateCounts [len(analyzer.StateNames)]int32

// PictureCollector measures what the HTML report draws (Pictures) from each
// incarnation as a streaming tracker hands it out, keeping no connection: counts per
// host, server endpoint, client → server pair and instant. One per worker, merged
// (MergePictures); the result does not depend on how incarnations were shared out.
type PictureCollector struct {
	twLen time.Duration
	// at: the --at moment, resolved at the first incarnation (it may be relative to
	// the capture's first packet, known once reading began).
	at   func() (time.Time, bool)
	atT  time.Time
	atOK bool

	shift uint8 // the grid: instants rounded to multiples of 1<<shift ns
	// times: the counts of each instant, up (spans starting, closes) at [0] and
	// down (spans ending) at [1], one entry per key, sorted (byKey), as of the last
	// compact; log: the counts added since, one entry each, on the grid of the
	// moment. Appending costs a store, a map a lookup and an insert per count;
	// compact sorts the log into times past logMax entries.
	times, log []timeCount
	spare      []timeCount // compact's next times
	// maxTimes bounds times: MaxPictureTimes (tests lower it to coarsen the grid
	// of a small capture). logMax: MaxPictureTimes/2 (tests lower it).
	maxTimes, logMax int

	hosts    map[netip.Addr]int32
	hostTW   []int32 // per host: its TIME_WAIT spans
	pairs    map[pairKey]int32
	pairOpen []int32 // per pair: spans open at the end (dropped idle or evicted)
	closers  map[netip.AddrPort]*[2]int32
	atEnd    map[netip.Addr]*stateCounts
	atAsked  map[netip.Addr]*stateCounts
}

// NewPictureCollector collects with TIME_WAIT length twLen; at, when not nil, gives
// the moment of --at (false: none).
func NewPictureCollector(twLen time.Duration, at func() (time.Time, bool)) *PictureCollector {
	return &PictureCollector{twLen: twLen, at: at, maxTimes: MaxPictureTimes, logMax: MaxPictureTimes / 2,
		hosts: map[netip.Addr]int32{}, pairs: map[pairKey]int32{}, closers: map[netip.AddrPort]*[2]int32{},
		atEnd: map[netip.Addr]*stateCounts{}, atAsked: map[netip.Addr]*stateCounts{}}
}

// farFuture: the state an incarnation handed out before the capture's end is left
// in for good (its last events passed before it was handed out).
var farFuture = reassembly.Instant(1 << 62).Time()

// Add counts one incarnation, finished.
func (c *PictureCollector) Add(inc *reassembly.Incarnation) {
	if !c.atOK && c.at != nil {
		c.atT, c.atOK = c.at()
	}
	sp := analyzer.SpansOf(inc, c.twLen)
	if sp.Held {
		for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
			if sp.TimeWait.Holder[r] {
				h := c.host(inc.Half[r].Endpoint.Addr())
				c.hostTW[h]++
				c.span(seriesTimeWait, h, sp.From, sp.To)
			}
		}
	}
	shape := analyzer.CloseShape(inc)
	countCloser(c.closers, inc, shape)
	if i := slices.Index(CloseShapes[:], shape); i >= 0 {
		c.point(seriesCloses, int32(i), inc.Last.At)
	}
	if inc.RolesKnown {
		pk := pairKey{inc.Client().Addr(), inc.Server()}
		pi, ok := c.pairs[pk]
		if !ok {
			pi = int32(len(c.pairs))
			c.pairs[pk] = pi
			c.pairOpen = append(c.pairOpen, 0)
		}
		// Tied up from the first packet until gone on both sides (as
		// analyzer.TimeWaitAccounting); one still open at the end of the capture
		// until then: known here when the capture's end handed it out, else (dropped
		// idle or evicted) counted and ended when the end is known.
		to := sp.TiedTo
		switch {
		case to == 0 && inc.End == reassembly.EndCaptureEnd:
			to = inc.EndAt
		case to == 0:
			c.pairOpen[pi]++
			c.point(seriesTied, pi, inc.First.At)
			to = -1
		}
		if to >= 0 {
			c.span(seriesTied, pi, inc.First.At, max(to, inc.First.At+1))
		}
	}
	c.states(inc)
}

func (c *PictureCollector) host(a netip.Addr) int32 {
	h, ok := c.hosts[a]
	if !ok {
		h = int32(len(c.hosts))
		c.hosts[a] = h
		c.hostTW = append(c.hostTW, 0)
	}
	return h
}

// atCaptureEnd is the moment at which inc's state is the one it has at the end of
// the capture (zero: it has no socket then), whenever it was handed out.
func atCaptureEnd(inc *reassembly.Incarnation) time.Time {
	switch inc.End {
	case reassembly.EndCaptureEnd:
		return inc.EndAt.Time() // handed out by the end of the capture, at it
	case reassembly.EndReplaced:
		return time.Time{} // no socket once replaced
	}
	return farFuture
}

// states counts inc's sockets at the end of the capture and at --at.
func (c *PictureCollector) states(inc *reassembly.Incarnation) {
	end := atCaptureEnd(inc)
	for _, r := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
		h := inc.Half[r].Endpoint.Addr()
		if !end.IsZero() {
			countState(c.atEnd, h, analyzer.StateAt(inc, r, end, c.twLen))
		}
		if c.atOK {
			countState(c.atAsked, h, analyzer.StateAt(inc, r, c.atT, c.twLen))
		}
	}
}

// countCloser counts a close of inc's server endpoint (shape: inc's) in closers, and
// whether the server began it (analyzer.TimeWaitAccounting's closers).
func countCloser(closers map[netip.AddrPort]*[2]int32, inc *reassembly.Incarnation, shape analyzer.Shape) {
	switch shape {
	case analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose:
		sv := inc.Server()
		n := closers[sv]
		if n == nil {
			n = new([2]int32)
			closers[sv] = n
		}
		n[0]++
		if _, s := inc.ActiveClosers(); s {
			n[1]++
		}
	}
}

func countState(m map[netip.Addr]*stateCounts, h netip.Addr, st string) {
	if st == "" {
		return
	}
	i := slices.Index(analyzer.StateNames[:], st)
	n := m[h]
	if n == nil {
		n = new(stateCounts)
		m[h] = n
	}
	n[i]++
}

// span counts [from, to) in a series: from rounded down, to up, so a span is never
// lost to the grid.
func (c *PictureCollector) span(kind int, index int32, from, to reassembly.Instant) {
	series := int32(kind) + seriesKinds*index
	c.add(timeCount{timeKey{floorTo(from, c.shift), series}, [2]int32{1, 0}})
	// Up from the finest grid a step at a time (ceilFrom), as coarsen rounds what
	// was counted before: the same, but within a step of the end of time.
	c.add(timeCount{timeKey{ceilFrom(to, 0, c.shift), series}, [2]int32{0, 1}})
}

// point counts an instant in a series.
func (c *PictureCollector) point(kind int, index int32, at reassembly.Instant) {
	c.add(timeCount{timeKey{floorTo(at, c.shift), int32(kind) + seriesKinds*index}, [2]int32{1, 0}})
}

// add appends a count to the log, compacted once it is full.
func (c *PictureCollector) add(e timeCount) {
	c.log = append(c.log, e)
	if len(c.log) >= c.logMax {
		c.compact()
	}
}

func floorTo(at reassembly.Instant, shift uint8) reassembly.Instant {
	return at &^ (1<<shift - 1)
}

func ceilTo(at reassembly.Instant, shift uint8) reassembly.Instant {
	if f := floorTo(at, shift); f != at && f <= 1<<63-1-(1<<shift) {
		return f + 1<<shift
	}
	return at
}

// ceilFrom rounds an instant on the grid of 1<<from ns up to the grid of 1<<to,
// as rounding it up one grid at a time (ceilTo) does: the same as ceilTo to the
// coarser grid at once, but within 1<<to of the end of time, where that one would
// overflow and leave the instant as it is while a finer step did not.
func ceilFrom(at reassembly.Instant, from, to uint8) reassembly.Instant {
	if c := ceilTo(at, to); c != at || floorTo(at, to) == at {
		return c
	}
	for s := from + 1; s <= to; s++ {
		at = ceilTo(at, s)
	}
	return at
}

// compact folds the log into times (sorted, one entry per key), then fits the
// grid to maxTimes.
func (c *PictureCollector) compact() {
	c.fold()
	c.fit()
}

// fold folds the log into times.
func (c *PictureCollector) fold() {
	if len(c.log) == 0 {
		return
	}
	sorted, other := sortCounts(c.log, c.spare)
	merged := mergeCounts(other[:0], c.times, foldCounts(sorted))
	// Three buffers go round: the merge's, the sort's, the old times.
	c.times, c.log, c.spare = merged, sorted[:0], c.times[:0]
}

// byKey orders counts by series, then instant.
func byKey(a, b timeCount) int {
	if a.k.series != b.k.series {
		return cmp.Compare(a.k.series, b.k.series)
	}
	return cmp.Compare(a.k.at, b.k.at)
}

// sortCounts sorts es (byKey), with buf (grown to es's length) as the other half
// of a radix sort: the instants, less the least, eleven bits at a time, then the
// series, each pass stable, skipping the digits all share. It returns the sorted
// counts and the other buffer (both es's and buf's memory, in some order). A
// comparison sort, calling byKey for every comparison, costs several times as
// much on the logs of a large capture.
func sortCounts(es, buf []timeCount) (sorted, other []timeCount) {
	if len(es) < 64 {
		slices.SortStableFunc(es, byKey)
		return es, buf
	}
	lo, hi, series := es[0].k.at, es[0].k.at, int32(0)
	for _, e := range es {
		lo, hi, series = min(lo, e.k.at), max(hi, e.k.at), max(series, e.k.series)
	}
	buf = slices.Grow(buf[:0], len(es))[:len(es)]
	const digit = 11
	var count [1 << digit]int
	pass := func(key func(e *timeCount) uint64, width int) {
		for shift := 0; shift < width; shift += digit {
			clear(count[:])
			for i := range es {
				count[key(&es[i])>>shift&(1<<digit-1)]++
			}
			if count[key(&es[0])>>shift&(1<<digit-1)] == len(es) {
				continue // one digit for all: nothing moves
			}
			sum := 0
			for d, n := range count {
				count[d], sum = sum, sum+n
			}
			for i := range es {
				d := key(&es[i]) >> shift & (1<<digit - 1)
				buf[count[d]] = es[i]
				count[d]++
			}
			es, buf = buf, es
		}
	}
	pass(func(e *timeCount) uint64 { return uint64(e.k.at) - uint64(lo) }, bits.Len64(uint64(hi)-uint64(lo)))
	// Series are never negative (kind + seriesKinds*index).
	pass(func(e *timeCount) uint64 { return uint64(uint32(e.k.series)) }, bits.Len32(uint32(series)))
	return es, buf
}

// foldCounts sums, in place, the neighbours of equal key of sorted counts.
func foldCounts(es []timeCount) []timeCount {
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && out[n-1].k == e.k {
			out[n-1].v[0] += e.v[0]
			out[n-1].v[1] += e.v[1]
			continue
		}
		out = append(out, e)
	}
	return out
}

// mergeCounts appends to dst the sorted counts a and b merged, equal keys summed
// (each of a and b has one entry per key).
func mergeCounts(dst, a, b []timeCount) []timeCount {
	dst = slices.Grow(dst, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch byKey(a[0], b[0]) {
		case -1:
			dst, a = append(dst, a[0]), a[1:]
		case 1:
			dst, b = append(dst, b[0]), b[1:]
		default:
			e := a[0]
			e.v[0] += b[0].v[0]
			e.v[1] += b[0].v[1]
			dst, a, b = append(dst, e), a[1:], b[1:]
		}
	}
	return append(append(dst, a...), b...)
}

// coarsen moves every instant onto the grid of 1<<shift ns: starts and points down,
// ends up (a multiple of a coarser grid is one of every finer one, so the result
// is as if every instant had been rounded once). The log is folded in first.
func (c *PictureCollector) coarsen(shift uint8) {
	c.fold()
	if shift <= c.shift {
		return
	}
	from := c.shift
	c.shift = shift
	// A start and an end of one key go apart (one rounds down, the other up), and
	// rounded ends can pass rounded starts; but rounding down keeps the starts in
	// order, and rounding up the ends: the two are rounded apart and merged (the
	// log, empty once folded, holds the ends).
	starts, ends := c.spare[:0], c.log[:0]
	for _, e := range c.times {
		if e.v[0] != 0 {
			starts = append(starts, timeCount{timeKey{floorTo(e.k.at, shift), e.k.series}, [2]int32{e.v[0], 0}})
		}
		if e.v[1] != 0 {
			ends = append(ends, timeCount{timeKey{ceilFrom(e.k.at, from, shift), e.k.series}, [2]int32{0, e.v[1]}})
		}
	}
	merged := mergeCounts(c.times[:0], foldCounts(starts), foldCounts(ends))
	c.times, c.spare, c.log = merged, starts[:0], ends[:0]
}

// timeCount is an entry of PictureCollector.times.
type timeCount struct {
	k timeKey
	v [2]int32
}

// fit coarsens the grid, while the instants are more than maxTimes, to the first
// coarser one on which they are not (maxShift at most): what coarsening one step at
// a time until they fit gives, found without rounding at every step. Instants that
// start something round down, those that end something up: the number of keys at
// a grid is counted on the instants sorted (a pass each, finestFit), and they are
// rounded once.
//
// Fitting now and then (whenever compact runs) gives the grid that fitting after
// every count gives: the keys on a grid only grow as counts come, so a grid on which
// the instants do not fit at one moment fits none of any moment after, and both
// step past such grids only, to the first from the start on which they all fit.
func (c *PictureCollector) fit() {
	if len(c.times) <= c.maxTimes || c.shift >= maxShift {
		return
	}
	c.coarsen(finestFit(c.times, nil, c.shift, c.maxTimes))
}

// fitsOn says whether the keys of the instants of a and b together, on the grid of
// 1<<from ns rounded to the grid of 1<<shift, starts down and ends up, are at most
// max: the starts of each (sorted) and its ends (sorted), rounded in order, merged,
// equal neighbours counted once. b may be nil.
func fitsOn(a, b []timeCount, from, shift uint8, max int) bool {
	// live: the walks with keys left.
	var walks [4]roundedKeys
	live := walks[:0]
	for _, k := range [...]roundedKeys{
		{ts: a, from: from, shift: shift}, {ts: a, up: true, from: from, shift: shift},
		{ts: b, from: from, shift: shift}, {ts: b, up: true, from: from, shift: shift},
	} {
		if k.next() {
			live = append(live, k)
		}
	}
	n := 0
	var last timeKey
	for len(live) > 0 {
		m := 0 // the stream of the least key
		for i := 1; i < len(live); i++ {
			if k := live[i].key; k.series < live[m].key.series || k.series == live[m].key.series && k.at < live[m].key.at {
				m = i
			}
		}
		if k := live[m].key; n == 0 || k != last {
			if n++; n > max {
				return false
			}
			last = k
		}
		if !live[m].next() {
			live = append(live[:m], live[m+1:]...)
		}
	}
	return true
}

// roundedKeys walks the keys of the starts (up false) or the ends (up true) of
// sorted counts, rounded from the grid of 1<<from ns to that of 1<<shift: starts
// down, ends up, so that each walk stays in order.
type roundedKeys struct {
	ts          []timeCount
	i           int // the next entry to look at
	up          bool
	from, shift uint8
	key         timeKey // the current key, once next says there is one
}

// next moves to the next key, and says whether there is one.
func (r *roundedKeys) next() bool {
	v := 0
	if r.up {
		v = 1
	}
	for r.i < len(r.ts) && r.ts[r.i].v[v] == 0 {
		r.i++
	}
	if r.i == len(r.ts) {
		return false
	}
	e := &r.ts[r.i]
	r.i++
	if r.up {
		r.key = timeKey{ceilFrom(e.k.at, r.from, r.shift), e.k.series}
	} else {
		r.key = timeKey{floorTo(e.k.at, r.shift), e.k.series}
	}
	return true
}

// finestFit is the finest grid coarser than that of 1<<from ns on which the
// instants of a and b together fit max keys (fitsOn), or maxShift: the grid
// coarsening one step at a time until they fit reaches. A coarser grid can hold
// more keys than a finer one (a key where spans both start and end is two keys on
// a coarser grid it is not on: the starts round down, the ends up), so the grids
// are tried in turn, not by halving their range, between two bounds counted for
// every grid in one pass each (keysByGrid): the keys of the starts alone and of the
// ends alone are keys of the grid (where either is more than max, it does not
// fit), and together they are at least as many as its keys (where they are at
// most max, it fits). Trying the grids in turn makes the grid the one coarsening
// step by step reaches however often, and from whichever grid, the instants were
// fitted: a grid on which they do not fit holds no fewer keys once more come.
func finestFit(a, b []timeCount, from uint8, max int) uint8 {
	starts, _ := keysByGrid(a, b, false)
	ends, latest := keysByGrid(a, b, true)
	exact := latest < 1<<62 // the ends' count holds while rounding up cannot overflow (ceilFrom)
	s := from + 1
	for s < maxShift && (starts[s] > max || exact && ends[s] > max) {
		s++
	}
	for ; s < maxShift; s++ {
		if exact && starts[s]+ends[s] <= max || fitsOn(a, b, from, s, max) {
			return s
		}
	}
	return maxShift
}

// keysByGrid counts, for every grid of 1<<s ns (index s), the keys of the starts of
// a and b together rounded down to it (ends false), or of their ends rounded up
// (true), and returns the latest instant counted: the distinct keys of a sorted
// list on a grid are its entries less the neighbours of one series that share a
// key there, and two neighbours p <= q share one on every grid from the highest bit
// in which p and q (ends: p-1 and q-1) differ up. One pass over both lists, in key
// order.
func keysByGrid(a, b []timeCount, ends bool) (keys [maxShift + 1]int, latest reassembly.Instant) {
	v, off := 0, reassembly.Instant(0)
	if ends {
		v, off = 1, 1
	}
	var shared [65]int // by the grid from which a pair of neighbours shares a key
	n, i, j := 0, 0, 0
	var last timeKey
	latest = -1 << 63
	for {
		for i < len(a) && a[i].v[v] == 0 {
			i++
		}
		for j < len(b) && b[j].v[v] == 0 {
			j++
		}
		var k timeKey
		switch {
		case i < len(a) && (j == len(b) || byKey(a[i], b[j]) <= 0):
			k = a[i].k
			i++
		case j < len(b):
			k = b[j].k
			j++
		default:
			for s := range keys {
				n -= shared[s]
				keys[s] = n
			}
			return keys, latest
		}
		if n > 0 && k.series == last.series {
			shared[bits.Len64(uint64((k.at-off)^(last.at-off)))]++
		}
		n++
		last = k
		latest = max(latest, k.at)
	}
}

// MergePictures sums the collectors of a capture [first, last] into its Pictures:
// the same whatever the number of collectors its incarnations were shared out
// among. The instants are on the grid one collector fed every incarnation would
// have reached: the finest on which they fit MaxPictureTimes (the bound of the
// collectors, all the same). The collectors are spent: their instants are let go
// as they are merged, and once drawn.
func MergePictures(cs []*PictureCollector, v ViewOptions, first, last time.Time) *Pictures {
	all := mergeCollectors(cs)
	if all == nil {
		return nil
	}
	p := all.pictures(v, first, last)
	all.times, all.log, all.spare = nil, nil, nil // drawn: the collectors are spent
	return p
}

// mergeCollectors sums the collectors (nil ones left out) into the first, folded
// and fitted, and returns it (nil: none).
func mergeCollectors(cs []*PictureCollector) *PictureCollector {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *PictureCollector) bool { return c == nil })
	if len(cs) == 0 {
		return nil
	}
	// Each collector's log folded in and its counts on the coarsest grid among them,
	// each on a goroutine of its own (they share nothing; the workers are done).
	shift := uint8(0)
	for _, c := range cs {
		shift = max(shift, c.shift)
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.coarsen(shift) })
	}
	wg.Wait()
	all := cs[0]
	for _, c := range cs[1:] {
		c.coarsen(all.shift) // coarser once merged with the ones before
		hostIx := make([]int32, len(c.hosts))
		for a, i := range c.hosts {
			j := all.host(a)
			hostIx[i] = j
			all.hostTW[j] += c.hostTW[i]
		}
		pairIx := make([]int32, len(c.pairs))
		for pk, i := range c.pairs {
			j, ok := all.pairs[pk]
			if !ok {
				j = int32(len(all.pairs))
				all.pairs[pk] = j
				all.pairOpen = append(all.pairOpen, 0)
			}
			pairIx[i] = j
			all.pairOpen[j] += c.pairOpen[i]
		}
		// c's counts in all's series, then both on the finest grid on which they fit
		// together (coarsening each, not their merge: a coarser grid has fewer keys),
		// merged.
		c.times, c.spare = c.renumbered(hostIx, pairIx), c.times[:0]
		if all.shift < maxShift && !fitsOn(all.times, c.times, all.shift, all.shift, all.maxTimes) {
			shift := finestFit(all.times, c.times, all.shift, all.maxTimes)
			all.coarsen(shift)
			c.coarsen(shift)
		}
		all.times, all.spare = mergeCounts(all.spare[:0], all.times, c.times), all.times[:0]
		c.times, c.log, c.spare = nil, nil, nil
		for sv, n := range c.closers {
			if m := all.closers[sv]; m != nil {
				m[0] += n[0]
				m[1] += n[1]
			} else {
				all.closers[sv] = n
			}
		}
		if !all.atOK && c.atOK {
			all.atT, all.atOK = c.atT, true
		}
		for _, m := range [2][2]map[netip.Addr]*stateCounts{{all.atEnd, c.atEnd}, {all.atAsked, c.atAsked}} {
			for h, n := range m[1] {
				if o := m[0][h]; o != nil {
					for i := range o {
						o[i] += n[i]
					}
				} else {
					m[0][h] = n
				}
			}
		}
	}
	all.compact()
	return all
}

// renumbered returns c's times (folded, on the grid of the collector they go to)
// with the hosts and pairs of their series numbered as that collector numbers them
// (hostIx, pairIx: its index of each of c's), in its order. The counts of a series
// are a run of times sorted by instant, and no two series get one number: the runs
// are put in the order of their new series, each copied once, not sorted again.
func (c *PictureCollector) renumbered(hostIx, pairIx []int32) []timeCount {
	type run struct {
		series     int32 // the new one
		start, end int
	}
	var runs []run
	for i := 0; i < len(c.times); {
		j := i + 1
		for j < len(c.times) && c.times[j].k.series == c.times[i].k.series {
			j++
		}
		kind, index := c.times[i].k.series%seriesKinds, c.times[i].k.series/seriesKinds
		switch kind {
		case seriesTimeWait:
			index = hostIx[index]
		case seriesTied:
			index = pairIx[index]
		}
		runs = append(runs, run{kind + seriesKinds*index, i, j})
		i = j
	}
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.series, b.series) })
	out := slices.Grow(c.spare[:0], len(c.times))
	for _, r := range runs {
		for _, e := range c.times[r.start:r.end] {
			e.k.series = r.series
			out = append(out, e)
		}
	}
	return out
}

// pictures renders what one collector (all merged into it) holds.
func (c *PictureCollector) pictures(v ViewOptions, first, last time.Time) *Pictures {
	start, end := reassembly.InstantOf(first), reassembly.InstantOf(last)
	c.compact()
	// The counts are sorted by series: each series' edges are a run of one slice,
	// capped (the edge of the spans still open, appended below, goes to a copy).
	all := make([]analyzer.Edge, len(c.times))
	series := map[int32][]analyzer.Edge{}
	run := 0
	for i, e := range c.times {
		all[i] = analyzer.Edge{At: e.k.at, Up: int(e.v[0]), Down: int(e.v[1])}
		if i+1 == len(c.times) || c.times[i+1].k.series != e.k.series {
			series[e.k.series] = all[run : i+1 : i+1]
			run = i + 1
		}
	}
	edges := func(kind int, index int32) []analyzer.Edge {
		es := series[int32(kind)+seriesKinds*index]
		analyzer.SortEdges(es)
		return es
	}
	p := &Pictures{Steps: map[string][]analyzer.TimeWaitStep{}}
	hosts := make([]netip.Addr, 0, len(c.hosts))
	for a := range c.hosts {
		hosts = append(hosts, a)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Less(hosts[j]) })
	for _, a := range hosts {
		h := c.hosts[a]
		if c.hostTW[h] == 0 {
			continue
		}
		es := edges(seriesTimeWait, h)
		p.TimeWait.Hosts = append(p.TimeWait.Hosts, analyzer.TimeWaitHostOf(a.String(), es, start, end, int(c.hostTW[h])))
		p.Steps[a.String()] = analyzer.EdgeSteps(es, start, end, MaxTimeWaitSteps)
	}
	for sv, n := range c.closers {
		p.TimeWait.Closers = append(p.TimeWait.Closers, analyzer.NewCloserShare(analyzer.EndpointString(sv), int(n[0]), int(n[1])))
	}
	for pk, pi := range c.pairs {
		es := edges(seriesTied, pi)
		if n := c.pairOpen[pi]; n > 0 {
			// Spans open at the end of the capture end there.
			es = append(es, analyzer.Edge{At: ceilTo(end, c.shift), Down: int(n)})
			analyzer.SortEdges(es)
		}
		peak, at, _ := analyzer.EdgePeak(es, end)
		p.TimeWait.PortPressure = append(p.TimeWait.PortPressure,
			analyzer.NewPortPressure(pk.client.String(), analyzer.EndpointString(pk.server), peak, at, v.Ports, v.PortPressure))
	}
	analyzer.SortTimeWaitReport(&p.TimeWait)
	for i := range CloseShapes {
		for _, e := range edges(seriesCloses, int32(i)) {
			cc := CloseCounts{At: e.At.Time().UTC()}
			cc.Counts[i] = e.Up
			p.Closes = append(p.Closes, cc)
		}
	}
	if p.Closes == nil {
		p.Closes = []CloseCounts{}
	}
	p.States = append(p.States, statesOf(c.atEnd, last, false))
	if v.At != "" {
		at, _ := ParseAt(v.At, first) // checked by resolve
		if c.atOK {
			at = c.atT // the moment the collectors counted at
		}
		p.States = append(p.States, statesOf(c.atAsked, at, true))
	}
	return p
}

func statesOf(m map[netip.Addr]*stateCounts, at time.Time, asked bool) StatesAt {
	out := StatesAt{At: at.UTC(), States: make(map[string]map[string]int), Asked: asked}
	for _, h := range analyzer.SortedHosts(m) {
		st := map[string]int{}
		for i, n := range m[h] {
			if n > 0 {
				st[analyzer.StateNames[i]] = int(n)
			}
		}
		out.Hosts = append(out.Hosts, h.String())
		out.States[h.String()] = st
	}
	return out
}

package report

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
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
	seriesCloses          // closes of a shape (index: closeShapes)
	seriesKinds
)

// timeKey is an instant (rounded to the grid) of one series.
type timeKey struct {
	at     reassembly.Instant
	series int32 // kind + seriesKinds*index
}

// closeShapes are the shapes the closes per second count (as the HTML report).
var closeShapes = []analyzer.Shape{analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose, analyzer.Reset, analyzer.Unfinished}

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

	shift   uint8 // the grid: instants rounded to multiples of 1<<shift ns
	times   map[timeKey][2]int32
	scratch []timeCount // coarsen's copy of times
	// maxTimes bounds times: MaxPictureTimes (tests lower it to coarsen the grid
	// of a small capture).
	maxTimes int
	// Up (spans starting, closes) at [0], down (spans ending) at [1].

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
	return &PictureCollector{twLen: twLen, at: at, times: map[timeKey][2]int32{}, maxTimes: MaxPictureTimes,
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
	if i := slices.Index(closeShapes, shape); i >= 0 {
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
	c.fit()
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
	k := timeKey{floorTo(from, c.shift), int32(kind) + seriesKinds*index}
	v := c.times[k]
	v[0]++
	c.times[k] = v
	k.at = ceilTo(to, c.shift)
	v = c.times[k]
	v[1]++
	c.times[k] = v
}

// point counts an instant in a series.
func (c *PictureCollector) point(kind int, index int32, at reassembly.Instant) {
	k := timeKey{floorTo(at, c.shift), int32(kind) + seriesKinds*index}
	v := c.times[k]
	v[0]++
	c.times[k] = v
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

// coarsen moves every instant onto the grid of 1<<shift ns: starts and points down,
// ends up (a multiple of a coarser grid is one of every finer one, so the result
// is as if every instant had been rounded once). The map is emptied and filled
// again, keeping its room (bounded) rather than taking a new one per step: moved
// in place, each key deleted left a tombstone, and the lookups of the next step
// probed through them.
func (c *PictureCollector) coarsen(shift uint8) {
	if shift <= c.shift {
		return
	}
	from := c.shift
	c.shift = shift
	old := c.scratch[:0]
	for k, v := range c.times {
		old = append(old, timeCount{k, v})
	}
	clear(c.times)
	add := func(k timeKey, v [2]int32) {
		w := c.times[k]
		w[0] += v[0]
		w[1] += v[1]
		c.times[k] = w
	}
	for _, e := range old {
		k, v := e.k, e.v
		if v[0] != 0 {
			add(timeKey{floorTo(k.at, shift), k.series}, [2]int32{v[0], 0})
		}
		if v[1] != 0 {
			add(timeKey{ceilFrom(k.at, from, shift), k.series}, [2]int32{0, v[1]})
		}
	}
	c.scratch = old[:0]
}

// timeCount is an entry of PictureCollector.times.
type timeCount struct {
	k timeKey
	v [2]int32
}

// fit coarsens the grid, while the instants are more than maxTimes, to the finest
// on which they are not (maxShift at most): what coarsening one step at a time
// until they fit gives, found without rounding the map at every step. Instants
// that start something round down, those that end something up, so a finer grid
// can hold more keys than a coarser one: the number of keys at each grid is
// counted, finest first, on the instants sorted (a pass each), and the map is
// rounded once.
func (c *PictureCollector) fit() {
	if len(c.times) <= c.maxTimes || c.shift >= maxShift {
		return
	}
	var starts, ends []timeKey
	for k, v := range c.times {
		if v[0] != 0 {
			starts = append(starts, k)
		}
		if v[1] != 0 {
			ends = append(ends, k)
		}
	}
	byTime := func(a, b timeKey) int {
		if a.series != b.series {
			return cmp.Compare(a.series, b.series)
		}
		return cmp.Compare(a.at, b.at)
	}
	slices.SortFunc(starts, byTime)
	slices.SortFunc(ends, byTime)
	shift := c.shift + 1
	for shift < maxShift && !fitsOn(starts, ends, c.shift, shift, c.maxTimes) {
		shift++
	}
	c.coarsen(shift)
}

// fitsOn says whether the keys of the instants on the grid of 1<<from ns rounded to
// the grid of 1<<shift, starts (sorted) down and ends (sorted) up, are at most max:
// the two sequences (both rounded in order) merged, equal neighbours counted once.
func fitsOn(starts, ends []timeKey, from, shift uint8, max int) bool {
	n := 0
	var last timeKey
	for i, j := 0, 0; i < len(starts) || j < len(ends); {
		var k timeKey
		if j < len(ends) {
			k = timeKey{ceilFrom(ends[j].at, from, shift), ends[j].series}
		}
		if i < len(starts) {
			s := timeKey{floorTo(starts[i].at, shift), starts[i].series}
			if j == len(ends) || s.series < k.series || s.series == k.series && s.at <= k.at {
				k = s
				i++
			} else {
				j++
			}
		} else {
			j++
		}
		if n == 0 || k != last {
			if n++; n > max {
				return false
			}
			last = k
		}
	}
	return true
}

// MergePictures sums the collectors of a capture [first, last] into its Pictures:
// the same whatever the number of collectors its incarnations were shared out
// among. The instants are on the grid one collector fed every incarnation would
// have reached: the finest on which they fit MaxPictureTimes (the bound of the
// collectors, all the same).
func MergePictures(cs []*PictureCollector, v ViewOptions, first, last time.Time) *Pictures {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *PictureCollector) bool { return c == nil })
	if len(cs) == 0 {
		return nil
	}
	all := cs[0]
	for _, c := range cs[1:] {
		all.coarsen(c.shift)
		c.coarsen(all.shift)
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
		for k, val := range c.times {
			kind, index := k.series%seriesKinds, k.series/seriesKinds
			switch kind {
			case seriesTimeWait:
				index = hostIx[index]
			case seriesTied:
				index = pairIx[index]
			}
			k.series = kind + seriesKinds*index
			w := all.times[k]
			w[0] += val[0]
			w[1] += val[1]
			all.times[k] = w
		}
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
	all.fit()
	return all.pictures(v, first, last)
}

// pictures renders what one collector (all merged into it) holds.
func (c *PictureCollector) pictures(v ViewOptions, first, last time.Time) *Pictures {
	start, end := reassembly.InstantOf(first), reassembly.InstantOf(last)
	series := map[int32][]analyzer.Edge{}
	for k, val := range c.times {
		series[k.series] = append(series[k.series], analyzer.Edge{At: k.at, Up: int(val[0]), Down: int(val[1])})
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
	for i := range closeShapes {
		for _, e := range edges(seriesCloses, int32(i)) {
			p.Closes = append(p.Closes, CloseCounts{At: e.At.Time().UTC(), Counts: map[analyzer.Shape]int{closeShapes[i]: e.Up}})
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

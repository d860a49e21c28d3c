package report

import (
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestPictureCollectorGrid: past MaxPictureTimes instants the collector rounds them
// to a coarser grid; the pictures are then the same however the incarnations were
// shared out among collectors and in whatever order, and a host's TIME_WAIT peak
// stays within the count of every connection's span (rounded outwards, never lost).
func TestPictureCollectorGrid(t *testing.T) {
	r, err := capture.Open([]string{"../../testdata/pcaps/many-connections.pcap"}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	tr := reassembly.NewTracker(reassembly.Config{TimeWait: reassembly.DefaultTimeWait})
	var seg capture.Segment
	for {
		if err := r.Next(&seg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		tr.Add(&seg)
	}
	st := r.Stats()
	tr.Finish(reassembly.InstantOf(st.Last))
	incs := tr.Incarnations()
	v := ViewOptions{Ports: analyzer.LinuxPortRange(), PortPressure: 0.5}
	collect := func(bound, n int, reverse bool) *Pictures {
		cs := make([]*PictureCollector, n)
		for i := range cs {
			cs[i] = NewPictureCollector(reassembly.DefaultTimeWait, nil)
			cs[i].maxTimes = bound
		}
		for i := range incs {
			j := i
			if reverse {
				j = len(incs) - 1 - i
			}
			cs[j%n].Add(incs[j])
		}
		return MergePictures(cs, v, st.First, st.Last)
	}
	exact := collect(MaxPictureTimes, 1, false)
	for _, bound := range []int{64, 16, 4} {
		one := collect(bound, 1, false)
		if reflect.DeepEqual(one.TimeWait, exact.TimeWait) {
			t.Errorf("bound %d: the pictures of %d connections are exact", bound, len(incs))
		}
		for _, n := range []int{2, 3, 5} {
			for _, rev := range []bool{false, true} {
				if got := collect(bound, n, rev); !reflect.DeepEqual(got, one) {
					t.Errorf("bound %d, %d collectors (reversed %v): the pictures differ from one collector's", bound, n, rev)
				}
			}
		}
		for i, h := range one.TimeWait.Hosts {
			e := exact.TimeWait.Hosts[i]
			if h.Host != e.Host || h.Total != e.Total || h.Peak < e.Peak || h.Peak > e.Total {
				t.Errorf("bound %d: host %+v, exact %+v", bound, h, e)
			}
		}
	}
}

// TestPictureCollectorFit: fit gives the grid and the counts coarsening one step at
// a time until the instants fit gives (stepCoarsen: each instant rounded by every
// step, the map rounded in place), on random instants of several series: starts,
// ends and both at one instant, near and far apart, bounds from none fitting to
// all.
func TestPictureCollectorFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for round := range 300 {
		c := NewPictureCollector(reassembly.DefaultTimeWait, nil)
		c.maxTimes = 1 + rng.IntN(64)
		c.logMax = 1 << 30 // folded once, below
		c.shift = uint8(rng.IntN(3))
		want := map[timeKey][2]int32{}
		for range rng.IntN(200) {
			at := reassembly.Instant(rng.Int64N(randomSpread(rng)))
			if rng.IntN(8) == 0 {
				at = 1<<63 - 1 - reassembly.Instant(rng.Int64N(1<<20)) // ends that stay
			}
			k := timeKey{floorTo(at, c.shift), int32(rng.IntN(4))}
			var v [2]int32
			switch rng.IntN(3) {
			case 0:
				v[0]++
			case 1:
				v[1]++
			default:
				v[0]++
				v[1]++
			}
			c.add(timeCount{k, v})
			w := want[k]
			want[k] = [2]int32{w[0] + v[0], w[1] + v[1]}
		}
		wantShift := c.shift
		for len(want) > c.maxTimes && wantShift < maxShift {
			wantShift++
			stepCoarsen(want, wantShift)
		}
		c.compact()
		if got := countsMap(t, c.times); c.shift != wantShift || !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (bound %d): fit gives grid %d and %d instants, stepping grid %d and %d", round, c.maxTimes, c.shift, len(got), wantShift, len(want))
		}
	}
}

// TestPictureCollectorLog: counts added span by span and point by point, their log
// folded in whenever it fills (logMax from 1 to all of them), in one collector or
// shared out among several merged, end on the grid and with the counts of every
// instant rounded once to the finest grid on which they fit (stepping, as
// TestPictureCollectorFit), what fitting after every count gave.
func TestPictureCollectorLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 3))
	for round := range 400 {
		maxTimes := 1 + rng.IntN(48)
		type count struct {
			kind     int
			index    int32
			from, to reassembly.Instant // to < 0: a point
		}
		var counts []count
		spread := randomSpread(rng)
		for range rng.IntN(150) {
			from := reassembly.Instant(rng.Int64N(spread))
			c := count{kind: seriesCloses, index: int32(rng.IntN(3)), from: from, to: -1}
			if rng.IntN(3) > 0 {
				// A span of the one host's TIME_WAIT (the merge maps host indexes).
				c.kind, c.index, c.to = seriesTimeWait, 0, from+reassembly.Instant(rng.Int64N(spread))
				if rng.IntN(8) == 0 {
					c.to = 1<<63 - 1 - reassembly.Instant(rng.Int64N(1<<20))
				}
			}
			counts = append(counts, c)
		}
		// The oracle: every count at grid 0, then stepped.
		want := map[timeKey][2]int32{}
		bump := func(k timeKey, i int) {
			v := want[k]
			v[i]++
			want[k] = v
		}
		for _, c := range counts {
			series := int32(c.kind) + seriesKinds*c.index
			bump(timeKey{c.from, series}, 0)
			if c.to >= 0 {
				bump(timeKey{c.to, series}, 1)
			}
		}
		wantShift := uint8(0)
		for len(want) > maxTimes && wantShift < maxShift {
			wantShift++
			stepCoarsen(want, wantShift)
		}
		n := 1 + rng.IntN(3)
		cs := make([]*PictureCollector, n)
		for i := range cs {
			cs[i] = NewPictureCollector(reassembly.DefaultTimeWait, nil)
			cs[i].maxTimes, cs[i].logMax = maxTimes, 1+rng.IntN(2*len(counts)+1)
			cs[i].host(netip.AddrFrom4([4]byte{10, 0, 0, 1})) // series indexes kept by the merge
		}
		for i, c := range counts {
			pc := cs[i%n]
			if c.to >= 0 {
				pc.span(c.kind, c.index, c.from, c.to)
			} else {
				pc.point(c.kind, c.index, c.from)
			}
		}
		all := cs[0]
		if n > 1 {
			mergeCollectors(cs)
		} else {
			all.compact()
		}
		if got := countsMap(t, all.times); all.shift != wantShift || !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d (bound %d, %d collectors): grid %d and %d instants, stepping grid %d and %d",
				round, maxTimes, n, all.shift, len(got), wantShift, len(want))
		}
	}
}

// TestMergePicturesRenumbers: collectors that met the hosts and client → server
// pairs in different orders number their series differently; merged, every count is
// in the series of its own host or pair (the merge renumbers the others' series and
// puts them in its order), sorted and summed with the counts of the same instant.
func TestMergePicturesRenumbers(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	hosts := make([]netip.Addr, 6)
	pairs := make([]pairKey, 6)
	for i := range hosts {
		hosts[i] = netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})
		pairs[i] = pairKey{hosts[i], netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 2, byte(i % 2)}), 80)}
	}
	// name of a series: its kind and which host, pair or shape, whatever the number.
	type name struct {
		kind, which int
	}
	type key struct {
		name name
		at   reassembly.Instant
	}
	for round := range 200 {
		n := 2 + rng.IntN(3)
		cs := make([]*PictureCollector, n)
		index := make([]map[name]int32, n) // each collector's number of each series
		for i := range cs {
			c := NewPictureCollector(reassembly.DefaultTimeWait, nil)
			index[i] = map[name]int32{}
			for _, h := range rng.Perm(len(hosts))[:rng.IntN(len(hosts)+1)] {
				index[i][name{seriesTimeWait, h}] = c.host(hosts[h])
			}
			for _, p := range rng.Perm(len(pairs))[:rng.IntN(len(pairs)+1)] {
				c.pairs[pairs[p]] = int32(len(c.pairs))
				c.pairOpen = append(c.pairOpen, 0)
				index[i][name{seriesTied, p}] = c.pairs[pairs[p]]
			}
			cs[i] = c
		}
		want := map[key][2]int32{}
		for range rng.IntN(300) {
			i := rng.IntN(n)
			names := make([]name, 0, len(index[i])+1)
			for nm := range index[i] {
				names = append(names, nm)
			}
			slices.SortFunc(names, func(a, b name) int { return a.kind*100 + a.which - b.kind*100 - b.which })
			names = append(names, name{seriesCloses, rng.IntN(len(CloseShapes))})
			nm := names[rng.IntN(len(names))]
			ix := int32(nm.which)
			if nm.kind != seriesCloses {
				ix = index[i][nm]
			}
			from := reassembly.Instant(rng.Int64N(1 << 20))
			to := from + reassembly.Instant(rng.Int64N(1<<20))
			cs[i].span(nm.kind, ix, from, to)
			v := want[key{nm, from}]
			v[0]++
			want[key{nm, from}] = v
			v = want[key{nm, to}]
			v[1]++
			want[key{nm, to}] = v
		}
		all := cs[0]
		mergeCollectors(cs)
		hostOf := map[int32]int{}
		for h, a := range hosts {
			if i, ok := all.hosts[a]; ok {
				hostOf[i] = h
			}
		}
		pairOf := map[int32]int{}
		for p, pk := range pairs {
			if i, ok := all.pairs[pk]; ok {
				pairOf[i] = p
			}
		}
		got := map[key][2]int32{}
		for k, v := range countsMap(t, all.times) {
			kind, ix := int(k.series%seriesKinds), k.series/seriesKinds
			nm := name{kind, int(ix)}
			switch kind {
			case seriesTimeWait:
				nm.which = hostOf[ix]
			case seriesTied:
				nm.which = pairOf[ix]
			}
			got[key{nm, k.at}] = v
		}
		if all.shift != 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d, %d collectors: grid %d, %d instants merged, want %d", round, n, all.shift, len(got), len(want))
		}
	}
}

// randomSpread picks how far apart random instants are.
func randomSpread(rng *rand.Rand) int64 {
	return []int64{1 << 10, 1 << 20, 1 << 40, 1 << 62}[rng.IntN(4)]
}

// countsMap returns sorted counts as a map, failing unless they are sorted with
// one entry per key, none empty.
func countsMap(t *testing.T, ts []timeCount) map[timeKey][2]int32 {
	t.Helper()
	m := map[timeKey][2]int32{}
	for i, e := range ts {
		if i > 0 && byKey(ts[i-1], e) >= 0 {
			t.Fatalf("counts not sorted at %d: %v then %v", i, ts[i-1], e)
		}
		if e.v == [2]int32{} {
			t.Fatalf("an empty count: %v", e)
		}
		m[e.k] = e.v
	}
	return m
}

// stepCoarsen rounds the instants of m onto the grid of 1<<shift ns in place, as
// coarsen did before it rebuilt the map.
func stepCoarsen(m map[timeKey][2]int32, shift uint8) {
	for k, v := range m {
		if floorTo(k.at, shift) == k.at || v[0] == 0 && ceilTo(k.at, shift) == k.at {
			continue
		}
		delete(m, k)
		if v[0] != 0 {
			up := timeKey{floorTo(k.at, shift), k.series}
			w := m[up]
			w[0] += v[0]
			m[up] = w
		}
		if v[1] != 0 {
			down := timeKey{ceilTo(k.at, shift), k.series}
			w := m[down]
			w[1] += v[1]
			m[down] = w
		}
	}
}

// TestSortCounts: the radix sort orders counts as a comparison sort does (byKey,
// stable), on instants anywhere in the range of Instant, near and far apart, one
// series and many, lengths around its threshold, buffers short, long and none.
func TestSortCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2))
	for round := range 500 {
		n := rng.IntN(3000)
		if round%5 == 0 {
			n = rng.IntN(130)
		}
		spread := randomSpread(rng)
		base := reassembly.Instant(int64(rng.Uint64()))
		series := []int32{1, 7, 1 << 12, 1 << 30}[rng.IntN(4)]
		es := make([]timeCount, n)
		for i := range es {
			es[i] = timeCount{timeKey{base + reassembly.Instant(rng.Int64N(spread)), rng.Int32N(series)}, [2]int32{int32(i), 0}}
			if round%7 == 0 {
				es[i].k.at = reassembly.Instant(int64(rng.Uint64())) // wrapping: anywhere
			}
		}
		want := slices.Clone(es)
		slices.SortStableFunc(want, byKey)
		buf := make([]timeCount, rng.IntN(2*n+1))
		got, other := sortCounts(es, buf)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (%d counts, %d series): the radix sort differs from a stable comparison sort", round, n, series)
		}
		if len(got) > 0 && len(other) > 0 && &got[0] == &other[0] {
			t.Fatalf("round %d: the sorted counts and the other buffer share memory", round)
		}
	}
}

// TestFinestFit: finestFit gives the grid coarsening one step at a time gives (the
// first on which fitsOn says the keys of a and b together fit, or maxShift), and
// keysByGrid counts the keys of the starts on every grid as rounding each does, and
// of the ends too below 2^62 ns; on random sorted counts of several series, one
// list or two, near and far apart, negative and near the end of time, from finer
// and coarser grids, with bounds from none fitting to all. Some of them hold more
// keys on a coarser grid than on a finer one.
func TestFinestFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 4))
	list := func(from uint8, late reassembly.Instant) []timeCount {
		m := map[timeKey][2]int32{}
		spread := randomSpread(rng)
		for range rng.IntN(120) {
			at := reassembly.Instant(rng.Int64N(spread) - spread/4)
			if late != 0 && rng.IntN(6) == 0 {
				at = late - reassembly.Instant(rng.Int64N(1<<12))
			}
			k := timeKey{floorTo(at, from), int32(rng.IntN(3))}
			v := m[k]
			v[rng.IntN(2)]++
			if rng.IntN(4) == 0 {
				v[1-rng.IntN(2)]++ // both starts and ends at one key
			}
			m[k] = v
		}
		var out []timeCount
		for k, v := range m {
			out = append(out, timeCount{k, v})
		}
		slices.SortFunc(out, byKey)
		return out
	}
	coarserHoldsMore := 0
	for round := range 3000 {
		from := uint8(rng.IntN(4)) * uint8(rng.IntN(9))
		late := [...]reassembly.Instant{0, 1 << 62, 1<<63 - 1}[round%3]
		a, b := list(from, late), list(from, late)
		if rng.IntN(3) == 0 {
			b = nil
		}
		for _, ends := range []bool{false, true} {
			got, latest := keysByGrid(a, b, ends)
			for s := from; s <= maxShift; s++ {
				keys := map[timeKey]bool{}
				for _, e := range slices.Concat(a, b) {
					switch {
					case !ends && e.v[0] != 0:
						keys[timeKey{floorTo(e.k.at, s), e.k.series}] = true
					case ends && e.v[1] != 0:
						keys[timeKey{ceilFrom(e.k.at, from, s), e.k.series}] = true
					}
				}
				if got[s] != len(keys) && (!ends || latest < 1<<62) {
					t.Fatalf("round %d: keysByGrid(ends %v) on grid %d: %d keys, rounding each gives %d", round, ends, s, got[s], len(keys))
				}
			}
		}
		max := 1 + rng.IntN(len(a)+len(b)+1)
		want, fitted := uint8(maxShift), false
		for s := from + 1; s < maxShift; s++ {
			fits := fitsOn(a, b, from, s, max)
			if fits && !fitted {
				want, fitted = s, true
			} else if !fits && fitted {
				coarserHoldsMore++
				break
			}
		}
		if got := finestFit(a, b, from, max); got != want {
			t.Fatalf("round %d (from %d, bound %d, %d and %d counts): finestFit %d, coarsening step by step %d", round, from, max, len(a), len(b), got, want)
		}
	}
	if coarserHoldsMore == 0 {
		t.Error("no round had a coarser grid holding more keys than the first that fits")
	}
	t.Logf("%d rounds of 3000 had a coarser grid holding more keys than the first that fits", coarserHoldsMore)
}

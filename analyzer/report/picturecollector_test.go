package report

import (
	"io"
	"math/rand/v2"
	"reflect"
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
		c.shift = uint8(rng.IntN(3))
		spread := []int64{1 << 10, 1 << 20, 1 << 40, 1 << 62}[rng.IntN(4)]
		for range rng.IntN(200) {
			at := reassembly.Instant(rng.Int64N(spread))
			if rng.IntN(8) == 0 {
				at = 1<<63 - 1 - reassembly.Instant(rng.Int64N(1<<20)) // ends that stay
			}
			k := timeKey{floorTo(at, c.shift), int32(rng.IntN(4))}
			v := c.times[k]
			switch rng.IntN(3) {
			case 0:
				v[0]++
			case 1:
				v[1]++
			default:
				v[0]++
				v[1]++
			}
			c.times[k] = v
		}
		want := map[timeKey][2]int32{}
		for k, v := range c.times {
			want[k] = v
		}
		wantShift := c.shift
		for len(want) > c.maxTimes && wantShift < maxShift {
			wantShift++
			stepCoarsen(want, wantShift)
		}
		c.fit()
		if c.shift != wantShift || !reflect.DeepEqual(c.times, want) {
			t.Fatalf("round %d (bound %d): fit gives grid %d and %d instants, stepping grid %d and %d", round, c.maxTimes, c.shift, len(c.times), wantShift, len(want))
		}
	}
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

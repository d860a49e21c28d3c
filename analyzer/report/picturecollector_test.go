package report

import (
	"io"
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

package report

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// TestMergeView: the TIME_WAIT hosts and the port pressure MergeOverviewAndView
// sweeps from the spans the collectors of several workers sorted (the overviews',
// the peaks of which TestMergePeaks checks) are those of all the spans at
// once (analyzer.TimeWaitHostOf of each host's edges, analyzer.Peak of each pair's
// spans per port, a span still open tied up until the end of the capture): in
// memory and in runs on disk, with hosts and pairs whose hashes collide, spans that
// start at the capture's last instant, IPv4 and IPv6. The temporary files are gone
// after the merge.
func TestMergeView(t *testing.T) {
	const end = 400
	for _, tc := range []struct {
		workers int
		bound   spill.Options
		collide bool
	}{
		{1, spill.Options{}, false},
		{2, spill.Options{}, true},
		{3, spill.Options{MaxRecords: 7}, false},
		{2, spill.Options{MaxRecords: 5, MaxRuns: 2}, true},
	} {
		t.Run(fmt.Sprintf("%d/%+v/collide=%v", tc.workers, tc.bound, tc.collide), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.workers), 11))
			hosts := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("::ffff:10.0.0.1")}
			servers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.9:80"), netip.MustParseAddrPort("[fd00::9]:80")}
			dir := t.TempDir()
			tc.bound.Dir = dir
			cs := make([]*OverviewCollector, tc.workers)
			vs := make([]*ViewCollector, tc.workers)
			for i := range cs {
				cs[i] = NewOverviewCollector(time.Minute, tc.bound.Share(tc.workers))
				vs[i] = NewViewCollector(time.Minute, nil)
				if tc.collide {
					cs[i].hash = func([]byte) uint64 { return 42 }
				}
			}
			tw := map[netip.Addr]map[reassembly.Instant]*analyzer.Edge{}
			twTotal := map[netip.Addr]int{}
			tied := map[pairKey]map[uint16][]analyzer.Interval{}
			for range 3000 {
				from := reassembly.Instant(rng.IntN(end + 1))
				if rng.IntN(20) == 0 {
					from = end
				}
				iv := analyzer.Interval{From: from, To: from + 1 + reassembly.Instant(rng.IntN(40))}
				c := cs[rng.IntN(len(cs))]
				if rng.IntN(2) == 0 {
					h := hosts[rng.IntN(len(hosts))]
					c.addTimeWait(h, iv)
					if tw[h] == nil {
						tw[h] = map[reassembly.Instant]*analyzer.Edge{}
					}
					for _, e := range []struct {
						at       reassembly.Instant
						up, down int
					}{{iv.From, 1, 0}, {iv.To, 0, 1}} {
						if tw[h][e.at] == nil {
							tw[h][e.at] = &analyzer.Edge{At: e.at}
						}
						tw[h][e.at].Up += e.up
						tw[h][e.at].Down += e.down
					}
					twTotal[h]++
					continue
				}
				client := netip.AddrPortFrom(hosts[rng.IntN(len(hosts))], uint16(1+rng.IntN(12)))
				k := pairKey{client.Addr(), servers[rng.IntN(len(servers))]}
				want := iv
				if rng.IntN(8) == 0 { // open at the end of the capture
					iv.To = openTied
					want.To = max(end, iv.From+1)
				}
				c.addTied(client, k.server, iv)
				if tied[k] == nil {
					tied[k] = map[uint16][]analyzer.Interval{}
				}
				tied[k][client.Port()] = append(tied[k][client.Port()], want)
			}
			first, last := reassembly.Instant(0).Time(), reassembly.Instant(end).Time()
			v := ViewOptions{Ports: analyzer.LinuxPortRange(), PortPressure: 0.001}
			_, got, err := MergeOverviewAndView(cs, vs, v, first, last)
			if err != nil {
				t.Fatal(err)
			}
			var want analyzer.TimeWaitReport
			for _, h := range analyzer.SortedHosts(tw) {
				var es []analyzer.Edge
				for _, e := range tw[h] {
					es = append(es, *e)
				}
				analyzer.SortEdges(es)
				want.Hosts = append(want.Hosts, analyzer.TimeWaitHostOf(h.String(), es, 0, end, twTotal[h]))
			}
			for k, byPort := range tied {
				n, at := analyzer.Peak(byPort)
				want.PortPressure = append(want.PortPressure, analyzer.NewPortPressure(k.client.String(), analyzer.EndpointString(k.server), n, at, v.Ports, v.PortPressure))
			}
			analyzer.SortTimeWaitReport(&want)
			if !reflect.DeepEqual(got.TimeWait.Hosts, want.Hosts) {
				t.Errorf("TIME_WAIT hosts:\n got %+v\nwant %+v", got.TimeWait.Hosts, want.Hosts)
			}
			if !reflect.DeepEqual(got.TimeWait.PortPressure, want.PortPressure) {
				t.Errorf("port pressure:\n got %+v\nwant %+v", got.TimeWait.PortPressure, want.PortPressure)
			}
			if !slices.ContainsFunc(want.PortPressure, func(p analyzer.PortPressure) bool { return p.PeakPorts > 1 }) {
				t.Error("no pair with more than one port tied up at once: the spans test little")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

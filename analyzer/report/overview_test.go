package report

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// TestMergePeaks: the peaks MergeOverview sweeps from the spans the collectors of
// several workers sorted are those analyzer.PeakOf (each host's TIME_WAIT) and
// analyzer.Peak (each client's ports per server endpoint, the highest kept, ties to
// the least endpoint) give of all the spans at once: in memory and in runs on disk,
// with hosts and pairs whose hashes collide (every group one hash), IPv4 and IPv6.
// The temporary files are gone after the merge.
func TestMergePeaks(t *testing.T) {
	for _, tc := range []struct {
		workers int
		bound   spill.Options
		collide bool
		runs    bool
	}{
		{1, spill.Options{}, false, false},
		{2, spill.Options{}, false, false},
		{2, spill.Options{}, true, false},
		{3, spill.Options{MaxRecords: 7}, false, true},
		{2, spill.Options{MaxRecords: 5, MaxRuns: 2}, true, true},
		{4, spill.Options{MaxBytes: 64}, true, true},
	} {
		t.Run(fmt.Sprintf("%d/%+v/collide=%v", tc.workers, tc.bound, tc.collide), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.workers), 7))
			hosts := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("::ffff:10.0.0.1")}
			servers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.9:80"), netip.MustParseAddrPort("10.0.0.9:443"), netip.MustParseAddrPort("[fd00::9]:80")}
			dir := t.TempDir()
			tc.bound.Dir = dir
			cs := make([]*OverviewCollector, tc.workers)
			for i := range cs {
				cs[i] = NewOverviewCollector(time.Minute, tc.bound.Share(tc.workers))
				if tc.collide {
					cs[i].hash = func([]byte) uint64 { return 42 }
				}
			}
			tw := map[netip.Addr][]analyzer.Interval{}
			tied := map[pairKey]map[uint16][]analyzer.Interval{}
			for range 3000 {
				from := reassembly.Instant(rng.IntN(400))
				iv := analyzer.Interval{From: from, To: from + reassembly.Instant(rng.IntN(40))}
				c := cs[rng.IntN(len(cs))]
				if rng.IntN(2) == 0 {
					h := hosts[rng.IntN(len(hosts))]
					c.addTimeWait(h, iv)
					tw[h] = append(tw[h], iv)
					continue
				}
				iv.To = max(iv.To, iv.From+1) // as Add ties a port
				client := netip.AddrPortFrom(hosts[rng.IntN(len(hosts))], uint16(1+rng.IntN(12)))
				k := pairKey{client.Addr(), servers[rng.IntN(len(servers))]}
				c.addTied(client, k.server, iv)
				if tied[k] == nil {
					tied[k] = map[uint16][]analyzer.Interval{}
				}
				tied[k][client.Port()] = append(tied[k][client.Port()], iv)
			}
			runs := 0
			for _, c := range cs {
				runs += c.spans.Runs()
			}
			if (runs > 0) != tc.runs {
				t.Errorf("%d runs written, want some: %v", runs, tc.runs)
			}
			twPeak, portPeak, err := mergePeaks(cs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(twPeak) != len(tw) {
				t.Errorf("%d hosts with TIME_WAIT peaks, want %d", len(twPeak), len(tw))
			}
			for h, ivs := range tw {
				n, at := analyzer.PeakOf(ivs)
				if got, want := twPeak[h], (peak{n, at.Time().UTC()}); got != want {
					t.Errorf("%v: TIME_WAIT peak %+v, want %+v", h, got, want)
				}
			}
			wantPorts := map[netip.Addr]Party{}
			for k, byPort := range tied {
				n, at := analyzer.Peak(byPort)
				if p, ok := wantPorts[k.client]; !ok || n > p.PortsPeak || (n == p.PortsPeak && k.server.String() < p.PortsServer) {
					wantPorts[k.client] = Party{PortsPeak: n, PortsPeakAt: at.Time().UTC(), PortsServer: k.server.String()}
				}
			}
			if len(portPeak) != len(wantPorts) {
				t.Errorf("%d clients with port peaks, want %d", len(portPeak), len(wantPorts))
			}
			for a, want := range wantPorts {
				got := portPeak[a]
				if got.PortsPeak != want.PortsPeak || !got.PortsPeakAt.Equal(want.PortsPeakAt) || got.PortsServer != want.PortsServer {
					t.Errorf("%v: ports peak %d at %v towards %s, want %d at %v towards %s", a,
						got.PortsPeak, got.PortsPeakAt, got.PortsServer, want.PortsPeak, want.PortsPeakAt, want.PortsServer)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

// TestMergeOverviewSpillError: spans that could not go to disk (no directory for
// the temporary file): MergeOverview still gives the Overview, with the error.
func TestMergeOverviewSpillError(t *testing.T) {
	c := NewOverviewCollector(time.Minute, spill.Options{MaxRecords: 1, Dir: t.TempDir() + "/gone"})
	for i := range 3 {
		c.addTimeWait(netip.MustParseAddr("10.0.0.1"), analyzer.Interval{From: reassembly.Instant(i), To: 10})
	}
	ov, err := MergeOverview([]*OverviewCollector{c})
	if err == nil || ov == nil {
		t.Fatalf("MergeOverview: %v, %v; want an Overview and the error", ov, err)
	}
	if !strings.Contains(err.Error(), "gone") {
		t.Errorf("error %q does not name the directory", err)
	}
}

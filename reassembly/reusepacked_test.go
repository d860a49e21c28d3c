package reassembly

import (
	"cmp"
	"net/netip"

	"fmt"
	"github.com/finack/finack/capture"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestReusePackedChangesNothing: on every committed capture, under several
// configurations, sameReusePacked, with the records' bodies in memory and on disk;
// and reusePacked started some, on disk too.
func TestReusePackedChangesNothing(t *testing.T) {
	reused := map[bool]int{}
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for i, cfg := range packConfigs() {
			for _, cold := range []bool{false, true} {
				name := fmt.Sprintf("%s config %d cold %v", filepath.Base(file), i, cold)
				reused[cold] += sameReusePacked(t, name, segs, cfg, cold)
			}
		}
	}
	if reused[false] == 0 || reused[true] == 0 {
		t.Fatalf("reusePacked started %d incarnations with the records in memory, %d with them on disk: not exercised", reused[false], reused[true])
	}
	t.Logf("reusePacked started %d incarnations (records in memory), %d (on disk)", reused[false], reused[true])
}

// sameReusePacked checks that a tracker that packs every connection at its close
// hands out the same incarnations, field for field, whether a SYN reusing a
// 4-tuple whose current incarnation is packed in TIME_WAIT starts the next one from
// the record's wake block (reusePacked; every record that may have one has one:
// TestWakeShare checks when the tracker writes them) or unpacks it first, with the
// records' bodies in memory or on disk (cold; then the order of hand-out may
// differ: handKey). It returns how many incarnations reusePacked started.
func sameReusePacked(t *testing.T, name string, segs []capture.Segment, cfg Config, cold bool) int {
	t.Helper()
	run := func(fast bool) ([]*Incarnation, int) {
		cfg := cfg
		cfg.TempDir = t.TempDir()
		got, tr := streamRun(segs, cfg, func(tr *Tracker) {
			tr.hooks.packAbove, tr.hooks.noReusePacked, tr.hooks.alwaysWake = 0, !fast, true
			if cold {
				tr.coldAtOnce()
			}
		}, nil)
		for _, inc := range got {
			inc.Half[Client].recent, inc.Half[Server].recent = recentSegs{}, recentSegs{}
		}
		slices.SortFunc(got, func(a, b *Incarnation) int { return cmp.Compare(a.First.Frame, b.First.Frame) })
		return got, tr.hooks.reusedPacked
	}
	want, _ := run(false)
	got, n := run(true)
	sameHandedOut(t, name, "when reusePacked starts them", got, want)
	return n
}

// TestWakeShare: a tracker writes wake blocks while SYNs come for packed records
// often enough (wakeShare): on one 4-tuple reused again and again, every record of a
// connection in TIME_WAIT has one and every reuse starts from it; on connections
// that are never reused, only the first record gets one. Either way it hands out
// what a tracker that never writes them hands out.
func TestWakeShare(t *testing.T) {
	reused := func() []capture.Segment {
		var out []capture.Segment
		for i, sg := range reusedSegs(12) {
			x := capture.Segment{Frame: uint64(i + 1), Time: t0.Add(sg.at), Flags: sg.flags, Seq: sg.seq, Ack: sg.ack, PayloadLen: sg.data}
			x.Src, x.Dst = cli, srv
			if sg.from == 's' {
				x.Src, x.Dst = srv, cli
			}
			out = append(out, x)
		}
		return out
	}
	fresh := func() []capture.Segment {
		var out []capture.Segment
		for k := range 200 {
			for _, s := range typicalSegments() {
				s.Frame = uint64(len(out) + 1)
				s.Time = s.Time.Add(time.Duration(k) * 10 * time.Millisecond)
				if s.Src.Port() == 40000 {
					s.Src = netip.AddrPortFrom(s.Src.Addr(), uint16(40000+k))
				} else {
					s.Dst = netip.AddrPortFrom(s.Dst.Addr(), uint16(40000+k))
				}
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name         string
		segs         []capture.Segment
		blocks, reus int
	}{
		{"one 4-tuple reused 11 times", reused(), 11, 11},
		{"200 connections never reused", fresh(), 1, 0},
	} {
		run := func(noWake bool) ([]*Incarnation, *Tracker) {
			return streamRun(tc.segs, Config{}, func(tr *Tracker) { tr.hooks.packAbove, tr.hooks.noReusePacked = 0, noWake }, nil)
		}
		want, _ := run(true)
		got, tr := run(false)
		if tr.hooks.wakeBlocks != tc.blocks || tr.hooks.reusedPacked != tc.reus {
			t.Errorf("%s: %d records with a wake block, %d incarnations started from one; want %d and %d", tc.name, tr.hooks.wakeBlocks, tr.hooks.reusedPacked, tc.blocks, tc.reus)
		}
		for _, inc := range append(got, want...) {
			inc.Half[Client].recent, inc.Half[Server].recent = recentSegs{}, recentSegs{}
		}
		sameHandedOut(t, tc.name, "with wake blocks", got, want)
	}
}

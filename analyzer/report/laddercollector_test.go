package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestLadderCollectorBounded: on a generated capture with far more connections with
// findings than the ladders drawn (synth.WriteBig: lost final ACKs, FIN
// retransmissions, reuses and stale segments among many short connections), the
// collectors fed by streaming trackers hold at most the cap of ladders and, per
// 4-tuple, no more than the trackers hold; and they pick the ladders
// htmlLadders picks from every connection kept, with the same count left out,
// however the 4-tuples are shared out among collectors.
func TestLadderCollectorBounded(t *testing.T) {
	segs := bigSegments(t)
	acfg := analyzer.Config{TimeWait: reassembly.DefaultTimeWait}
	// Every connection kept: what htmlLadders picks from.
	kept := reassembly.NewTracker(reassembly.Config{TimeWait: reassembly.DefaultTimeWait})
	for i := range segs {
		kept.Add(&segs[i])
	}
	end := reassembly.InstantOf(segs[len(segs)-1].Time)
	kept.Finish(end)
	rep := analyzer.Analyze(kept.Incarnations(), acfg)
	doc := &Document{Connections: rep.Connections, Findings: rep.Findings}
	sel, findingsOf := SelectConnections(doc)
	bad := 0
	for _, ci := range sel {
		for _, fi := range findingsOf[ci] {
			if !benign(&doc.Findings[fi]) {
				bad++
				break
			}
		}
	}
	for _, tc := range []struct {
		limit, shards int
	}{{MaxHTMLLadders, 1}, {MaxHTMLLadders, 3}, {5, 1}, {5, 2}, {1, 1}} {
		if bad <= 2*tc.limit || len(sel) <= bad {
			t.Fatalf("the capture has %d connections with findings, %d with one not benign: too few for a cap of %d", len(sel), bad, tc.limit)
		}
		cs := make([]*LadderCollector, tc.shards)
		trs := make([]*reassembly.Tracker, tc.shards)
		maxTop, maxFlows, maxHeld := 0, 0, 0
		for i := range cs {
			lc := NewLadderCollector(nil)
			lc.max = tc.limit
			st := analyzer.NewStream(acfg, true)
			st.SendTo(lc)
			cs[i] = lc
			cfg := reassembly.Config{TimeWait: reassembly.DefaultTimeWait, KeepCounts: true, DoneKeepsNothing: true}
			cfg.Done = func(inc *reassembly.Incarnation) {
				lc.Ending(inc.End)
				st.Add(inc)
				top, flows := lc.Held()
				maxTop, maxFlows = max(maxTop, top), max(maxFlows, flows)
				if inc.First.Frame%64 == 0 {
					checkLadderSlabs(t, lc)
				}
				maxHeld = max(maxHeld, trs[i].Stats().Tracked)
			}
			trs[i] = reassembly.NewTracker(cfg)
		}
		for i := range segs {
			trs[reassembly.Shard(&segs[i], tc.shards)].Add(&segs[i])
		}
		for _, tr := range trs {
			tr.Finish(end)
		}
		for _, lc := range cs {
			checkLadderSlabs(t, lc)
			if live := len(lc.conns) - len(lc.freeConns); live != len(lc.top) {
				t.Errorf("limit %d, %d shards: %d connections kept once the trackers hold none, %d of them drawn", tc.limit, tc.shards, live, len(lc.top))
			}
			if _, flows := lc.Held(); flows != 0 {
				t.Errorf("limit %d, %d shards: %d 4-tuples' connections kept once the trackers hold none", tc.limit, tc.shards, flows)
			}
		}
		t.Logf("limit %d, %d shards: at most %d 4-tuples' connections kept, the trackers holding up to %d incarnations; %d connections with findings", tc.limit, tc.shards, maxFlows, maxHeld, len(sel))
		if maxTop != tc.limit {
			t.Errorf("limit %d, %d shards: at most %d ladders held, want the cap", tc.limit, tc.shards, maxTop)
		}
		if maxFlows == 0 || maxFlows > maxHeld {
			t.Errorf("limit %d, %d shards: at most %d 4-tuples' connections kept, more than the trackers' %d incarnations", tc.limit, tc.shards, maxFlows, maxHeld)
		}
		got := MergeLadders(cs)
		drawn, undrawn := htmlLadders(doc, sel, findingsOf, tc.limit)
		var want, have []uint64
		for _, ci := range drawn {
			want = append(want, doc.Connections[ci].FirstFrame)
		}
		for _, c := range got.Connections {
			have = append(have, c.FirstFrame)
		}
		if !slices.Equal(have, want) || got.Undrawn != undrawn {
			t.Errorf("limit %d, %d shards: picked first frames %v, %d left out; htmlLadders %v, %d", tc.limit, tc.shards, have, got.Undrawn, want, undrawn)
		}
		for i, ci := range drawn {
			var kinds, gotKinds []analyzer.Kind
			for _, fi := range findingsOf[ci] {
				kinds = append(kinds, doc.Findings[fi].Kind)
			}
			if i < len(got.Findings) {
				for _, f := range got.Findings[i] {
					gotKinds = append(gotKinds, f.Kind)
				}
			}
			if !slices.Equal(gotKinds, kinds) {
				t.Errorf("limit %d: connection at frame %d: findings %v, want %v", tc.limit, want[i], gotKinds, kinds)
			}
		}
		if !samePage(got.Page, pageOf(doc.Findings)) {
			t.Errorf("limit %d, %d shards: the charts' %d findings are not the capture's %d", tc.limit, tc.shards, len(got.Page), len(doc.Findings))
		}
	}
}

func readSegments(t *testing.T, path string) []capture.Segment {
	t.Helper()
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	var out []capture.Segment
	for {
		var seg capture.Segment
		if err := r.Next(&seg); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, seg)
	}
}

// bigSegments are the segments of a generated capture with many connections with
// findings, benign and not (synth.WriteBig).
func bigSegments(t *testing.T) []capture.Segment {
	t.Helper()
	return readSegments(t, synth.WriteBigFile(t, synth.BigOptions{Seed: 7, Packets: 60000, Concurrency: 40, Clients: 20, Servers: 3}))
}

// bigIncarnations are bigSegments' incarnations, every one held by one tracker.
func bigIncarnations(t *testing.T) []*reassembly.Incarnation {
	t.Helper()
	segs := bigSegments(t)
	tr := reassembly.NewTracker(reassembly.Config{TimeWait: reassembly.DefaultTimeWait})
	for i := range segs {
		tr.Add(&segs[i])
	}
	tr.Finish(reassembly.InstantOf(segs[len(segs)-1].Time))
	return tr.Incarnations()
}

// TestIncidentCollectorPage: collectors bounded for the HTML report's table
// (PageLimit) hold at most twice the limit, and give the incidents the page lists of
// every incident kept (those not benign first, then the benign ones, in report
// order), with the counts of all, however the incarnations are shared out.
func TestIncidentCollectorPage(t *testing.T) {
	incs := bigIncarnations(t)
	rep := analyzer.Analyze(incs, analyzer.Config{TimeWait: reassembly.DefaultTimeWait})
	all := Incidents(rep.Findings, false)
	bad := 0
	for i := range all {
		if !BenignIncident(&all[i]) {
			bad++
		}
	}
	for _, tc := range []struct{ limit, shards int }{{10, 1}, {10, 3}, {bad / 2, 2}, {bad + 7, 1}, {len(all) + 1, 2}} {
		if bad == 0 || bad == len(all) || tc.limit < 1 {
			t.Fatalf("%d incidents, %d not benign: the capture needs both", len(all), bad)
		}
		cs := make([]*IncidentCollector, tc.shards)
		for i := range cs {
			cs[i] = &IncidentCollector{PageLimit: tc.limit}
		}
		st := analyzer.NewStream(analyzer.Config{TimeWait: reassembly.DefaultTimeWait}, false)
		for _, inc := range incs {
			c := cs[int(inc.First.Frame)%tc.shards]
			c.Add(st.Add(inc))
			if len(c.list) >= 2*tc.limit {
				t.Fatalf("limit %d: a collector holds %d incidents", tc.limit, len(c.list))
			}
		}
		n := PageCounts(cs)
		got, _ := MergeIncidents(cs)
		want := keepPage(slices.Clone(all), tc.limit)
		if n.All != len(all) || n.Bad != bad || !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d, %d shards: counts %+v and %d incidents, want %d of %d not benign and %d incidents", tc.limit, tc.shards, n, len(got), bad, len(all), len(want))
		}
		if tc.limit < len(all) && len(want) != tc.limit {
			t.Errorf("limit %d: %d incidents kept", tc.limit, len(want))
		}
	}
}

// TestIncidentCollectorPageTies: collectors bounded for the page's table
// (PageLimit), which drop the incidents the table has enough before (pageCut) as
// they come, give through MergeIncidents what keepPage gives of unbounded ones fed
// the same findings, with the same counts: on findings with many ties of time,
// first frame and kind, benign (safe, accepted reuses) or not, whatever the limit
// and however they are shared out.
func TestIncidentCollectorPageTies(t *testing.T) {
	kinds := []analyzer.Kind{analyzer.MissingFinalAck, analyzer.ReuseIn2MSL, analyzer.StaleSegment}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	// badPm: how many incarnations in a thousand have findings that are not benign
	// (early: the first badPm handed out, those only). limit -1: one more than the
	// incidents that are not benign (one benign listed), -2: as many.
	for _, tc := range []struct {
		limit, shards, badPm int
		early                bool
	}{
		{1, 1, 500, false}, {1, 3, 20, false}, {3, 1, 50, false}, {7, 2, 10, false}, {20, 3, 10, false},
		{20, 2, 500, false}, {150, 2, 50, false}, {150, 3, 300, false}, {5000, 2, 200, false},
		{20, 1, 10, false}, {-1, 1, 10, false}, {-1, 3, 5, false}, {-2, 2, 10, false},
		{-1, 1, 30, true}, {-1, 2, 30, true}, {-2, 1, 30, true}, {40, 1, 30, true},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.limit+2), uint64(tc.shards*1000+tc.badPm)))
		type batch struct {
			fs    []analyzer.Finding
			shard int
		}
		var batches []batch
		for i := range 2000 {
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(4))}), uint16(1000+i))
			// In no order, many ties of time, of time and frame.
			f := analyzer.Finding{
				Kind: analyzer.ReuseIn2MSL, Client: client, Server: netip.MustParseAddrPort("10.0.1.1:80"),
				Incarnation: 2, Sender: "client", Time: base.Add(time.Duration(rng.IntN(6)) * time.Millisecond),
				Frames: []uint64{uint64(1 + rng.IntN(12))}, Verdict: analyzer.VerdictSafeBySequence,
				Outcome: analyzer.OutcomeAccepted, Message: fmt.Sprintf("finding of incarnation %d; more", i),
			}
			fs := []analyzer.Finding{f} // benign: a safe, accepted reuse alone
			if tc.early && i < tc.badPm || !tc.early && rng.IntN(1000) < tc.badPm {
				fs[0].Kind = kinds[rng.IntN(len(kinds))]
				fs[0].Verdict = analyzer.VerdictUnsafe
				if rng.IntN(2) == 0 {
					fs = append(fs, f)
				}
			}
			batches = append(batches, batch{fs, rng.IntN(tc.shards)})
		}
		all := make([]*IncidentCollector, tc.shards)
		for i := range all {
			all[i] = &IncidentCollector{}
		}
		for _, b := range batches {
			all[b.shard].Add(b.fs)
		}
		every, _ := MergeIncidents(all)
		bad := 0
		for i := range every {
			if !BenignIncident(&every[i]) {
				bad++
			}
		}
		limit := tc.limit
		switch limit {
		case -1:
			limit = bad + 1
		case -2:
			limit = bad
		}
		if bad == 0 || bad == len(every) || tc.limit < 5000 && len(every) <= 2*limit {
			t.Fatalf("limit %d: %d incidents, %d not benign: the findings need both, past the limit", limit, len(every), bad)
		}
		bounded := make([]*IncidentCollector, tc.shards)
		for i := range bounded {
			bounded[i] = &IncidentCollector{PageLimit: limit}
		}
		for _, b := range batches {
			bounded[b.shard].Add(b.fs)
		}
		want := keepPage(every, limit)
		got, _ := MergeIncidents(bounded)
		if n := PageCounts(bounded); n.All != len(every) || n.Bad != bad {
			t.Errorf("limit %d, %d shards: counts %+v, want %d of %d not benign", limit, tc.shards, n, bad, len(every))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d, %d shards, %d‰ not benign: %d incidents listed, want %d (the first not benign, then benign, in order)",
				limit, tc.shards, tc.badPm, len(got), len(want))
		}
	}
}

// TestIncidentCollectorLimit: collectors bounded for the text report (Limit, with or
// without SkipSafeReuses) give through MergeIncidents the first Limit incidents of
// unbounded ones fed the same findings, in the same order (ties of time, first frame
// and kind included), and count every other: whatever the limit and however the
// incarnations are shared out.
func TestIncidentCollectorLimit(t *testing.T) {
	kinds := []analyzer.Kind{analyzer.MissingFinalAck, analyzer.FinRetransmit, analyzer.ReuseIn2MSL, analyzer.StaleSegment, analyzer.RstInTimeWait}
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		limit, shards int
		skipSafe      bool
	}{
		{1, 1, false}, {1, 3, true}, {5, 1, false}, {5, 2, true}, {20, 3, false}, {100, 2, true}, {5000, 2, false},
	} {
		rng := rand.New(rand.NewPCG(uint64(tc.limit), uint64(tc.shards)))
		bounded, all := make([]*IncidentCollector, tc.shards), make([]*IncidentCollector, tc.shards)
		for i := range bounded {
			bounded[i] = &IncidentCollector{Limit: tc.limit, SkipSafeReuses: tc.skipSafe}
			all[i] = &IncidentCollector{SkipSafeReuses: tc.skipSafe}
		}
		for i := range 2000 {
			// One incarnation's findings; few distinct times and frames: many ties.
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(4))}), uint16(1000+i))
			var fs []analyzer.Finding
			for range 1 + rng.IntN(3) {
				fs = append(fs, analyzer.Finding{
					Kind: kinds[rng.IntN(len(kinds))], Client: client, Server: netip.MustParseAddrPort("10.0.1.1:80"),
					Incarnation: 1 + rng.IntN(2), Sender: []string{"client", "server"}[rng.IntN(2)],
					Time: base.Add(time.Duration(rng.IntN(50)) * time.Millisecond), Frames: []uint64{uint64(1 + rng.IntN(30))},
					Verdict: []analyzer.Verdict{analyzer.VerdictSafeBySequence, analyzer.VerdictUnsafe}[rng.IntN(2)], Outcome: analyzer.OutcomeAccepted,
					Message: fmt.Sprintf("finding %d of incarnation %d; more", len(fs), i),
				})
			}
			s := rng.IntN(tc.shards)
			bounded[s].Add(fs)
			all[s].Add(fs)
		}
		want, _ := MergeIncidents(all)
		got, omitted := MergeIncidents(bounded)
		total := len(want)
		if total <= tc.limit && tc.limit < 5000 {
			t.Fatalf("limit %d: only %d incidents", tc.limit, total)
		}
		want = want[:min(tc.limit, total)]
		if omitted != total-len(want) {
			t.Errorf("limit %d, %d shards: %d omitted, want %d", tc.limit, tc.shards, omitted, total-len(want))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("limit %d, %d shards, skip safe %v: the incidents differ from the first of all", tc.limit, tc.shards, tc.skipSafe)
		}
	}
}

// TestIncidentCollectorTextAndPage: a collector bounded for the text report (Limit,
// the safe reuses skipped) with the page's beside it (Page, PageLimit), fed one
// grouping, keeps and counts what two collectors fed apart keep and count, with
// one worker or several.
func TestIncidentCollectorTextAndPage(t *testing.T) {
	incs := bigIncarnations(t)
	for _, tc := range []struct{ limit, page, shards int }{{3, 10, 1}, {3, 10, 3}, {50, 7, 2}, {0, 40, 2}} {
		both := make([]*IncidentCollector, tc.shards)
		text, page := make([]*IncidentCollector, tc.shards), make([]*IncidentCollector, tc.shards)
		for i := range both {
			both[i] = &IncidentCollector{Limit: tc.limit, SkipSafeReuses: true, Page: &IncidentCollector{PageLimit: tc.page}}
			text[i] = &IncidentCollector{Limit: tc.limit, SkipSafeReuses: true}
			page[i] = &IncidentCollector{PageLimit: tc.page}
		}
		st := analyzer.NewStream(analyzer.Config{TimeWait: reassembly.DefaultTimeWait}, false)
		for _, inc := range incs {
			i := int(inc.First.Frame) % tc.shards
			fs := st.Add(inc)
			both[i].Add(fs)
			text[i].Add(fs)
			page[i].Add(fs)
		}
		pages := make([]*IncidentCollector, tc.shards)
		for i, c := range both {
			pages[i] = c.Page
		}
		gotPageCounts, wantPageCounts := PageCounts(pages), PageCounts(page)
		gotText, gotOmitted := MergeIncidents(both)
		wantText, wantOmitted := MergeIncidents(text)
		gotPage, _ := MergeIncidents(pages)
		wantPage, _ := MergeIncidents(page)
		if len(wantPage) == 0 || len(wantText)+wantOmitted == 0 || wantPageCounts.All == wantPageCounts.Bad {
			t.Fatalf("%+v: %d page incidents, %d text ones: the capture needs both, and safe reuses", tc, len(wantPage), len(wantText)+wantOmitted)
		}
		if !reflect.DeepEqual(gotText, wantText) || gotOmitted != wantOmitted {
			t.Errorf("%+v: the text report's %d incidents (%d omitted), want %d (%d)", tc, len(gotText), gotOmitted, len(wantText), wantOmitted)
		}
		if !reflect.DeepEqual(gotPage, wantPage) || gotPageCounts != wantPageCounts {
			t.Errorf("%+v: the page's %d incidents (%+v), want %d (%+v)", tc, len(gotPage), gotPageCounts, len(wantPage), wantPageCounts)
		}
	}
}

// TestLadderCollectorWide: the connections and findings a ladder's packed form
// cannot hold (a zoned address, three VLAN tags, six frames) come out of
// MergeLadders as ladderRecord and evidenceFinding copy them, as packed ones do.
func TestLadderCollectorWide(t *testing.T) {
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	client, server := netip.MustParseAddrPort("[fe80::1%eth0]:40000"), netip.MustParseAddrPort("[fe80::2%eth0]:80")
	plain := netip.MustParseAddrPort("192.0.2.1:40001")
	lc := NewLadderCollector(nil)
	var wantConns []analyzer.Connection
	var wantFindings [][]analyzer.Finding
	var conns []analyzer.Connection
	var finds []analyzer.Finding
	for i, tc := range []struct {
		client netip.AddrPort
		vlan   []uint16
		frames []uint64
	}{
		{client, nil, []uint64{1}},                     // a zoned address
		{plain, []uint16{1, 2, 3}, []uint64{11}},       // three tags
		{plain, nil, []uint64{21, 22, 23, 24, 25, 26}}, // six frames
		{plain, []uint16{7}, []uint64{31, 32}},         // packed
	} {
		first := uint64(10*i + 1)
		c := &analyzer.Connection{Client: tc.client, Server: server, VLAN: tc.vlan, Incarnation: 1, FirstFrame: first,
			LastFrame: first + 8, Packets: 9, Close: analyzer.FourWay, History: "not kept"}
		f := analyzer.Finding{Kind: analyzer.FinRetransmit, Client: tc.client, Server: server, VLAN: tc.vlan, Incarnation: 1,
			Frames: tc.frames, Time: at.Add(time.Duration(i) * time.Second), Message: "not kept"}
		lc.Ending(reassembly.EndCaptureEnd)
		lc.Add(c, []analyzer.Finding{f})
		wantConns = append(wantConns, ladderRecord(c))
		wantFindings = append(wantFindings, []analyzer.Finding{evidenceFinding(&f)})
		conns, finds = append(conns, *c), append(finds, f)
	}
	got := MergeLadders([]*LadderCollector{lc})
	if !reflect.DeepEqual(got.Connections, wantConns) || !reflect.DeepEqual(got.Findings, wantFindings) {
		t.Errorf("ladders:\n%+v\n%+v\nwant\n%+v\n%+v", got.Connections, got.Findings, wantConns, wantFindings)
	}
	if !samePage(got.Page, pageOf(finds)) {
		t.Errorf("the charts' findings %+v, want %+v", got.Page, pageOf(finds))
	}
	checkLadderSlabs(t, lc)
	if len(lc.wideConns) != 4 || len(lc.wideFinds) != 4 { // the server's address is zoned
		t.Errorf("%d connections and %d findings kept wide, want 4 and 4", len(lc.wideConns), len(lc.wideFinds))
	}

	// One ladder drawn; each 4-tuple (zoned: kept apart) with more incarnations
	// replaced than its history keeps, then its last: what the others kept is
	// freed.
	one := NewLadderCollector(nil)
	one.max = 1
	ends := slices.Repeat([]reassembly.EndReason{reassembly.EndReplaced}, MaxLadderHistory+2)
	for _, end := range append(ends, reassembly.EndCaptureEnd) {
		for i := range conns {
			one.Ending(end)
			one.Add(&conns[i], []analyzer.Finding{finds[i]})
			checkLadderSlabs(t, one)
		}
		if _, flows := one.Held(); (flows == 0) != (end == reassembly.EndCaptureEnd) {
			t.Errorf("after connections ending %v: %d 4-tuples' connections kept", end, flows)
		}
	}
	if live, wide := len(one.conns)-len(one.freeConns), len(one.wideConns)-len(one.freeWideConns); live != 1 || wide > 1 {
		t.Errorf("one ladder drawn: %d connections kept, %d of them wide", live, wide)
	}
}

// checkLadderSlabs checks that lc's slabs hold exactly what the top and the
// 4-tuples' histories keep: every connection kept is in one of them and every
// other is free; every finding kept is named by as many lists of kept connections
// as it counts, and every other is free; every list entry and wide record is in
// use or free, not both.
func checkLadderSlabs(t *testing.T, lc *LadderCollector) {
	t.Helper()
	free := func(n int, list []int32, what string) []bool {
		f := make([]bool, n)
		for _, i := range list {
			if f[i] {
				t.Fatalf("%s %d freed twice", what, i)
			}
			f[i] = true
		}
		return f
	}
	freeConn, freeFind := free(len(lc.conns), lc.freeConns, "connection"), free(len(lc.finds), lc.freeFinds, "finding")
	freeEdge := free(len(lc.edges), lc.freeEdges, "list entry")
	freeWideConn, freeWideFind := free(len(lc.wideConns), lc.freeWideConns, "wide connection"), free(len(lc.wideFinds), lc.freeWideFinds, "wide finding")
	inTop, inLast := map[int32]bool{}, map[int32]bool{}
	for _, n := range lc.top {
		inTop[n] = true
	}
	histories := slices.Collect(maps.Values(lc.last))
	histories = slices.AppendSeq(histories, maps.Values(lc.lastZoned))
	for _, h := range histories {
		for _, n := range h.conns[:h.n] {
			inLast[n] = true
		}
	}
	refs := make([]int32, len(lc.finds))
	usedEdge := make([]bool, len(lc.edges))
	usedWideConn, usedWideFind := make([]bool, len(lc.wideConns)), make([]bool, len(lc.wideFinds))
	for i := range lc.conns {
		n, c := int32(i), &lc.conns[i]
		if kept := inTop[n] || inLast[n]; kept == freeConn[i] || c.inTop != inTop[n] || c.inLast != inLast[n] {
			t.Fatalf("connection %d: free %v, in the top %v (flag %v), in a history %v (flag %v)", i, freeConn[i], inTop[n], c.inTop, inLast[n], c.inLast)
		}
		if freeConn[i] {
			continue
		}
		if c.c.wide >= 0 {
			usedWideConn[c.c.wide] = true
		}
		for _, l := range []edgeList{c.fs, c.own} {
			for e := l.head; e >= 0; e = lc.edges[e].next {
				if usedEdge[e] || freeEdge[e] {
					t.Fatalf("list entry %d: in two lists, or free and in one", e)
				}
				usedEdge[e] = true
				refs[lc.edges[e].f]++
				if e == l.tail && lc.edges[e].next >= 0 {
					t.Fatalf("list entry %d: the last, with a next", e)
				}
			}
		}
	}
	for i := range lc.finds {
		if f := &lc.finds[i]; (refs[i] == 0) != freeFind[i] || f.refs != refs[i] {
			t.Fatalf("finding %d: free %v, named %d times, counts %d", i, freeFind[i], refs[i], f.refs)
		} else if refs[i] > 0 && f.p.wide >= 0 {
			usedWideFind[f.p.wide] = true
		}
	}
	for i := range lc.edges {
		if usedEdge[i] == freeEdge[i] {
			t.Fatalf("list entry %d: used %v, free %v", i, usedEdge[i], freeEdge[i])
		}
	}
	for i := range lc.wideConns {
		if usedWideConn[i] == freeWideConn[i] {
			t.Fatalf("wide connection %d: used %v, free %v", i, usedWideConn[i], freeWideConn[i])
		}
	}
	for i := range lc.wideFinds {
		if usedWideFind[i] == freeWideFind[i] {
			t.Fatalf("wide finding %d: used %v, free %v", i, usedWideFind[i], freeWideFind[i])
		}
	}
}

// pageOf is what the charts read of fs.
func pageOf(fs []analyzer.Finding) []PageFinding {
	out := make([]PageFinding, len(fs))
	for i := range fs {
		f := &fs[i]
		out[i] = PageFinding{At: reassembly.InstantOf(f.Time), Server: f.Server, Kind: f.Kind, Bad: !SafeAccepted(f.Kind, f.Verdict, f.Outcome)}
	}
	return out
}

// samePage says whether a and b hold the same findings for the charts, in any
// order (collectors keep them in the order handed out).
func samePage(a, b []PageFinding) bool {
	order := func(x, y PageFinding) int {
		return cmp.Or(cmp.Compare(x.At, y.At), x.Server.Compare(y.Server), cmp.Compare(x.Kind, y.Kind), cmp.Compare(fmt.Sprint(x.Bad), fmt.Sprint(y.Bad)))
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, order)
	slices.SortFunc(b, order)
	return slices.Equal(a, b)
}

// TestLadderFlowOf: two connections share a 4-tuple's history exactly when their
// ConnID.Flow is the same: whichever end is the client, with tags the same both
// ways or not, IPv4 or its IPv6-mapped form, tunnel or none; zoned ends are keyed
// by the Flow itself.
func TestLadderFlowOf(t *testing.T) {
	a, b := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("198.51.100.7:80")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	zoned := netip.MustParseAddrPort("[fe80::1%eth0]:40000")
	conn := func(client, server netip.AddrPort, vlan, serverVLAN []uint16, tunnel string, inc int) analyzer.Connection {
		return analyzer.Connection{Client: client, Server: server, VLAN: vlan, ServerVLAN: serverVLAN, Tunnel: tunnel, Incarnation: inc}
	}
	conns := []analyzer.Connection{
		conn(a, b, nil, nil, "", 1),
		conn(b, a, nil, nil, "", 2), // roles swapped
		conn(a, b, []uint16{10}, nil, "", 1),
		conn(b, a, []uint16{10}, nil, "", 1),
		conn(a, b, []uint16{10}, []uint16{20}, "", 1),
		conn(b, a, []uint16{20}, []uint16{10}, "", 1), // the same tags, roles swapped
		conn(b, a, []uint16{10}, []uint16{20}, "", 1),
		conn(a, b, []uint16{10}, []uint16{10}, "", 3), // the same tags both ways, given twice
		conn(a, b, []uint16{10, 0}, nil, "", 1),
		conn(a, b, nil, []uint16{}, "", 1),
		conn(mapped, b, nil, nil, "", 1),
		conn(a, b, nil, nil, "gre 10.0.0.1 > 10.0.0.2", 1),
		conn(b, a, nil, nil, "gre 10.0.0.1 > 10.0.0.2", 1),
		conn(a, netip.AddrPortFrom(b.Addr(), 81), nil, nil, "", 1),
		conn(zoned, b, nil, nil, "", 1),
		conn(b, zoned, nil, nil, "", 2),
	}
	lc := NewLadderCollector(nil)
	for i := range conns {
		for j := range conns {
			ki, idi, oki := lc.flowOf(&conns[i])
			kj, idj, okj := lc.flowOf(&conns[j])
			same := conns[i].ID().Flow() == conns[j].ID().Flow()
			got := oki == okj && (oki && ki == kj || !oki && idi == idj)
			if got != same {
				t.Errorf("%+v and %+v: one history %v, their Flows equal %v", conns[i].ID(), conns[j].ID(), got, same)
			}
			if zoned := conns[i].Client.Addr().Zone() != "" || conns[i].Server.Addr().Zone() != ""; oki == zoned {
				t.Errorf("%+v: keyed without pointers %v", conns[i].ID(), oki)
			}
		}
	}
}

package analyzer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// TestSpillSameOrder: a Stream that spills its records, with a bound small enough
// that every capture goes to disk in runs, hands them out in the order of the report
// of a Stream that keeps them.
func TestSpillSameOrder(t *testing.T) {
	for _, file := range committedCaptures(t) {
		t.Run(filepath.Base(file[0]), func(t *testing.T) {
			want := report(t, file, true, 0)
			for _, opt := range []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}} {
				st := NewStream(Config{}, true)
				st.Spill(jsonEncoder, opt)
				tr := reassembly.NewTracker(reassembly.Config{KeepCounts: true, Done: func(inc *reassembly.Incarnation) {
					fs := st.Add(inc)
					for i := range fs {
						if fs[i].Kind == "" {
							t.Error("Add returned an empty finding")
						}
					}
				}})
				feedFiles(t, file, tr)
				got := st.Report()
				if got.Total != want.Total || len(got.Findings) != 0 || len(got.Connections) != 0 || got.Records == nil {
					t.Fatalf("spilling report: total %d (want %d), %d findings and %d connections in memory, records %v",
						got.Total, want.Total, len(got.Findings), len(got.Connections), got.Records)
				}
				if fmtCounts(got) != fmtCounts(want) {
					t.Errorf("counts %s, want %s", fmtCounts(got), fmtCounts(want))
				}
				if n := got.Records.NumConnections(); n != len(want.Connections) {
					t.Errorf("%d connection records, want %d", n, len(want.Connections))
				}
				findings, conns := readRecords(t, got.Records)
				same(t, "findings", findings, want.Findings)
				same(t, "connections", conns, want.Connections)
			}
		})
	}
}

func fmtCounts(r Report) string {
	b, _ := json.Marshal([]any{r.Closes, r.Counts})
	return string(b)
}

func same[T any](t *testing.T, what string, got [][]byte, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		w, _ := json.Marshal(&want[i])
		if !bytes.Equal(got[i], w) {
			t.Errorf("%s: record %d is\n%s\nwant\n%s", what, i, got[i], w)
			return
		}
	}
}

// TestFindingKeyOrder: the key of a finding sorts as CompareFindings does (time,
// even before 1970, first frame, kind name).
func TestFindingKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var fs []Finding
	for range 2000 {
		fs = append(fs, Finding{
			Time:   utc(int64(rng.IntN(7)-3) * (1 << 62 / 3)),
			Frames: []uint64{uint64(rng.IntN(3)), 9},
			Kind:   Kinds[rng.IntN(len(Kinds))],
		})
	}
	for i := range fs {
		for j := range fs {
			x, y := &fs[i], &fs[j]
			var want int
			switch {
			case !x.Time.Equal(y.Time):
				want = cmpBool(x.Time.Before(y.Time))
			case x.Frames[0] != y.Frames[0]:
				want = cmpBool(x.Frames[0] < y.Frames[0])
			case x.Kind != y.Kind:
				want = cmpBool(x.Kind < y.Kind)
			}
			if c := CompareFindings(x, y); c != want {
				t.Fatalf("%+v vs %+v: CompareFindings %d, want %d", x, y, c, want)
			}
			kx, ky := findingKey(x), findingKey(y)
			got := slices.Compare(kx[:], ky[:])
			if got != want {
				t.Fatalf("%+v vs %+v: keys compare %d, want %d", x, y, got, want)
			}
		}
	}
}

func cmpBool(less bool) int {
	if less {
		return -1
	}
	return 1
}

// jsonEncoder encodes records as the tests compare them (same): encoding/json.
var jsonEncoder = Encoder{
	Connection: func(dst []byte, c *Connection) ([]byte, error) {
		b, err := json.Marshal(c)
		return append(dst, b...), err
	},
	Finding: func(dst []byte, f *Finding) ([]byte, error) { b, err := json.Marshal(f); return append(dst, b...), err },
}

// readRecords reads every record of r.
func readRecords(t *testing.T, r *Records) (findings, conns [][]byte) {
	t.Helper()
	collect := func(out *[][]byte) func([]byte) error {
		return func(b []byte) error { *out = append(*out, bytes.Clone(b)); return nil }
	}
	if err := r.Findings(collect(&findings)); err != nil {
		t.Fatal(err)
	}
	if err := r.Connections(collect(&conns)); err != nil {
		t.Fatal(err)
	}
	return findings, conns
}

// TestMergeSpilledSameOrder: a capture's 4-tuples shared out among trackers, each
// with a Stream that spills into its own sort (a share of the bound), give through
// Merge the records, in the same order, that the Merge of Streams keeping them in
// memory gives; in memory and in runs on disk.
func TestMergeSpilledSameOrder(t *testing.T) {
	for _, file := range committedCaptures(t) {
		for _, n := range []int{1, 2, 3, 7} {
			for _, opt := range []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}} {
				want := Merge(shardedReports(t, file, n, nil, opt))
				got := Merge(shardedReports(t, file, n, &jsonEncoder, opt))
				name := fmt.Sprintf("%s, %d streams, bound %+v", filepath.Base(file[0]), n, opt)
				if got.Records == nil || len(got.Findings) != 0 || len(got.Connections) != 0 {
					t.Fatalf("%s: records %v, %d findings and %d connections in memory", name, got.Records, len(got.Findings), len(got.Connections))
				}
				if fmtCounts(got) != fmtCounts(want) || got.Total != want.Total {
					t.Errorf("%s: counts %s (total %d), want %s (%d)", name, fmtCounts(got), got.Total, fmtCounts(want), want.Total)
				}
				if got.Records.NumFindings() != len(want.Findings) || got.Records.NumConnections() != len(want.Connections) {
					t.Errorf("%s: %d findings and %d connections kept, want %d and %d", name,
						got.Records.NumFindings(), got.Records.NumConnections(), len(want.Findings), len(want.Connections))
				}
				findings, conns := readRecords(t, got.Records)
				same(t, name+": findings", findings, want.Findings)
				same(t, name+": connections", conns, want.Connections)
			}
		}
	}
}

// shardedReports: the Reports of n Streams, each fed by a streaming tracker of its
// share of file's 4-tuples (reassembly.Shard); spilling with enc into a sort bounded by
// opt.Share(n) when enc is not nil.
func shardedReports(t *testing.T, file []string, n int, enc *Encoder, opt spill.Options) []Report {
	t.Helper()
	streams := make([]*Stream, n)
	trackers := make([]*reassembly.Tracker, n)
	for i := range streams {
		st := NewStream(Config{}, true)
		if enc != nil {
			st.Spill(*enc, opt.Share(n))
		}
		streams[i] = st
		trackers[i] = reassembly.NewTracker(reassembly.Config{KeepCounts: true, Done: func(inc *reassembly.Incarnation) { st.Add(inc) }})
	}
	end := eachSegmentOf(t, file, func(seg *capture.Segment) { trackers[reassembly.Shard(seg, n)].Add(seg) })
	reps := make([]Report, n)
	for i, tr := range trackers {
		tr.Finish(end)
		reps[i] = streams[i].Report()
	}
	return reps
}

// TestMergeRecordsTies: findings with equal keys (time, first frame, kind), in
// several Streams, come out of the Merge of their spilled Records in the order the
// Merge of Reports holding them in memory gives: those of the first Stream first,
// then in the order added; whatever the bound.
func TestMergeRecordsTies(t *testing.T) {
	for _, tc := range []struct {
		n, streams int
		opt        spill.Options
	}{
		{200, 1, spill.Options{}},
		{200, 2, spill.Options{}},
		{500, 3, spill.Options{}},
		{500, 2, spill.Options{MaxRecords: 4}},
		{500, 3, spill.Options{MaxRecords: 1, MaxRuns: 2}},
		{1000, 7, spill.Options{MaxBytes: 300}},
	} {
		t.Run(fmt.Sprintf("%d/%d/%+v", tc.n, tc.streams, tc.opt), func(t *testing.T) {
			tc.opt.Dir = t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.streams)))
			kept := make([]Report, tc.streams)
			spilled := make([]Report, tc.streams)
			recs := make([]*recorder, tc.streams)
			for i := range recs {
				recs[i] = &recorder{enc: jsonEncoder, findings: spill.New(tc.opt.Share(tc.streams))}
			}
			for i := range tc.n {
				f := Finding{
					Kind:   Kinds[rng.IntN(2)],
					Time:   utc(int64(rng.IntN(4)) * 1e9),
					Frames: []uint64{uint64(rng.IntN(3)), uint64(i)}, // i: which one it is
				}
				s := rng.IntN(tc.streams)
				recs[s].add([]Finding{f})
				kept[s].Findings = append(kept[s].Findings, f)
			}
			for i, r := range recs {
				spilled[i].Records = r.records()
				sortReport(&kept[i]) // as Stream.Report does
			}
			want, got := Merge(kept), Merge(spilled)
			findings, conns := readRecords(t, got.Records)
			if len(conns) != 0 {
				t.Errorf("%d connection records, want none", len(conns))
			}
			same(t, "findings", findings, want.Findings)
			if entries, _ := os.ReadDir(tc.opt.Dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

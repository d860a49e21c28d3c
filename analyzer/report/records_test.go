package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/finack/finack/capture/synth"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// TestSpillSameOrder: a Stream that sends its records to a Recorder, with a bound
// small enough that every capture goes to disk in runs, gets them back in the order
// of the report of a Stream that keeps them.
func TestSpillSameOrder(t *testing.T) {
	for _, file := range committedCaptures(t) {
		t.Run(filepath.Base(file[0]), func(t *testing.T) {
			want := shardedReports(t, file, 1, nil, spill.Options{})[0]
			for _, opt := range []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}} {
				opt.Dir = t.TempDir()
				st := analyzer.NewStream(analyzer.Config{}, true)
				rec := newRecorder(jsonEncoder, opt)
				st.SendTo(rec)
				tr := reassembly.NewTracker(reassembly.Config{KeepCounts: true, Done: func(inc *reassembly.Incarnation) {
					fs := st.Add(inc)
					for i := range fs {
						if fs[i].Kind == "" {
							t.Error("Add returned an empty finding")
						}
					}
				}})
				tr.Finish(reassembly.InstantOf(synth.EachSegment(t, file, tr.Add)))
				got := st.Report()
				if got.Total != want.Total || len(got.Findings) != 0 || len(got.Connections) != 0 {
					t.Fatalf("report of a Stream with a Sink: total %d (want %d), %d findings and %d connections in memory",
						got.Total, want.Total, len(got.Findings), len(got.Connections))
				}
				if fmtCounts(got) != fmtCounts(want) {
					t.Errorf("counts %s, want %s", fmtCounts(got), fmtCounts(want))
				}
				recs := MergeRecords([]*Recorder{rec})
				if n := recs.NumConnections(); n != len(want.Connections) {
					t.Errorf("%d connection records, want %d", n, len(want.Connections))
				}
				if n := recs.NumIncidents(); n != len(Incidents(want.Findings, false)) {
					t.Errorf("%d incidents kept, want %d", n, len(Incidents(want.Findings, false)))
				}
				findings, conns := readRecords(t, recs)
				same(t, "findings", findings, want.Findings)
				same(t, "connections", conns, want.Connections)
				same(t, "incidents", readIncidents(t, recs), Incidents(want.Findings, false))
				noFilesLeft(t, opt.Dir)
			}
		})
	}
}

// TestMergeSpilledSameOrder: a capture's 4-tuples shared out among trackers, each
// with a Stream that sends to its own Recorder (a share of the bound), give through
// MergeRecords the records, in the same order, that analyzer.Merge of Streams
// keeping them in memory gives; in memory and in runs on disk.
func TestMergeSpilledSameOrder(t *testing.T) {
	for _, file := range committedCaptures(t) {
		for _, n := range []int{1, 2, 3, 7} {
			for _, opt := range []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}} {
				opt.Dir = t.TempDir()
				want := analyzer.Merge(shardedReports(t, file, n, nil, opt))
				var recs []*Recorder
				got := analyzer.Merge(shardedReports(t, file, n, &recs, opt))
				name := fmt.Sprintf("%s, %d streams, bound %+v", filepath.Base(file[0]), n, opt)
				if len(got.Findings) != 0 || len(got.Connections) != 0 {
					t.Fatalf("%s: %d findings and %d connections in memory", name, len(got.Findings), len(got.Connections))
				}
				if fmtCounts(got) != fmtCounts(want) || got.Total != want.Total {
					t.Errorf("%s: counts %s (total %d), want %s (%d)", name, fmtCounts(got), got.Total, fmtCounts(want), want.Total)
				}
				r := MergeRecords(recs)
				if r.NumFindings() != len(want.Findings) || r.NumConnections() != len(want.Connections) {
					t.Errorf("%s: %d findings and %d connections kept, want %d and %d", name,
						r.NumFindings(), r.NumConnections(), len(want.Findings), len(want.Connections))
				}
				findings, conns := readRecords(t, r)
				same(t, name+": findings", findings, want.Findings)
				same(t, name+": connections", conns, want.Connections)
				same(t, name+": incidents", readIncidents(t, r), Incidents(want.Findings, false))
				noFilesLeft(t, opt.Dir)
			}
		}
	}
}

// TestMergeRecordsTies: findings with equal keys (time, first frame, kind), in
// several Recorders, come out of MergeRecords in the order analyzer.Merge of Reports
// holding them in memory gives: those of the first Recorder first, then in the
// order added; whatever the bound.
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
			kept := make([]analyzer.Report, tc.streams)
			recs := make([]*Recorder, tc.streams)
			for i := range recs {
				recs[i] = newRecorder(encoder{finding: jsonEncoder.finding}, tc.opt.Share(tc.streams))
			}
			for i := range tc.n {
				f := analyzer.Finding{
					Kind:   analyzer.Kinds[rng.IntN(2)],
					Time:   time.Unix(int64(rng.IntN(4)), 0).UTC(),
					Frames: []uint64{uint64(rng.IntN(3)), uint64(i)}, // i: which one it is
				}
				s := rng.IntN(tc.streams)
				recs[s].Add(nil, []analyzer.Finding{f})
				kept[s].Findings = append(kept[s].Findings, f)
			}
			for i := range kept {
				analyzer.SortFindings(kept[i].Findings) // as Stream.Report does
			}
			want := analyzer.Merge(kept)
			findings, conns := readRecords(t, MergeRecords(recs))
			if len(conns) != 0 {
				t.Errorf("%d connection records, want none", len(conns))
			}
			same(t, "findings", findings, want.Findings)
			noFilesLeft(t, tc.opt.Dir)
		})
	}
}

// TestMergeRecordsIncidents: the incidents Recorders group and sort come out of
// MergeRecords as IncidentCollectors fed the same findings give them through
// MergeIncidents: the same incidents, in the same order, ties (equal time, first
// frame and kind) included: those of the first Recorder first, then in the order
// added; times before 1970 and past 2262 (beyond nanoseconds in an int64) too; in
// memory and in runs on disk.
func TestMergeRecordsIncidents(t *testing.T) {
	kinds := []analyzer.Kind{analyzer.MissingFinalAck, analyzer.FinRetransmit, analyzer.FirstFinUnacked,
		analyzer.ReuseIn2MSL, analyzer.ReuseRefused, analyzer.StaleSegment}
	times := []time.Time{time.Unix(-5, 7).UTC(), time.Unix(0, 0).UTC(), time.Unix(1, 5).UTC(), time.Unix(1, 999_999_999).UTC(), time.Unix(2, 0).UTC(),
		time.Date(2300, 1, 1, 0, 0, 0, 1, time.UTC)}
	for _, tc := range []struct {
		n, streams int
		opt        spill.Options
		most       int // findings of one incarnation, at most (4 unless set)
	}{
		{300, 1, spill.Options{}, 0},
		{300, 2, spill.Options{}, 0},
		{600, 3, spill.Options{MaxRecords: 4}, 0},
		{600, 3, spill.Options{MaxRecords: 1, MaxRuns: 2}, 0},
		{1000, 7, spill.Options{MaxBytes: 300}, 0},
		// Many findings an Add: grouped through a map, the texts of all its
		// incidents in one buffer that moves as it grows (incidentGrouper.borrow).
		{300, 2, spill.Options{MaxRecords: 16}, 40},
	} {
		if tc.most == 0 {
			tc.most = 4
		}
		t.Run(fmt.Sprintf("%d/%d/%+v/%d", tc.n, tc.streams, tc.opt, tc.most), func(t *testing.T) {
			tc.opt.Dir = t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.streams)))
			recs := make([]*Recorder, tc.streams)
			cols := make([]*IncidentCollector, tc.streams)
			for i := range recs {
				recs[i] = newRecorder(encoder{incident: jsonEncoder.incident}, tc.opt.Share(tc.streams))
				cols[i] = &IncidentCollector{}
			}
			for i := range tc.n {
				// One incarnation's findings: a few, of one connection.
				client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(3))}), uint16(1000+i))
				var fs []analyzer.Finding
				for range 1 + rng.IntN(tc.most) {
					fs = append(fs, analyzer.Finding{
						Kind: kinds[rng.IntN(len(kinds))], Client: client, Server: netip.MustParseAddrPort("10.0.1.1:80"),
						Incarnation: 1 + rng.IntN(2), Sender: []string{"client", "server"}[rng.IntN(2)],
						Time: times[rng.IntN(len(times))], Frames: []uint64{uint64(rng.IntN(3)), uint64(rng.IntN(3))},
						Message: fmt.Sprintf("finding %d; of incarnation %d", len(fs), i),
					})
				}
				s := rng.IntN(tc.streams)
				recs[s].Add(nil, fs)
				cols[s].Add(fs)
			}
			want, omitted := MergeIncidents(cols)
			if omitted != 0 {
				t.Fatalf("%d incidents omitted, want none", omitted)
			}
			r := MergeRecords(recs)
			if !r.KeepsIncidents() || r.NumIncidents() != len(want) {
				t.Errorf("incidents kept %v, %d of them, want %d", r.KeepsIncidents(), r.NumIncidents(), len(want))
			}
			same(t, "incidents", readIncidents(t, r), want)
			noFilesLeft(t, tc.opt.Dir)
		})
	}
}

// TestRecorderEncodingError: an error encoding a record stops the Recorder and is
// what reading the Records returns, the sorters closed.
func TestRecorderEncodingError(t *testing.T) {
	errBad := fmt.Errorf("bad record")
	dir := t.TempDir()
	finding := func(dst []byte, f *analyzer.Finding) ([]byte, error) { return append(dst, 'f'), nil }
	ok := newRecorder(encoder{finding: finding, connection: func(dst []byte, c *analyzer.Connection) ([]byte, error) {
		return append(dst, 'c'), nil
	}}, spill.Options{Dir: dir, MaxRecords: 1})
	bad := newRecorder(encoder{finding: finding, connection: func(dst []byte, c *analyzer.Connection) ([]byte, error) {
		if c.FirstFrame == 3 {
			return dst, errBad
		}
		return append(dst, 'c'), nil
	}}, spill.Options{Dir: dir, MaxRecords: 1})
	for frame := range uint64(6) {
		c := analyzer.Connection{FirstFrame: frame}
		fs := []analyzer.Finding{{Kind: analyzer.Kinds[0], Frames: []uint64{frame}}}
		ok.Add(&c, fs)
		bad.Add(&c, fs)
	}
	if ok.err != nil || bad.err != errBad {
		t.Fatalf("errors %v and %v, want nil and %v", ok.err, bad.err, errBad)
	}
	if n, m := bad.conns.Len(), bad.findings.Len(); n != 3 || m != 3 {
		t.Errorf("after the error the Recorder kept %d connections and %d findings, want the 3 of each before it", n, m)
	}
	r := MergeRecords([]*Recorder{nil, ok, bad})
	if err := r.Findings(func([]byte) error { return nil }); err != errBad {
		t.Errorf("Findings: %v, want %v", err, errBad)
	}
	noFilesLeft(t, dir)
	if r := MergeRecords([]*Recorder{nil, nil}); r != nil {
		t.Errorf("MergeRecords of no Recorder: %v, want nil", r)
	}
}

func noFilesLeft(t *testing.T, dir string) {
	t.Helper()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func fmtCounts(r analyzer.Report) string {
	b, _ := json.Marshal([]any{r.Closes, r.Counts})
	return string(b)
}

// same: got are the records of want, encoded by jsonEncoder.
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

// jsonEncoder encodes records as the tests compare them (same): encoding/json.
var jsonEncoder = encoder{
	connection: func(dst []byte, c *analyzer.Connection) ([]byte, error) {
		b, err := json.Marshal(c)
		return append(dst, b...), err
	},
	finding: func(dst []byte, f *analyzer.Finding) ([]byte, error) {
		b, err := json.Marshal(f)
		return append(dst, b...), err
	},
	incident: func(dst []byte, in *Incident) ([]byte, error) {
		b, err := json.Marshal(in)
		return append(dst, b...), err
	},
}

// readIncidents reads the incidents of r.
func readIncidents(t *testing.T, r *Records) [][]byte {
	t.Helper()
	var out [][]byte
	if err := r.Incidents(func(b []byte) error { out = append(out, bytes.Clone(b)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
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

// shardedReports: the Reports of n Streams, each fed by a streaming tracker of its
// share of file's 4-tuples (reassembly.Shard). With recs not nil, each Stream sends
// its records to a Recorder of its own (jsonEncoder, a sort bounded by
// opt.Share(n)), appended to *recs.
func shardedReports(t *testing.T, file []string, n int, recs *[]*Recorder, opt spill.Options) []analyzer.Report {
	t.Helper()
	streams := make([]*analyzer.Stream, n)
	trackers := make([]*reassembly.Tracker, n)
	for i := range streams {
		st := analyzer.NewStream(analyzer.Config{}, true)
		if recs != nil {
			r := newRecorder(jsonEncoder, opt.Share(n))
			st.SendTo(r)
			*recs = append(*recs, r)
		}
		streams[i] = st
		trackers[i] = reassembly.NewTracker(reassembly.Config{KeepCounts: true, Done: func(inc *reassembly.Incarnation) { st.Add(inc) }})
	}
	end := reassembly.InstantOf(synth.EachSegment(t, file, func(seg *capture.Segment) { trackers[reassembly.Shard(seg, n)].Add(seg) }))
	reps := make([]analyzer.Report, n)
	for i, tr := range trackers {
		tr.Finish(end)
		reps[i] = streams[i].Report()
	}
	return reps
}

// committedCaptures returns the captures in testdata/pcaps, each as the files read
// together: one file, or the pieces of a rotated capture (NAME.pcap0, NAME.pcap1,
// ...) in numeric order. Every file there but the expected reports, the ss(8)
// records and the README is a capture.
func committedCaptures(t testing.TB) [][]string {
	t.Helper()
	sets, err := synth.CaptureSets("../../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

package analyzer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// TestSpillSameOrder: a Stream that spills its records, with a bound small enough
// that every capture goes to disk in runs, hands them out in the order of the report
// of a Stream that keeps them.
func TestSpillSameOrder(t *testing.T) {
	files, err := filepath.Glob("../testdata/pcaps/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures")
	}
	enc := Encoder{
		Connection: func(dst []byte, c *Connection) ([]byte, error) {
			b, err := json.Marshal(c)
			return append(dst, b...), err
		},
		Finding: func(dst []byte, f *Finding) ([]byte, error) { b, err := json.Marshal(f); return append(dst, b...), err },
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := report(t, file, true, 0)
			for _, opt := range []spill.Options{{}, {MaxRecords: 3}, {MaxRecords: 1, MaxRuns: 2}} {
				st := NewStream(Config{}, true)
				st.Spill(enc, opt)
				tr := reassembly.NewTracker(reassembly.Config{Done: func(inc *reassembly.Incarnation) {
					fs := st.Add(inc)
					for i := range fs {
						if fs[i].Kind == "" {
							t.Error("Add returned an empty finding")
						}
					}
				}})
				feedFile(t, file, tr)
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
				var conns, findings [][]byte
				collect := func(out *[][]byte) func([]byte) error {
					return func(b []byte) error { *out = append(*out, bytes.Clone(b)); return nil }
				}
				if err := got.Records.Findings(collect(&findings)); err != nil {
					t.Fatal(err)
				}
				if err := got.Records.Connections(collect(&conns)); err != nil {
					t.Fatal(err)
				}
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

// TestFindingKeyOrder: the key of a finding sorts as Report's comparison does (time,
// even before 1970, first frame, kind name).
func TestFindingKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var fs []Finding
	for range 2000 {
		fs = append(fs, Finding{
			at:     int64(rng.IntN(7)-3) * (1 << 62 / 3),
			Frames: []uint64{uint64(rng.IntN(3)), 9},
			Kind:   Kinds[rng.IntN(len(Kinds))],
		})
	}
	for i := range fs {
		for j := range fs {
			x, y := &fs[i], &fs[j]
			var want int
			switch {
			case x.at != y.at:
				want = cmpBool(x.at < y.at)
			case x.Frames[0] != y.Frames[0]:
				want = cmpBool(x.Frames[0] < y.Frames[0])
			case x.Kind != y.Kind:
				want = cmpBool(x.Kind < y.Kind)
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

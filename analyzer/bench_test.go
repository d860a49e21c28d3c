package analyzer

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// benchIncarnations are the finished incarnations of a capture, tracked once so that
// a benchmark times the analysis alone. FINACK_BENCH_PCAP names a large capture (go
// run ./cmd/finack-gen -big 2000000 -o /tmp/big.pcap); the default is every
// committed capture, for the variety of their findings.
func benchIncarnations(b *testing.B) []*reassembly.Incarnation {
	b.Helper()
	files := []string{os.Getenv("FINACK_BENCH_PCAP")}
	if files[0] == "" {
		var err error
		if files, err = filepath.Glob("../testdata/pcaps/*.pcap"); err != nil || len(files) == 0 {
			b.Fatal("no captures")
		}
	}
	var incs []*reassembly.Incarnation
	for _, file := range files {
		tr := reassembly.NewTracker(reassembly.Config{})
		feedFile(b, file, tr)
		incs = append(incs, tr.Incarnations()...)
	}
	return incs
}

// benchEncoder stands for the report's encoders (analyzer/report/jsonrec.go): it appends
// a few fields of each record, so that the sorter holds records of a realistic size.
var benchEncoder = Encoder{
	Connection: func(dst []byte, c *Connection) ([]byte, error) {
		dst = AppendEndpoint(dst, c.Client)
		dst = AppendEndpoint(dst, c.Server)
		dst = append(dst, c.History...)
		dst = append(dst, c.TimeWaitUntil...)
		return strconv.AppendUint(dst, c.FirstFrame, 10), nil
	},
	Finding: func(dst []byte, f *Finding) ([]byte, error) {
		dst = AppendEndpoint(dst, f.Client)
		dst = AppendEndpoint(dst, f.Server)
		return append(dst, f.Message...), nil
	},
}

// BenchmarkStreamAdd times Stream.Add per incarnation: the analysis into findings and
// a connection record, kept as each kind of run keeps them, then handed out in report
// order. It reports the time and the allocations per incarnation.
func BenchmarkStreamAdd(b *testing.B) {
	incs := benchIncarnations(b)
	for _, bc := range []struct {
		name        string
		connections bool // a record per incarnation
		spill       bool // encoded and sorted outside (Stream.Spill)
	}{
		{"counts", false, false}, // a live run: counts and findings
		{"records", true, false}, // every record kept in memory (--fail-on, junit, ...)
		{"spill", true, true},    // the plain report of a file
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			n := 0
			for b.Loop() {
				st := NewStream(Config{}, bc.connections)
				if bc.spill {
					st.Spill(benchEncoder, spill.Options{Dir: dir})
				}
				for _, inc := range incs {
					st.Add(inc)
				}
				rep := st.Report()
				if r := rep.Records; r != nil {
					nop := func([]byte) error { return nil }
					if err := r.Findings(nop); err != nil {
						b.Fatal(err)
					}
					if err := r.Connections(nop); err != nil {
						b.Fatal(err)
					}
				}
				n += len(incs)
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/incarnation")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/incarnation")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n), "B/incarnation")
		})
	}
}

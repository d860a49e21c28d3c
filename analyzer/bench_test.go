package analyzer

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

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

// benchSink stands for the report's Recorder (analyzer/report/records.go): it
// encodes a few fields of each record, as the report's encoders would.
type benchSink struct{ buf []byte }

func (s *benchSink) Add(c *Connection, fs []Finding) {
	if c != nil {
		b := AppendEndpoint(s.buf[:0], c.Client)
		b = AppendEndpoint(b, c.Server)
		b = append(b, c.History...)
		b = append(b, c.TimeWaitUntil...)
		s.buf = strconv.AppendUint(b, c.FirstFrame, 10)
	}
	for i := range fs {
		b := AppendEndpoint(s.buf[:0], fs[i].Client)
		b = AppendEndpoint(b, fs[i].Server)
		s.buf = append(b, fs[i].Message...)
	}
}

// BenchmarkStreamAdd times Stream.Add per incarnation: the analysis into findings and
// a connection record, kept as each kind of run keeps them (in memory, in report
// order; or handed to a Sink that encodes them). It reports the time and the allocations per incarnation.
func BenchmarkStreamAdd(b *testing.B) {
	incs := benchIncarnations(b)
	for _, bc := range []struct {
		name        string
		connections bool // a record per incarnation
		sink        bool // handed to a Sink (Stream.SendTo)
	}{
		{"counts", false, false}, // a live run: counts and findings
		{"records", true, false}, // every record kept in memory (--fail-on, junit, ...)
		{"sink", true, true},     // the plain report of a file
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			n := 0
			for b.Loop() {
				st := NewStream(Config{}, bc.connections)
				if bc.sink {
					st.SendTo(&benchSink{})
				}
				for _, inc := range incs {
					st.Add(inc)
				}
				st.Report()
				n += len(incs)
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/incarnation")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(n), "allocs/incarnation")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n), "B/incarnation")
		})
	}
}

package gate

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkReadSaved reads a saved -o json report per op, as --baseline does:
// FINACK_BENCH_REPORT=/tmp/report.json (finack -q -r big.pcap -o json >
// /tmp/report.json); skipped when unset.
func BenchmarkReadSaved(b *testing.B) {
	path := os.Getenv("FINACK_BENCH_REPORT")
	if path == "" {
		b.Skip("FINACK_BENCH_REPORT not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readSaved(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

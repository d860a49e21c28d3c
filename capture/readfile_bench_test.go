package capture

import (
	"io"
	"os"
	"testing"
)

// BenchmarkReadFile reads and decodes a whole capture file per op:
// FINACK_BENCH_PCAP=/tmp/big2m.pcap (go run ./cmd/finack-gen -big 2000000 -o
// /tmp/big2m.pcap); skipped when unset.
func BenchmarkReadFile(b *testing.B) {
	path := os.Getenv("FINACK_BENCH_PCAP")
	if path == "" {
		b.Skip("FINACK_BENCH_PCAP not set")
	}
	var seg Segment
	var n uint64
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open([]string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if err := r.Next(&seg); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		n += r.Stats().Packets
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/packet")
	b.ReportMetric(float64(n)/float64(b.N), "packets/op")
}

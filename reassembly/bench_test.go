package reassembly

import (
	"os"
	"testing"

	"github.com/finack/finack/capture"
)

// loadSegments decodes a capture into memory once, so a benchmark times the tracker
// alone. FINACK_BENCH_PCAP names a large capture (go run ./cmd/finack-gen -big
// 2000000 -o /tmp/big.pcap); the default is a small committed one.
func loadSegments(b *testing.B) []capture.Segment {
	b.Helper()
	path := os.Getenv("FINACK_BENCH_PCAP")
	if path == "" {
		path = "../testdata/pcaps/many-connections.pcap"
	}
	segs, err := readSegments(b, path)
	if err != nil {
		b.Fatal(err)
	}
	return segs
}

// BenchmarkTrack times Tracker.Add per segment, streaming (incarnations finished and
// forgotten as the capture goes), as finack reads files: with a Done that keeps the
// incarnations (fresh memory for each) and one that keeps nothing (reused memory,
// Config.DoneKeepsNothing, as finack's analysis).
func BenchmarkTrack(b *testing.B) {
	segs := loadSegments(b)
	for _, bc := range []struct {
		name    string
		recycle bool
	}{{"fresh", false}, {"reused", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				tr := NewTracker(Config{Done: func(*Incarnation) {}, DoneKeepsNothing: bc.recycle})
				for i := range segs {
					tr.Add(&segs[i])
				}
				tr.Finish(InstantOf(segs[len(segs)-1].Time))
				n += len(segs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/segment")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "segments/s")
		})
	}
}

// BenchmarkEach times Tracker.Each over what a streaming tracker holds at the end of
// the capture (before Finish), per incarnation: the walk the live metrics' socket
// states make; most of what it visits is packed, and unpacked for the call.
func BenchmarkEach(b *testing.B) {
	segs := loadSegments(b)
	tr := NewTracker(Config{Done: func(*Incarnation) {}, DoneKeepsNothing: true})
	for i := range segs {
		tr.Add(&segs[i])
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		tr.Each(func(*Incarnation) { n++ })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(n, 1)), "ns/incarnation")
	b.ReportMetric(float64(n)/float64(b.N), "incarnations")
}

// BenchmarkEachMemo times Tracker.EachMemo over what BenchmarkEach walks, per
// incarnation: the second walk and those after it, where the value of every packed
// incarnation holds (its record and the Memo's entry unchanged), and the first walk,
// which unpacks them all to fill the Memo.
func BenchmarkEachMemo(b *testing.B) {
	segs := loadSegments(b)
	tr := NewTracker(Config{Done: func(*Incarnation) {}, DoneKeepsNothing: true})
	for i := range segs {
		tr.Add(&segs[i])
	}
	eval := func(inc *Incarnation) (uint32, Instant) { return uint32(inc.Index), Instant(1<<63 - 1) }
	for _, bc := range []struct {
		name  string
		fresh bool
	}{{"again", false}, {"first", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var m Memo
			n, hits := 0, 0
			tr.EachMemo(&m, 0, eval, func(*FlowKey, uint32) {})
			for b.Loop() {
				if bc.fresh {
					m = Memo{}
				}
				tr.EachMemo(&m, 0, eval, func(*FlowKey, uint32) { n++ })
				hits += m.Hits
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(n, 1)), "ns/incarnation")
			b.ReportMetric(float64(hits)/float64(max(n, 1)), "remembered")
		})
	}
}

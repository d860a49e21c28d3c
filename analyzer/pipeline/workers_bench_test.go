package pipeline

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// BenchmarkReaderStages times, per segment, how the workers are fed: one goroutine
// reading, decoding and keying every segment (serial, below three workers); with
// decoders (frameDecoders), only reading the records (framing), the rest on the
// decoders (decoding); a pcap file read in parts by K goroutines (parts=K, wall
// time). A worker takes a few hundred ns a segment to track it: what stays on one
// goroutine limits the workers once they are more than that over its time a
// segment. FINACK_BENCH_PCAP names a large capture; the default is a small
// committed one.
func BenchmarkReaderStages(b *testing.B) {
	file := os.Getenv("FINACK_BENCH_PCAP")
	if file == "" {
		file = pcapDir + "/many-connections.pcap"
	}
	open := func(b *testing.B) *capture.Reader {
		r, err := capture.Open([]string{file}, capture.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	closeAll := func(b *testing.B, r *capture.Reader, segs *uint64) {
		*segs += r.Stats().Segments
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	perSegment := func(b *testing.B, segs uint64) {
		if segs == 0 {
			b.Fatalf("%s: no segment", file)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(segs), "ns/segment")
	}
	b.Run("serial", func(b *testing.B) {
		var segs uint64
		var seg capture.Segment
		var k reassembly.Keyed
		for b.Loop() {
			r := open(b)
			for r.Next(&seg) == nil {
				k.Set(&seg)
			}
			closeAll(b, r, &segs)
		}
		perSegment(b, segs)
	})
	b.Run("framing", func(b *testing.B) {
		var perRun, segs uint64 // the segments the decoders would find in the file
		r := open(b)
		var seg capture.Segment
		for r.Next(&seg) == nil {
		}
		closeAll(b, r, &perRun)
		var f capture.Frames
		for b.Loop() {
			r := open(b)
			err := r.ReadFrames(&f, batchLen, frameBytes)
			for err == nil {
				err = r.ReadFrames(&f, batchLen, frameBytes)
			}
			if err != io.EOF {
				b.Fatal(err)
			}
			if err := r.Close(); err != nil {
				b.Fatal(err)
			}
			segs += perRun
		}
		perSegment(b, segs)
	})
	for _, k := range []int{1, 2} {
		// Reading in parts (capture.Reader.Parts): k goroutines each read, decode
		// and key every k-th part, with no sequencing (Sequence: a few ns a
		// record); wall time a segment.
		b.Run(fmt.Sprintf("parts=%d", k), func(b *testing.B) {
			var segs atomic.Uint64
			for b.Loop() {
				r := open(b)
				parts, ok := r.Parts(partBytes)
				if !ok {
					b.Skipf("%s cannot be read in parts", file)
				}
				var wg sync.WaitGroup
				for g := range k {
					p, err := r.NewPartReader()
					if err != nil {
						b.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						var run capture.PartRecords
						segBuf := make([]capture.Segment, batchLen)
						var key reassembly.Keyed
						for i := g; i < len(parts); i += k {
							p.Begin(parts[i], i == 0)
							for {
								n := p.Read(&run, segBuf)
								for j := range n {
									key.Set(&segBuf[j])
								}
								segs.Add(uint64(n))
								if run.Done {
									break
								}
							}
						}
					}()
				}
				wg.Wait()
				if err := r.Close(); err != nil {
					b.Fatal(err)
				}
			}
			perSegment(b, segs.Load())
		})
	}
	b.Run("decoding", func(b *testing.B) {
		r := open(b)
		var runs []*capture.Frames
		for {
			f := new(capture.Frames)
			err := r.ReadFrames(f, batchLen, frameBytes)
			runs = append(runs, f)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		dec := r.NewFrameDecoder()
		var segs uint64
		var seg capture.Segment
		var k reassembly.Keyed
		for b.Loop() {
			for _, f := range runs {
				for i := range f.Len() {
					if dec.Decode(f, i, &seg) {
						k.Set(&seg)
						segs++
					}
				}
			}
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
		perSegment(b, segs)
	})
}

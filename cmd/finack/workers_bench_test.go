package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// cpuTime is the CPU time (user and system) the process has used so far, in ns: on a
// machine shared with other work, a steadier figure than the time elapsed.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTrackAll times pipeline.TrackAll per segment, reading and decoding included, with
// 1 and 2 workers, as finack tracks a file but with a Done that only counts (the
// analysis has its own benchmarks). The cost of dealing segments out to the
// workers shows as the difference from one core's work (run it pinned, taskset -c
// 0, for that) and in the CPU time of every goroutine (cpu-ns/segment).
// FINACK_BENCH_PCAP names a large capture (go run ./cmd/finack-gen -big 2000000 -o
// /tmp/big.pcap); the default is a small committed one.
func BenchmarkTrackAll(b *testing.B) {
	file := os.Getenv("FINACK_BENCH_PCAP")
	if file == "" {
		file = pcapDir + "/many-connections.pcap"
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			var segs uint64
			want := -1 // incarnations handed out: the same in every run
			cpu0 := cpuTime(b)
			for b.Loop() {
				r, err := capture.Open([]string{file}, capture.Options{})
				if err != nil {
					b.Fatal(err)
				}
				counts := make([]int, n)
				done := make([]func(*reassembly.Incarnation), n)
				for i := range done {
					done[i] = func(*reassembly.Incarnation) { counts[i]++ }
				}
				cfg := reassembly.Config{TimeWait: 60 * time.Second, KeepCounts: true, DoneKeepsNothing: true, MaxConnections: pipeline.DefaultMaxConns}
				if _, err := pipeline.TrackAll(r, cfg, done, nil); err != nil {
					b.Fatalf("%s: %v", file, err)
				}
				segs += r.Stats().Segments
				synth.CheckClose(b, r)
				got := 0
				for _, c := range counts {
					got += c
				}
				if want == -1 {
					want = got
				}
				if got != want || got == 0 {
					b.Fatalf("%s: %d incarnations handed out, %d in the first run", file, got, want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(segs), "ns/segment")
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(segs), "cpu-ns/segment")
		})
	}
}

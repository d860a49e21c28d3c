package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, gcMaxPercent},
		{1 << 20, gcMaxPercent},       // 1,600% would be more than the bound
		{2 << 20, 800},                // 16 MiB on 2
		{16 << 20, 100},               // the heap doubles
		{24 << 20, 66},                // 16 on 24 MiB
		{32 << 20, gcMinPercent},      // half of it: 16 MiB either way
		{1 << 30, gcMinPercent},       // a large heap grows by half
		{gcHeadroom * 100 / 999, 999}, // just under the bound
		{gcHeadroom * 100 / gcMaxPercent, gcMaxPercent},
	} {
		if got := gcPercent(tc.live); got != tc.want {
			t.Errorf("gcPercent(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// TestPaceCollector: after each collection the percent becomes the one for the
// live heap it found.
func TestPaceCollector(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	p := paceCollector()
	defer p.stop.Store(true)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	if metrics.Read(sample); sample[1].Value.Uint64() != gcFirstPercent {
		t.Fatalf("percent at start %d, want %d", sample[1].Value.Uint64(), gcFirstPercent)
	}
	keep := make([][]byte, 0, 64) // a live heap that differs from one cycle to the next
	for cycle := 1; cycle <= 3; cycle++ {
		for range 8 * cycle {
			keep = append(keep, make([]byte, 1<<20))
		}
		runtime.GC()
		// The cleanup runs after the collection, on a goroutine of the runtime's
		// (and a collection the allocations above started may run another).
		var live uint64
		var got, want int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			metrics.Read(sample)
			live, got = sample[0].Value.Uint64(), int(sample[1].Value.Uint64())
			if want = gcPercent(live); got == want {
				break
			}
		}
		if got != want || got == gcFirstPercent {
			t.Fatalf("collection %d, live heap %d MiB: percent %d, want %d", cycle, live>>20, got, want)
		}
	}
	if p.paced.Load() < 3 {
		t.Errorf("%d collections paced, want 3 at least", p.paced.Load())
	}
	runtime.KeepAlive(keep)
}

package reassembly

import (
	"io"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// TestKeepCountsNumbersAsBatch: a streaming tracker with KeepCounts numbers the
// incarnations of a 4-tuple it had forgotten as a batch tracker does (the third
// connection on a 4-tuple is #3 even when the first two were finished and dropped).
func TestKeepCountsNumbersAsBatch(t *testing.T) {
	for _, file := range []string{"gen-reuse-timestamps.pcap", "many-connections.pcap", "gen-reuse-by-holder.pcap"} {
		r, err := capture.Open([]string{"../testdata/pcaps/" + file}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var segs []capture.Segment
		var s capture.Segment
		for r.Next(&s) == nil {
			segs = append(segs, s)
		}
		if err := r.Next(&s); err != io.EOF {
			t.Fatal(err)
		}
		r.Close()
		index := func(stream bool, tw time.Duration) map[uint64]int {
			got := map[uint64]int{}
			cfg := Config{TimeWait: tw}
			if stream {
				cfg.Done = func(inc *Incarnation) { got[inc.First.Frame] = inc.Index }
				cfg.KeepCounts = true
			}
			tr := NewTracker(cfg)
			for i := range segs {
				tr.Add(&segs[i])
			}
			tr.Finish(segs[len(segs)-1].Time.UnixNano())
			for _, inc := range tr.Incarnations() {
				got[inc.First.Frame] = inc.Index
			}
			return got
		}
		for _, tw := range []time.Duration{time.Millisecond, time.Second, DefaultTimeWait} {
			b, st := index(false, tw), index(true, tw)
			if len(b) != len(st) {
				t.Errorf("%s, TIME_WAIT %v: %d incarnations batch, %d streaming", file, tw, len(b), len(st))
			}
			for f, i := range b {
				if st[f] != i {
					t.Errorf("%s, TIME_WAIT %v: incarnation at frame %d: #%d batch, #%d streaming", file, tw, f, i, st[f])
				}
			}
		}
	}
}

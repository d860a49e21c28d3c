package pipeline

import (
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/reassembly"
)

// TestLivePageCountClose: the live page counts closes per second by the chart's
// shapes (CloseShapes), a connection never closed not among them; past
// livePageSeconds seconds, neighbouring seconds are merged, no close lost.
func TestLivePageCountClose(t *testing.T) {
	at := func(sec float64) reassembly.Instant { return reassembly.Instant(sec * float64(time.Second)) }
	var p livePage
	for _, c := range []struct {
		sec   float64
		shape analyzer.Shape
	}{
		{10.1, analyzer.FourWay}, {10.9, analyzer.FourWay}, {10.5, analyzer.Reset}, {10.7, analyzer.NoClose},
		{12.0, analyzer.ThreeWay}, {12.2, analyzer.Unfinished},
	} {
		p.countClose(at(c.sec), c.shape)
	}
	shape := func(s analyzer.Shape) int {
		for i, x := range report.CloseShapes {
			if x == s {
				return i
			}
		}
		t.Fatalf("%s is not a chart shape", s)
		return -1
	}
	var want [2]report.CloseCounts
	want[0].At, want[1].At = time.Unix(10, 0).UTC(), time.Unix(12, 0).UTC()
	want[0].Counts[shape(analyzer.FourWay)] = 2
	want[0].Counts[shape(analyzer.Reset)] = 1
	want[1].Counts[shape(analyzer.ThreeWay)] = 1
	want[1].Counts[shape(analyzer.Unfinished)] = 1
	if len(p.closes) != 2 || p.closes[0] != want[0] || p.closes[1] != want[1] {
		t.Errorf("closes per second %+v, want %+v", p.closes, want)
	}

	var q livePage
	for sec := range livePageSeconds + 1 {
		q.countClose(at(float64(sec)), analyzer.FourWay)
	}
	total := 0
	for _, c := range q.closes {
		total += c.Counts[shape(analyzer.FourWay)]
	}
	if len(q.closes) != livePageSeconds/2+1 || total != livePageSeconds+1 || q.closes[1].At != time.Unix(2, 0).UTC() {
		t.Errorf("after %d seconds: %d entries holding %d closes, the second at %v; want %d entries, every close, the second at 2 s",
			livePageSeconds+1, len(q.closes), total, q.closes[1].At, livePageSeconds/2+1)
	}
}

package analyzer

import "github.com/finack/finack/reassembly"

// EdgeSweep measures what TimeWaitHostOf measures from the edges of a host's spans
// (EdgePeak: the peak, when it was first reached, the count at the end; EdgeChart:
// the highest count in each slice of the capture), from spans handed to it in From
// order, one at a time: it keeps the ends of the spans still open, not the spans,
// so that its memory follows the spans open at once, not their number. A span with
// To <= From counts for nothing (TIME_WAIT spans are never empty).
//
// The edges are made as edgesOf makes them, one per instant (the spans ending there
// and those starting there together), in At order: the ends still open that come
// before a span's start, then its start; the ends left at Finish.
type EdgeSweep struct {
	start, end reassembly.Instant
	chart      []int
	ends       endHeap

	pending Edge // the edge of the latest instant, which more spans may still join
	has     bool // pending holds an edge
	prev    Edge // the last edge applied: its count holds until the next one
	applied bool
	count   int

	total       int
	peak, atEnd int
	peakAt      reassembly.Instant
}

// Reset empties the sweep for the spans of a capture [start, end], charted in n
// slices, keeping its memory.
func (s *EdgeSweep) Reset(start, end reassembly.Instant, n int) {
	s.start, s.end = start, end
	if cap(s.chart) < n {
		s.chart = make([]int, n)
	}
	s.chart = s.chart[:n]
	clear(s.chart)
	s.ends = s.ends[:0]
	s.pending, s.has, s.prev, s.applied, s.count = Edge{}, false, Edge{}, false, 0
	s.total, s.peak, s.atEnd, s.peakAt = 0, 0, 0, 0
}

// Add counts the span iv, its From no earlier than that of the spans added before.
func (s *EdgeSweep) Add(iv Interval) {
	if iv.To <= iv.From {
		return
	}
	s.total++
	for len(s.ends) > 0 && s.ends[0].at <= iv.From {
		s.edge(s.ends.pop().at, 0, 1)
	}
	s.edge(iv.From, 1, 0)
	s.ends.push(spanEnd{at: iv.To})
}

// edge adds up spans starting and down spans ending at at, no earlier than the
// edges before: to the pending edge when it is at the same instant.
func (s *EdgeSweep) edge(at reassembly.Instant, up, down int) {
	if s.has && s.pending.At == at {
		s.pending.Up += up
		s.pending.Down += down
		return
	}
	if s.has {
		s.apply(s.pending)
	}
	s.pending, s.has = Edge{At: at, Up: up, Down: down}, true
}

// apply counts edge e, whose instant is final: the count the edge before held up to
// it goes to the chart (EdgeChart), e's to the peak and the count at the end
// (EdgePeak).
func (s *EdgeSweep) apply(e Edge) {
	if s.applied {
		s.chartSpan(s.prev.At, e.At)
	}
	s.count += e.Up - e.Down
	if s.count > s.peak {
		s.peak, s.peakAt = s.count, e.At
	}
	if e.At <= s.end {
		s.atEnd = s.count
	}
	s.prev, s.applied = e, true
}

// chartSpan marks the count of the last edge applied (at from) in every slice up
// to next, as EdgeChart does.
func (s *EdgeSweep) chartSpan(from, next reassembly.Instant) {
	if s.count == 0 || from > s.end || next < s.start {
		return
	}
	buckets := int64(len(s.chart))
	span := int64(s.end.Sub(s.start)) + 1
	bucket := func(at reassembly.Instant) int {
		return int(min(max(int64(at.Sub(s.start))*buckets/span, 0), buckets-1))
	}
	for b := bucket(max(from, s.start)); b <= bucket(min(next, s.end)); b++ {
		s.chart[b] = max(s.chart[b], s.count)
	}
}

// Host is the TIME_WAIT of host over the spans added (TimeWaitHostOf of their
// edges). It ends the sweep: Reset before adding more.
func (s *EdgeSweep) Host(host string) TimeWaitHost {
	for len(s.ends) > 0 {
		s.edge(s.ends.pop().at, 0, 1)
	}
	if s.has {
		s.apply(s.pending)
		s.has = false
	}
	if s.applied {
		s.chartSpan(s.prev.At, s.end)
	}
	return TimeWaitHost{Host: host, Peak: s.peak, PeakAt: utc(s.peakAt), AtEnd: s.atEnd, Total: s.total,
		Chart: append([]int(nil), s.chart...)}
}

package analyzer

import "github.com/finack/finack/reassembly"

// PeakSweep finds what PeakOf finds (or Peak, with ports: AddPort) from spans handed
// to it in From order, one at a time: it keeps the ends of the spans still open,
// not the spans, so its memory follows the spans open at once, not their number.
// The zero value is ready; Reset empties it for another set of spans.
type PeakSweep struct {
	ends    endHeap                       // of the spans open (AddPort: an entry per port open, perhaps stale)
	open    map[uint16]reassembly.Instant // AddPort: the ports open, to the end of their merged span
	ports   bool                          // AddPort counts: ports open, not spans
	from    reassembly.Instant            // the start of the latest spans added
	started bool
	peak    int
	at      reassembly.Instant
}

// Add counts the span iv, its From no earlier than that of the spans added before.
// A span with To <= From counts for nothing, as in PeakOf.
func (s *PeakSweep) Add(iv Interval) {
	s.advance(iv.From)
	if iv.To > iv.From {
		s.ends.push(spanEnd{at: iv.To})
	}
}

// AddPort counts the span iv of a port, its From no earlier than that of the spans
// added before: the spans of one port are merged first (a span that starts before
// or when the port's last one ends extends it), so that a port counts once at a
// time, as in Peak. A sweep counts spans with Add or with AddPort, not both.
func (s *PeakSweep) AddPort(port uint16, iv Interval) {
	if s.open == nil {
		s.open = map[uint16]reassembly.Instant{}
	}
	s.ports = true
	s.advance(iv.From)
	if to, ok := s.open[port]; ok {
		// Open past iv.From (advance closed it otherwise): iv joins it.
		s.open[port] = max(to, iv.To)
		return
	}
	if iv.To > iv.From {
		s.open[port] = iv.To
		s.ends.push(spanEnd{at: iv.To, port: port})
	}
}

// advance moves the sweep to the instant from: the count at the instant of the
// spans added before is final (the peak when it is the highest yet); the spans that
// end by from are dropped. A port's entry may be stale (its merged span grew since):
// it goes back with the span's end.
func (s *PeakSweep) advance(from reassembly.Instant) {
	if s.started && from == s.from {
		return
	}
	s.note()
	s.started, s.from = true, from
	for len(s.ends) > 0 && s.ends[0].at <= from {
		e := s.ends.pop()
		if !s.ports {
			continue
		}
		if to := s.open[e.port]; to > from {
			s.ends.push(spanEnd{at: to, port: e.port})
		} else {
			delete(s.open, e.port)
		}
	}
}

// note counts the spans open at s.from: the count there is final.
func (s *PeakSweep) note() {
	n := len(s.ends)
	if s.ports {
		n = len(s.open)
	}
	if s.started && n > s.peak {
		s.peak, s.at = n, s.from
	}
}

// Peak is the highest number of the spans added overlapping, and when it was first
// reached (0 and 0 without spans).
func (s *PeakSweep) Peak() (peak int, at reassembly.Instant) {
	s.note()
	return s.peak, s.at
}

// Reset empties the sweep, keeping its memory.
func (s *PeakSweep) Reset() {
	s.ends = s.ends[:0]
	clear(s.open)
	s.ports = false
	s.from, s.started, s.peak, s.at = 0, false, 0, 0
}

// spanEnd is where a span ends (and, for ports, whose).
type spanEnd struct {
	at   reassembly.Instant
	port uint16
}

// endHeap is a binary min-heap of span ends.
type endHeap []spanEnd

func (h *endHeap) push(e spanEnd) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].at <= a[i].at {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *endHeap) pop() spanEnd {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		j := 2*i + 1
		if j >= len(a) {
			break
		}
		if r := j + 1; r < len(a) && a[r].at < a[j].at {
			j = r
		}
		if a[i].at <= a[j].at {
			break
		}
		a[i], a[j] = a[j], a[i]
		i = j
	}
	*h = a
	return top
}

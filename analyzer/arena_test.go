package analyzer

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finack/finack/reassembly"
)

// TestSlab: the pieces a slab hands out are never nil (a finding's frames encode as
// [] and not null) and do not overlap: filling each piece to its capacity leaves the
// others as they were, across new slabs and after giving back what came after a mark.
func TestSlab(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sizes   []int // pieces taken, in order
		release int   // after taking this many pieces: release to the mark taken before them (-1: none)
	}{
		{"empty piece first", []int{0, 1, 0}, -1},
		{"within one slab", []int{3, 5, 2}, -1},
		{"past the first slab", []int{10, 10, 10}, -1},
		{"larger than a slab", []int{2, maxSlabBytes/8 + 1, 3}, -1},
		{"release within the slab", []int{4, 4, 4, 4}, 2},
		{"release across a new slab", []int{minSlab - 1, 6, 6, 6}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s slab[uint64]
			type piece struct {
				v    []uint64
				fill uint64
			}
			var kept []piece
			mark := -1
			for i, n := range tc.sizes {
				if i == tc.release {
					mark = s.mark()
				}
				p := s.take(n)
				if p == nil || len(p) != 0 || cap(p) != n {
					t.Fatalf("take(%d) = len %d cap %d nil %v", n, len(p), cap(p), p == nil)
				}
				fill := uint64(i + 1)
				for range n {
					p = append(p, fill)
				}
				kept = append(kept, piece{p, fill})
				if i+1 == len(tc.sizes) && mark >= 0 {
					s.release(mark)
					kept = kept[:tc.release] // given back: no longer checked
					for range 3 {
						q := s.take(4)
						kept = append(kept, piece{append(q, 99, 99, 99, 99), 99})
					}
				}
			}
			for i, p := range kept {
				for _, x := range p.v {
					if x != p.fill {
						t.Fatalf("piece %d holds %v, want every value %d", i, p.v, p.fill)
					}
				}
			}
		})
	}
}

// TestFindingsKept: a Stream that does not spill keeps what its arena handed out as
// it was until the Report: the findings Add returned, encoded when it returned them,
// are those of the Report, with records and without (then, what an incarnation with
// no finding took from the arena is given back and taken again). And whatever a
// Stream keeps, the findings and counts are the same: one that keeps no record names
// the endpoints of its findings alone, one that sends only findings to a Sink (a text
// report) makes no record at all.
func TestFindingsKept(t *testing.T) {
	total := 0
	for _, file := range committedCaptures(t) {
		var first []string
		var firstCounts string
		for _, tc := range []struct {
			name        string
			connections bool
			spill       bool
		}{
			{"records", true, false},
			{"counts", false, false},
			{"spilled findings", false, true},
		} {
			st := NewStream(Config{}, tc.connections)
			var sink findingSink
			if tc.spill {
				st.SendTo(&sink)
			}
			var atAdd []string
			tr := reassembly.NewTracker(reassembly.Config{Done: func(inc *reassembly.Incarnation) {
				for _, f := range st.Add(inc) {
					b, _ := json.Marshal(f)
					atAdd = append(atAdd, string(b))
				}
			}})
			feedFiles(t, file, tr)
			rep := st.Report()
			if sink.records != 0 {
				t.Errorf("%s, %s: %d records sent to a Sink, from a Stream that keeps none", filepath.Base(file[0]), tc.name, sink.records)
			}
			atEnd := sink.findings
			for _, f := range rep.Findings {
				b, _ := json.Marshal(f)
				atEnd = append(atEnd, string(b))
			}
			slices.Sort(atAdd)
			slices.Sort(atEnd)
			if !slices.Equal(atAdd, atEnd) {
				t.Errorf("%s, %s: the findings changed after Add returned them:\nat Add\n%s\nin the Report\n%s",
					filepath.Base(file[0]), tc.name, strings.Join(atAdd, "\n"), strings.Join(atEnd, "\n"))
			}
			if first == nil {
				first, firstCounts = atEnd, fmtCounts(rep)
				total += len(atEnd)
				continue
			}
			if !slices.Equal(atEnd, first) {
				t.Errorf("%s, %s: findings\n%s\nwith records\n%s", filepath.Base(file[0]), tc.name, strings.Join(atEnd, "\n"), strings.Join(first, "\n"))
			}
			if c := fmtCounts(rep); c != firstCounts {
				t.Errorf("%s, %s: counts %s, with records %s", filepath.Base(file[0]), tc.name, c, firstCounts)
			}
		}
	}
	if total == 0 {
		t.Fatal("no finding in any capture")
	}
}

// findingSink encodes the findings a Stream sends it, as they come, and counts the
// records.
type findingSink struct {
	findings []string
	records  int
}

func (s *findingSink) Add(c *Connection, fs []Finding) {
	if c != nil {
		s.records++
	}
	for _, f := range fs {
		b, _ := json.Marshal(f)
		s.findings = append(s.findings, string(b))
	}
}

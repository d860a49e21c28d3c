package report

import (
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
)

// TestChunks: a list kept in chunks gives back what was added, in order, across
// chunk boundaries, after what dst held, and is empty after.
func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, evidenceChunk - 1, evidenceChunk, evidenceChunk + 1, 3*evidenceChunk + 7} {
		var c chunks[int]
		var want []int
		for i := range n {
			c.add(i)
			want = append(want, i)
		}
		if c.n != n {
			t.Errorf("%d added, %d counted", n, c.n)
		}
		got := c.moveTo([]int{-1})
		if !slices.Equal(got, append([]int{-1}, want...)) {
			t.Errorf("%d added: moved %d, not the same", n, len(got)-1)
		}
		if c.n != 0 || len(c.moveTo(nil)) != 0 {
			t.Errorf("%d added: not empty after", n)
		}
	}
}

// TestMergeEvidence: MergeEvidence orders the collectors' connections by first
// frame and their findings in report order, the first collector's first among
// equal findings (as analyzer.Merge orders a held report's), whatever the order
// they were added in; nil without collectors.
func TestMergeEvidence(t *testing.T) {
	if d := MergeEvidence([]*EvidenceCollector{nil}); d != nil {
		t.Fatalf("a document without collectors: %+v", d)
	}
	cs := []*EvidenceCollector{NewEvidenceCollector(nil), NewEvidenceCollector(nil)}
	at := time.Unix(100, 0)
	for i := range 3 * evidenceChunk {
		c := &analyzer.Connection{FirstFrame: uint64(3*evidenceChunk - i), Incarnation: i}
		f := analyzer.Finding{Kind: analyzer.FinRetransmit, Time: at.Add(time.Duration(i%7) * time.Second), Frames: []uint64{uint64(i % 5)}, Incarnation: i}
		cs[i%2].Add(c, []analyzer.Finding{f})
	}
	d := MergeEvidence(cs)
	if len(d.Connections) != 3*evidenceChunk || len(d.Findings) != 3*evidenceChunk {
		t.Fatalf("%d connections and %d findings, want %d each", len(d.Connections), len(d.Findings), 3*evidenceChunk)
	}
	if !slices.IsSortedFunc(d.Connections, func(a, b analyzer.Connection) int { return int(a.FirstFrame) - int(b.FirstFrame) }) {
		t.Error("connections not in first-frame order")
	}
	for i := 1; i < len(d.Findings); i++ {
		a, b := &d.Findings[i-1], &d.Findings[i]
		switch c := analyzer.CompareFindings(a, b); {
		case c > 0:
			t.Fatalf("findings %d and %d out of report order", i-1, i)
		case c == 0 && a.Incarnation%2 > b.Incarnation%2:
			t.Fatalf("findings %d and %d equal: the second collector's first", i-1, i)
		case c == 0 && a.Incarnation%2 == b.Incarnation%2 && a.Incarnation > b.Incarnation:
			t.Fatalf("findings %d and %d equal: not in the order added", i-1, i)
		}
	}
}

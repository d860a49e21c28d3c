package reassembly

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// Every test of the package runs with freed records poisoned: a record read after
// it was freed fails to unpack, or differs, instead of passing unseen.
func init() { poisonFreed = true }

func slotSize(n int) int { return (n + arenaGrain - 1) / arenaGrain * arenaGrain }

// TestRecordArena: records read back as written while others are freed and their
// slots taken again; a freed slot is reused before a chunk is added; records longer
// than arenaMax live on the heap; release empties the arena.
func TestRecordArena(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a recordArena
	type rec struct {
		s    string
		want []byte
	}
	var live []rec
	wantUsed := 0
	add := func() {
		n := 1 + rng.IntN(arenaMax+200)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		s := a.alloc(b)
		b2 := append([]byte(nil), b...)
		clear(b) // alloc copied it
		live = append(live, rec{s, b2})
		if n <= arenaMax {
			wantUsed += slotSize(n)
		}
	}
	drop := func(i int) {
		r := live[i]
		a.free(r.s)
		if len(r.s) <= arenaMax {
			wantUsed -= slotSize(len(r.s))
		}
		live[i] = live[len(live)-1]
		live = live[:len(live)-1]
	}
	check := func(when string) {
		t.Helper()
		for i, r := range live {
			if r.s != string(r.want) {
				t.Fatalf("%s: record %d (%d bytes) changed", when, i, len(r.want))
			}
		}
		if a.used != wantUsed {
			t.Fatalf("%s: %d bytes used, want %d", when, a.used, wantUsed)
		}
	}
	for range 3000 {
		add()
	}
	check("after 3000 records")
	for round := range 20 {
		for range 1000 {
			drop(rng.IntN(len(live)))
		}
		check("after frees")
		for range 1000 {
			add()
		}
		check("after reuse, round " + string(rune('a'+round)))
	}
	// Freed slots of a size are taken again before any chunk is added.
	chunks := len(a.chunks)
	var sizes []int
	for range 500 {
		i := rng.IntN(len(live))
		if n := len(live[i].s); n <= arenaMax {
			sizes = append(sizes, n)
		}
		drop(i)
	}
	for _, n := range sizes {
		a.alloc(make([]byte, n))
		wantUsed += slotSize(n)
	}
	if len(a.chunks) != chunks {
		t.Errorf("%d chunks after reusing freed slots, want %d", len(a.chunks), chunks)
	}
	check("after reusing every freed slot")
	a.release()
	if len(a.chunks) != 0 || a.used != 0 || a.tail != nil {
		t.Errorf("after release: %d chunks, %d bytes used, %d bytes of tail", len(a.chunks), a.used, len(a.tail))
	}
	s := a.alloc([]byte("again"))
	if s != "again" {
		t.Errorf("arena used again after release: %q", s)
	}
	a.release()
}

// heldRecordBytes is what the arena must hold for the flows' records.
func (t *Tracker) heldRecordBytes() int {
	n := 0
	t.flows.each(func(f *flow) {
		if l := len(f.packed); l > 0 && l <= arenaMax {
			n += slotSize(l)
		}
	})
	return n
}

// TestRecordsFreed: on every committed capture, with every incarnation packed after
// every segment (each segment then unpacks one), the arena holds exactly the flows'
// records after each segment, and nothing once the tracker finished.
func TestRecordsFreed(t *testing.T) {
	cfgs := []Config{{}, {TimeWait: time.Millisecond}, {MaxConnections: 3}}
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for i, cfg := range cfgs {
			cfg.Done = func(*Incarnation) {}
			tr := NewTracker(cfg)
			var end int64
			for j := range segs {
				tr.Add(&segs[j])
				end = max(end, segs[j].Time.UnixNano())
				tr.packEverything()
				if got, want := tr.records.used, tr.heldRecordBytes(); got != want {
					t.Fatalf("%s config %d, segment %d: arena holds %d bytes, the flows' records %d", filepath.Base(file), i, j, got, want)
				}
			}
			tr.Finish(end)
			if tr.records.used != 0 || len(tr.records.chunks) != 0 {
				t.Fatalf("%s config %d: after Finish the arena holds %d bytes in %d chunks", filepath.Base(file), i, tr.records.used, len(tr.records.chunks))
			}
		}
	}
}

package reassembly

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
	"unsafe"
)

func slotSize(n int) int { return (n + arenaGrain - 1) / arenaGrain * arenaGrain }

func recordSize(n int) int {
	if n > arenaMax {
		return n // mapped alone
	}
	return slotSize(n)
}

// TestArenaRecords: records read back as written while others are freed and their
// slots taken again; a freed slot is reused before a chunk is added; records longer
// than arenaMax are mapped alone; release empties the arena.
func TestArenaRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a arena
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
		wantUsed += recordSize(n)
	}
	drop := func(i int) {
		r := live[i]
		a.free(r.s)
		wantUsed -= recordSize(len(r.s))
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
	if len(a.chunks) != 0 || a.used != 0 || a.tail != nil || a.big != nil {
		t.Errorf("after release: %d chunks, %d records mapped alone, %d bytes used, %d bytes of tail", len(a.chunks), len(a.big), a.used, len(a.tail))
	}
	s := a.alloc([]byte("again"))
	if s != "again" {
		t.Errorf("arena used again after release: %q", s)
	}
	a.release()
}

// TestArenaFlows: flows from the arena are zeroed, distinct and aligned; a freed one
// reads as gone, keeps its key, its slot goes to no record and is the next flow
// given.
func TestArenaFlows(t *testing.T) {
	var a arena
	defer a.release()
	seen := map[*flow]bool{}
	var fs []*flow
	for i := range 50000 { // several chunks
		f := a.newFlow()
		if *f != (flow{}) {
			t.Fatalf("flow %d not zeroed: %+v", i, *f)
		}
		if seen[f] || uintptr(unsafe.Pointer(f))%unsafe.Alignof(flow{}) != 0 {
			t.Fatalf("flow %d: given twice, or misaligned (%p)", i, f)
		}
		seen[f] = true
		f.key.LoPort, f.count, f.cur = uint16(i), uint32(i), incRef(i)
		fs = append(fs, f)
	}
	for i, f := range fs { // no flow wrote over another
		if f.key.LoPort != uint16(i) || f.count != uint32(i) || f.cur != incRef(i) {
			t.Fatalf("flow %d changed: %+v", i, *f)
		}
	}
	if want := 50000 * int(flowClass) * arenaGrain; a.used != want {
		t.Errorf("%d bytes used, want %d", a.used, want)
	}
	f := fs[7]
	a.freeFlow(f)
	if !f.gone || f.key.LoPort != 7 {
		t.Errorf("freed flow: gone %v, key port %d (want gone, 7)", f.gone, f.key.LoPort)
	}
	// A record of a flow's size never takes a freed flow's slot: stale references
	// to the flow may still write its flags.
	if r := a.alloc(make([]byte, flowClass*arenaGrain)); unsafe.StringData(r) == (*byte)(unsafe.Pointer(f)) {
		t.Errorf("a record took the slot of a freed flow")
	}
	if g := a.newFlow(); g != f || g.gone || *g != (flow{}) {
		t.Errorf("the freed slot is not the next one given, or not zeroed: %p %p %+v", g, f, *g)
	}
}

// heldArenaBytes is what the arena must hold for the flows and their records (and
// checks that packed previous incarnations belong to a flow held, at most
// maxEarlier with the whole ones).
func (t *Tracker) heldArenaBytes() int {
	n := 0
	t.flows.each(func(f *flow) {
		n += int(flowClass) * arenaGrain
		if l := len(f.packed); l > 0 {
			n += recordSize(l)
		}
		if l := t.packedPrev(f); l != nil {
			n += int(prevClass) * arenaGrain
			for _, rec := range l.records() {
				n += recordSize(len(rec))
			}
		}
		for p := t.prev(f); p != nil; p = p.older {
			if l := len(p.rec); l > 0 {
				n += recordSize(l) // kept while unchanged (unpackKeep)
			}
		}
	})
	lists := 0
	t.flows.each(func(f *flow) {
		if l := t.packedPrev(f); l != nil {
			lists++
			if l.len() == 0 || t.earlierCount(f) > maxEarlier {
				panic("packed previous incarnations: none in a list, or too many")
			}
			for i, rec := range l.rec {
				if (rec != "") != (i < l.len()) {
					panic(fmt.Sprintf("packed previous incarnations: a list of %d with record %d %q", l.len(), i, rec))
				}
			}
		}
	})
	inUse := 0
	for _, l := range t.prevLists {
		if l != nil {
			inUse++
		}
	}
	if lists != t.prevLive || inUse != t.prevLive || len(t.prevLists) > 0 && len(t.prevLists)-1-len(t.prevSlots) != t.prevLive {
		panic(fmt.Sprintf("packed previous incarnations: %d lists held by flows, %d in use, %d counted live, %d slots with %d free", lists, inUse, t.prevLive, len(t.prevLists), len(t.prevSlots)))
	}
	return n
}

// TestArenaFreed: on every committed capture, with every incarnation packed after
// every segment (each segment then unpacks one, and the previous one of its 4-tuple),
// the arena holds exactly the flows and their records after each segment, the table
// of incarnations exactly the ones the flows hold, and nothing once the tracker
// finished.
func TestArenaFreed(t *testing.T) {
	cfgs := []Config{{}, {TimeWait: time.Millisecond}, {MaxConnections: 3}}
	prevsPacked := 0 // segments after which a previous incarnation was packed
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for i, cfg := range cfgs {
			cfg.Done = func(*Incarnation) {}
			tr := NewPoisonedTracker(cfg)
			var end Instant
			for j := range segs {
				tr.Add(&segs[j])
				end = max(end, InstantOf(segs[j].Time))
				tr.packEverything()
				if got, want := tr.arena.used, tr.heldArenaBytes(); got != want {
					t.Fatalf("%s config %d, segment %d: arena holds %d bytes, the flows and records %d", filepath.Base(file), i, j, got, want)
				}
				held := 0
				tr.flows.each(func(f *flow) {
					for _, r := range [2]incRef{f.cur, f.prev} {
						if r != 0 {
							held++
							if tr.incs[r] == nil {
								t.Fatalf("%s config %d, segment %d: a flow holds index %d, which holds nothing", filepath.Base(file), i, j, r)
							}
						}
					}
				})
				prevsPacked += tr.prevLive
				if inTable := len(tr.incs) - 1 - len(tr.incsFree); inTable != held {
					t.Fatalf("%s config %d, segment %d: %d incarnations in the table, the flows hold %d", filepath.Base(file), i, j, inTable, held)
				}
			}
			tr.Finish(end)
			if tr.arena.used != 0 || len(tr.arena.chunks) != 0 || len(tr.incs) != 1 || tr.prevLive != 0 {
				t.Fatalf("%s config %d: after Finish the arena holds %d bytes in %d chunks, the table %d incarnations, %d previous ones packed", filepath.Base(file), i, tr.arena.used, len(tr.arena.chunks), len(tr.incs)-1, tr.prevLive)
			}
		}
	}
	if prevsPacked == 0 {
		t.Error("no previous incarnation was ever packed: packPrev was not exercised")
	}
}

package reassembly

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestFlowSize: a flow is held per 4-tuple; its layout is meant to fit 104 bytes.
// Finish holds a packedFinal entry per packed incarnation held: 16 bytes.
func TestFlowSize(t *testing.T) {
	if n := unsafe.Sizeof(flow{}); n > 104 {
		t.Errorf("flow is %d bytes, more than 104", n)
	}
	if n := unsafe.Sizeof(packedFinal{}); n > 16 {
		t.Errorf("packedFinal is %d bytes, more than 16", n)
	}
}

// own is the flow of key k itself (flowTable.get), nil when none.
func (ft *flowTable) own(k *FlowKey, h uint64) *flow {
	f, _, _ := ft.get(k, h)
	return f
}

// usedSlots counts the slots holding a flow.
func usedSlots(ft *flowTable) int {
	n := 0
	for _, s := range ft.slots {
		if s.f != nil {
			n++
		}
	}
	return n
}

// TestFlowTableCollisions: 4-tuples sharing a hash take a slot each, and every one
// of them is found, removed and iterated as if alone. Hashes are forced into few
// values so that runs of the same hash are long.
func TestFlowTableCollisions(t *testing.T) {
	for _, slots := range []uint64{1, 3, 1 << 20} {
		r := rand.New(rand.NewPCG(slots, 7))
		var mem arena
		ft := newFlowTable(&mem)
		held := map[FlowKey]*flow{}
		hash := func(k *FlowKey) uint64 { return keyHash(k) % slots }
		for step := range 5000 {
			k := FlowKey{LoPort: uint16(r.IntN(300)), HiPort: 80, VLAN: [2]uint16{uint16(r.IntN(3))}}
			if f := held[k]; f != nil {
				if got := ft.own(&k, hash(&k)); got != f {
					t.Fatalf("slots %d step %d: get %v = %p, want %p", slots, step, k, got, f)
				}
				if r.IntN(2) == 0 {
					ft.remove(f, hash(&k))
					delete(held, k)
				}
				continue
			}
			if got := ft.own(&k, hash(&k)); got != nil {
				t.Fatalf("slots %d step %d: get %v found a flow never added", slots, step, k)
			}
			f := mem.newFlow()
			f.key = k
			ft.put(f, hash(&k))
			held[k] = f
		}
		if ft.n != len(held) {
			t.Fatalf("slots %d: table counts %d flows, %d held", slots, ft.n, len(held))
		}
		seen := 0
		ft.each(func(f *flow) {
			if held[f.key] != f {
				t.Fatalf("slots %d: each gave %v, not held", slots, f.key)
			}
			seen++
			ft.remove(f, hash(&f.key)) // removing the flow given is allowed
		})
		if seen != len(held) || ft.n != 0 || usedSlots(&ft) != 0 {
			t.Fatalf("slots %d: each gave %d of %d flows; %d left (%d slots)", slots, seen, len(held), ft.n, usedSlots(&ft))
		}
		ft.release()
		mem.release()
	}
}

// TestDueHeap: entries come out in time order, and compact keeps exactly the
// current ones, in an arena's memory: small regions (on the heap) and mapped ones;
// the array grows by moving to a larger region, and shrinks when compact leaves it
// mostly empty.
func TestDueHeap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flows int
	}{
		{"small", 200},
		{"grown past the heap's chunk size", 40000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			mem := new(arena)
			h := dueHeap{mem: mem}
			flows := make([]*flow, tc.flows)
			for i := range flows {
				flows[i] = &flow{}
			}
			for range 10 * tc.flows {
				f := flows[r.IntN(len(flows))]
				due := Instant(r.IntN(1000))
				f.due, f.dueSet = due, true // the older entries of f become stale
				h.push(dueEntry{due, f})
			}
			grown := cap(h.a)
			// All but one flow in ten forgotten: compact keeps a tenth of them and
			// gives back at least half the array.
			for i, f := range flows {
				f.gone = i%10 != 0
			}
			h.compact()
			if cap(h.a) > grown/2 && grown > dueMin {
				t.Errorf("capacity %d after compact to %d entries, was %d", cap(h.a), h.len(), grown)
			}
			want := 0
			for _, f := range flows {
				if f.dueSet && !f.gone {
					want++
				}
			}
			if h.len() < want {
				t.Fatalf("%d entries after compact, %d flows scheduled", h.len(), want)
			}
			last := Instant(-1)
			popped := map[*flow]bool{}
			for h.len() > 0 {
				e := h.pop()
				if e.due < last {
					t.Fatalf("entry at %d after one at %d", e.due, last)
				}
				if !e.current() { // (a flow pushed twice at the same time has two current entries)
					t.Fatalf("compact kept a stale entry at %d", e.due)
				}
				last = e.due
				popped[e.f] = true
			}
			if len(popped) != want {
				t.Fatalf("%d of %d scheduled flows had an entry", len(popped), want)
			}
			h.release()
			if len(mem.big) != 0 {
				t.Errorf("%d regions left mapped after release", len(mem.big))
			}
			mem.release()
		})
	}
}

// TestFlowTableGrowRemove: against a Go map, under many additions and removals
// (the table grows several times, and removals shift entries back across the
// table's end), every flow is found and nothing else; each gives every flow once,
// also when it removes about half of them as it goes.
func TestFlowTableGrowRemove(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var mem arena
	defer mem.release()
	ft := newFlowTable(&mem)
	defer ft.release()
	held := map[FlowKey]*flow{}
	for step := range 300000 {
		k := FlowKey{LoPort: uint16(r.IntN(40000)), HiPort: uint16(r.IntN(2))}
		h := keyHash(&k)
		f := held[k]
		if got := ft.own(&k, h); got != f {
			t.Fatalf("step %d: get %v = %p, want %p", step, k, got, f)
		}
		switch {
		case f == nil && r.IntN(3) > 0:
			f = mem.newFlow()
			f.key = k
			ft.put(f, h)
			held[k] = f
		case f != nil && r.IntN(3) == 0:
			ft.remove(f, h)
			delete(held, k)
		}
		if step%50000 == 0 || step == 299999 {
			if ft.n != len(held) || usedSlots(&ft) != len(held) {
				t.Fatalf("step %d: %d flows in %d slots, %d held", step, ft.n, usedSlots(&ft), len(held))
			}
			seen := map[*flow]int{}
			ft.each(func(f *flow) { seen[f]++ })
			for k, f := range held {
				if seen[f] != 1 {
					t.Fatalf("step %d: each gave %v %d times", step, k, seen[f])
				}
			}
			if len(seen) != len(held) {
				t.Fatalf("step %d: each gave %d flows, %d held", step, len(seen), len(held))
			}
		}
	}
	if len(ft.slots) < 100*flowTableMin || 4*ft.n > 3*len(ft.slots) {
		t.Fatalf("%d slots for %d flows: the table did not grow, or is over three quarters full", len(ft.slots), len(held))
	}
	before := len(held)
	seen := map[*flow]int{}
	ft.each(func(f *flow) {
		seen[f]++
		if r.IntN(2) == 0 {
			ft.remove(f, keyHash(&f.key))
			delete(held, f.key)
		}
	})
	for k, f := range held {
		if got := ft.own(&k, keyHash(&k)); got != f {
			t.Fatalf("after removals in each: get %v = %p, want %p", k, got, f)
		}
	}
	for f, n := range seen {
		if n != 1 {
			t.Fatalf("each gave %v %d times while removing", f.key, n)
		}
	}
	if len(seen) != before {
		t.Fatalf("each gave %d of %d flows while removing", len(seen), before)
	}
	if ft.n != len(held) {
		t.Fatalf("after removals in each: %d flows, %d held", ft.n, len(held))
	}
}

// TestCountTable: against a Go map, through puts (new hashes and overwrites) and
// takes (present and absent) of hashes drawn from twice as many as a generation holds
// (the table half full most of the time: runs of probes, backward shifts across
// them); emptied, it holds nothing and takes new entries.
func TestCountTable(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var mem arena
	defer mem.release()
	const gen = 500
	var ct countTable
	want := map[uint64]uint32{}
	for round := range 3 {
		for range 200_000 {
			h := uint64(r.IntN(2*gen)) | uint64(r.IntN(4))<<62
			switch {
			case r.IntN(2) == 0 && (len(want) < gen || want[h] != 0):
				n := uint32(r.IntN(1000) + 1)
				ct.put(&mem, gen, h, n)
				want[h] = n
			default:
				n, ok := ct.take(h)
				if w, wok := want[h]; ok != wok || n != w {
					t.Fatalf("round %d: take(%#x) = %d, %v; want %d, %v", round, h, n, ok, w, wok)
				}
				delete(want, h)
			}
			if ct.n != len(want) {
				t.Fatalf("round %d: %d entries, want %d", round, ct.n, len(want))
			}
		}
		for h, w := range want {
			if n, ok := ct.take(h); !ok || n != w {
				t.Fatalf("round %d: take(%#x) = %d, %v at the end; want %d", round, h, n, ok, w)
			}
			ct.put(&mem, gen, h, w)
		}
		ct.empty()
		clear(want)
		if n, ok := ct.take(1); ok || ct.n != 0 {
			t.Fatalf("emptied table: take = %d, %v; %d entries", n, ok, ct.n)
		}
	}
	if len(ct.slots) != 1024 {
		t.Errorf("%d slots for generations of %d, want 1024", len(ct.slots), gen)
	}
	// A larger generation: the table grows from its first size to its full one
	// as entries come, never past half full.
	var big countTable
	for i := range 5000 {
		big.put(&mem, 5000, uint64(i)*0x1234567, 1)
		if 2*big.n > len(big.slots) {
			t.Fatalf("%d entries in %d slots", big.n, len(big.slots))
		}
		if i == 0 && len(big.slots) != countTableMin {
			t.Errorf("first table of %d slots, want %d", len(big.slots), countTableMin)
		}
	}
	if len(big.slots) != 16384 {
		t.Errorf("%d slots for a generation of 5000, want 16384", len(big.slots))
	}
	for i := range 5000 {
		if n, ok := big.take(uint64(i) * 0x1234567); !ok || n != 1 {
			t.Fatalf("entry %d lost in growing", i)
		}
	}
}

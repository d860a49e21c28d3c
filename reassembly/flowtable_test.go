package reassembly

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestFlowSize: a flow is held per 4-tuple; its layout is meant to fit 96 bytes.
// Finish holds a packedFinal entry per packed incarnation held: 16 bytes.
func TestFlowSize(t *testing.T) {
	if n := unsafe.Sizeof(flow{}); n > 96 {
		t.Errorf("flow is %d bytes, more than 96", n)
	}
	if n := unsafe.Sizeof(packedFinal{}); n > 16 {
		t.Errorf("packedFinal is %d bytes, more than 16", n)
	}
}

// TestFlowTableCollisions: 4-tuples sharing a hash share a slot as a chain, and every
// one of them is found, removed and iterated as if alone. Hashes are forced into
// few values so that chains are long.
func TestFlowTableCollisions(t *testing.T) {
	for _, slots := range []uint64{1, 3, 1 << 20} {
		r := rand.New(rand.NewPCG(slots, 7))
		ft := newFlowTable()
		held := map[FlowKey]*flow{}
		hash := func(k *FlowKey) uint64 { return keyHash(k) % slots }
		for step := range 5000 {
			k := FlowKey{LoPort: uint16(r.IntN(300)), HiPort: 80}
			if f := held[k]; f != nil {
				if got := ft.get(&k, hash(&k)); got != f {
					t.Fatalf("slots %d step %d: get %v = %p, want %p", slots, step, k, got, f)
				}
				if r.IntN(2) == 0 {
					ft.remove(f, hash(&k))
					delete(held, k)
				}
				continue
			}
			if got := ft.get(&k, hash(&k)); got != nil {
				t.Fatalf("slots %d step %d: get %v found a flow never added", slots, step, k)
			}
			f := &flow{key: k}
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
		if seen != len(held) || ft.n != 0 || len(ft.m) != 0 {
			t.Fatalf("slots %d: each gave %d of %d flows; %d left (%d slots)", slots, seen, len(held), ft.n, len(ft.m))
		}
	}
}

// TestDueHeap: entries come out in time order, and compact keeps exactly the
// current ones.
func TestDueHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h dueHeap
	flows := make([]*flow, 200)
	for i := range flows {
		flows[i] = &flow{}
	}
	for range 2000 {
		f := flows[r.IntN(len(flows))]
		due := int64(r.IntN(1000))
		f.due, f.dueSet = due, true // the older entries of f become stale
		h.push(dueEntry{due, f})
	}
	flows[0].gone = true
	h.compact()
	want := 0
	for _, f := range flows {
		if f.dueSet && !f.gone {
			want++
		}
	}
	if len(h) < want {
		t.Fatalf("%d entries after compact, %d flows scheduled", len(h), want)
	}
	last := int64(-1)
	popped := map[*flow]bool{}
	for len(h) > 0 {
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
}

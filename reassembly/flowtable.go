package reassembly

// The flow table and the sweep schedule.
//
// The table maps a 4-tuple's 64-bit hash (keyHash) to its flow, which holds its key:
// the Go map then hashes and compares 8 bytes instead of a 40-byte key, and stores 16
// bytes a slot instead of 48. Two 4-tuples with the same hash (about 3e-6 for ten
// million of them, or a crafted capture) share the slot as a chain, so a collision
// costs a comparison, never a wrong connection.
//
// A sweep (stream.go) must look at every flow whose incarnations may be over, or may
// be packed, at its time; visiting every flow held each time made sweeps cost the
// flows held times the sweeps, which grows with the square of the connection rate
// (flood sweeps come every floodSweep SYNs). Instead a sweep visits:
//   - the flows that received a segment since the last sweep (Tracker.touchedFlows),
//   - the flows whose earliest possible change is due (Tracker.due, a heap of
//     (time, flow); computed when the flow was last visited: its previous
//     incarnation's stale-segment window closing, its current one expiring, becoming
//     quiet enough to pack, its packed record expiring),
//   - the flows that were quiet enough to pack and could not be packed yet
//     (Tracker.again: fewer than packAbove incarnations held, or a link to the
//     previous incarnation still to be cut).
//
// Nothing else can change a flow between two of its visits (a segment makes it
// touched), so a sweep acts on exactly the flows that visiting them all would.

// flowTable is the set of flows of a tracker, by key.
type flowTable struct {
	m map[uint64]*flow // by keyHash; chained through flow.chain
	n int
}

func newFlowTable() flowTable { return flowTable{m: make(map[uint64]*flow)} }

// get returns the flow of key k, whose hash is h, or nil.
func (ft *flowTable) get(k *FlowKey, h uint64) *flow {
	for f := ft.m[h]; f != nil; f = f.chain {
		if f.key == *k {
			return f
		}
	}
	return nil
}

// put adds a flow whose key is not in the table; h is the hash of its key.
func (ft *flowTable) put(f *flow, h uint64) {
	f.chain = ft.m[h]
	ft.m[h] = f
	ft.n++
}

// remove takes a flow out of the table; h is the hash of its key.
func (ft *flowTable) remove(f *flow, h uint64) {
	switch first := ft.m[h]; {
	case first == f && f.chain == nil:
		delete(ft.m, h)
	case first == f:
		ft.m[h] = f.chain
	default:
		p := first
		for p.chain != f {
			p = p.chain
		}
		p.chain = f.chain
	}
	f.chain = nil
	ft.n--
}

// each calls fn for every flow, in no fixed order; fn may remove the flow it is given.
func (ft *flowTable) each(fn func(*flow)) {
	for _, f := range ft.m {
		for f != nil {
			next := f.chain
			fn(f)
			f = next
		}
	}
}

// clear empties the table.
func (ft *flowTable) clear() {
	clear(ft.m)
	ft.n = 0
}

// dueEntry: visit f at the first sweep at or after due, if f.due is still due (a
// flow whose schedule moved earlier leaves its older entry behind: stale, skipped).
type dueEntry struct {
	due int64
	f   *flow
}

// dueHeap is a binary min-heap of entries by time. Its entries are 16 bytes in one
// array: sifting never touches the flows.
type dueHeap []dueEntry

func (h *dueHeap) push(e dueEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].due <= a[i].due {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *dueHeap) pop() dueEntry {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = dueEntry{}
	a = a[:last]
	*h = a
	a.down(0)
	return top
}

func (a dueHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(a) {
			return
		}
		m := l
		if r := l + 1; r < len(a) && a[r].due < a[l].due {
			m = r
		}
		if a[i].due <= a[m].due {
			return
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
}

// current reports whether the entry is its flow's schedule.
func (e dueEntry) current() bool { return !e.f.gone && e.f.dueSet && e.f.due == e.due }

// compact drops the stale entries, when they have come to outnumber the others: a
// flow forgotten (evicted) before its time keeps no memory alive for long.
func (h *dueHeap) compact() {
	a := *h
	n := 0
	for _, e := range a {
		if e.current() {
			a[n] = e
			n++
		}
	}
	clear(a[n:])
	a = a[:n]
	for i := n/2 - 1; i >= 0; i-- {
		a.down(i)
	}
	*h = a
}

// satAdd is a + b (b >= 0) without wrapping past the largest time.
func satAdd(a, b int64) int64 {
	if a > maxTime-b {
		return maxTime
	}
	return a + b
}

const maxTime = int64(1<<63 - 1)

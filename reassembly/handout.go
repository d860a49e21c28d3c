package reassembly

// Each calls fn for every incarnation the tracker holds now (in no fixed order):
// for a live view of a streaming tracker. A packed incarnation is unpacked for the
// call: fn must not keep the pointer, nor change the incarnation. Those whose
// records are on disk come last, in the order written (read back in windows, not
// one by one in the flow table's order).
func (t *Tracker) Each(fn func(*Incarnation)) {
	if t.err != nil {
		return
	}
	defer t.catchCold()
	t.eachHeld(func(_ *flow, inc *Incarnation) { fn(inc) }, nil, func(f *flow, rec string, ahead bool) {
		b, _, _ := t.recordData(rec, ahead)
		t.eachUnpacked(f.key, b, fn)
	})
}

// eachHeld is the walk of Each and EachMemo: whole is called for every incarnation
// held whole, packed for every packed record but those known (not nil) says it
// handled from the record in memory alone (ahead: of those on disk, which come
// last, in the order written, so that recordData reads them in windows).
func (t *Tracker) eachHeld(whole func(f *flow, inc *Incarnation), known func(f *flow, rec string) bool, packed func(f *flow, rec string, ahead bool)) {
	cold := t.eachCold[:0]
	t.flows.each(func(f *flow) {
		for p := t.prev(f); p != nil; p = p.older {
			whole(f, p)
		}
		if c := t.cur(f); c != nil {
			whole(f, c)
		}
		for _, rec := range t.packedPrev(f).records() {
			if known == nil || !known(f, rec) {
				packed(f, rec, false)
			}
		}
		if f.packed != "" {
			if known != nil && known(f, f.packed) {
				return
			}
			if k := handKey(f.packed); k >= coldKeys {
				cold = append(cold, packedFinal{k, f})
				return
			}
			packed(f, f.packed, false)
		}
	})
	t.eachTmp = sortByFirst(cold, t.eachTmp)
	for _, c := range cold {
		packed(c.f, c.f.packed, true)
	}
	t.eachCold, t.eachTmp = keepScratch(cold), keepScratch(t.eachTmp)
}

// eachUnpacked hands fn the incarnation of record b on 4-tuple k, unpacked into an
// incarnation of the tracker's pool and given back after the call (fn keeps no
// pointer: Each): a walk of every record held (the live metrics' socket states,
// every second or so) then allocates nothing for the collector to scan.
func (t *Tracker) eachUnpacked(k FlowKey, b []byte, fn func(*Incarnation)) {
	inc := t.zeroIncarnation()
	unpackInto(inc, k, b, &t.spares, true)
	fn(inc)
	t.recycle(inc)
}

// TakeTouched returns the incarnations that received a segment since the last call
// (Config.Touched), appended to dst.
func (t *Tracker) TakeTouched(dst []*Incarnation) []*Incarnation {
	for _, inc := range t.touched {
		inc.touched = false
		dst = append(dst, inc)
	}
	t.touched = t.touched[:0]
	return dst
}

// finished is an incarnation to hand to Done: whole, or packed (unpacked when its
// turn comes, so that finishing a million packed incarnations never holds them all
// unpacked at once).
type finished struct {
	first uint64 // the order of hand-out: its first frame (handKey for a packed one)
	inc   *Incarnation
	// A packed one: its flow (for the key: a flow's key never changes) and record,
	// and its End and EndAt once unpacked.
	f      *flow
	packed string
	endAt  Instant
	end    EndReason
}

func finishedWhole(inc *Incarnation) finished { return finished{first: inc.First.Frame, inc: inc} }

// packedEnd is a packed current incarnation, finished at endAt for reason (a current
// incarnation's End is EndCaptureEnd until then).
func packedEnd(f *flow, reason EndReason, endAt Instant) finished {
	return finished{first: handKey(f.packed), f: f, packed: f.packed, end: reason, endAt: endAt}
}

// packedFinal is a packed incarnation still held at the end of the capture: its
// handKey, and its flow, which keeps the record (the flow is out of the table).
// 16 bytes: Finish holds one per packed incarnation.
type packedFinal struct {
	first uint64
	f     *flow
}

// hand gives finished incarnations to Done in order of first frame, but for records
// on disk, last, in the order written (handKey): a sweep visits the flow table in
// random order, and the order handed out must not depend on it.
func (t *Tracker) hand(done []finished) {
	// Sort 16-byte (frame, index) pairs, not the entries themselves: moving 100-byte
	// entries cost more than the rest of Finish on a million incarnations.
	order := t.handOrder[:0]
	for i := range done {
		order = append(order, handOrder{done[i].first, i})
	}
	t.handTmp = sortByFirst(order, t.handTmp)
	for _, o := range order {
		d := &done[o.i]
		inc := d.inc
		if inc == nil {
			inc = t.unpackFinished(d.f, d.packed, d.end, d.endAt)
		}
		*d = finished{} // let the collector have it once Done is through with it
		t.give(inc)
	}
	t.handOrder = keepScratch(order)
	t.handTmp = keepScratch(t.handTmp)
}

// prevFinal is a packed earlier incarnation still held at the end of the capture:
// its flow and record (taken out of the flow's prevList).
type prevFinal struct {
	f   *flow
	rec string
}

// handFinal hands out what Finish found held, whole and packed, merged in order of
// handKey: the packed current incarnations finished at the capture's end, the
// packed previous ones as they were packed (replaced), each unpacked at its turn.
// The records on disk of both kinds come last, in the order written, read back in
// windows. prevs are the packed previous ones' handKeys and places in prevRecs
// (sorted without moving the records).
func (t *Tracker) handFinal(whole []finished, packed []packedFinal, prevs []handOrder, prevRecs []prevFinal, end Instant) {
	sortByFirst(whole, nil)
	sortByFirst(packed, nil)
	sortByFirst(prevs, nil)
	const none = ^uint64(0) // (no frame is numbered so)
	head := func(l []packedFinal) uint64 {
		if len(l) == 0 {
			return none
		}
		return l[0].first
	}
	for len(whole)+len(packed)+len(prevs) > 0 {
		w, p := none, none
		if len(whole) > 0 {
			w = whole[0].first
		}
		if len(prevs) > 0 {
			p = prevs[0].first
		}
		switch c := head(packed); {
		case w < c && w < p:
			inc := whole[0].inc
			whole[0] = finished{}
			whole = whole[1:]
			t.give(inc)
		case p < c:
			pf := &prevRecs[prevs[0].i]
			prevs = prevs[1:]
			inc := t.unpackRecord(pf.f.key, pf.rec, true) // as it was packed: replaced
			*pf = prevFinal{}
			t.give(inc)
		default:
			f := packed[0].f
			packed[0] = packedFinal{}
			packed = packed[1:]
			inc, h := t.unpackRecordHeader(f.key, f.packed, true)
			inc.End, inc.EndAt = EndCaptureEnd, end
			if h.wait >= 0 && end.Sub(h.lastAt) > h.wait {
				inc.End, inc.EndAt = h.reason, satAdd(h.lastAt, h.wait) // (endBy)
			}
			f.packed = ""
			t.give(inc)
		}
	}
}

// unpackFinished unpacks the record of flow f, finished at endAt for reason, and
// frees the record.
func (t *Tracker) unpackFinished(f *flow, packed string, reason EndReason, endAt Instant) *Incarnation {
	inc := t.unpackRecord(f.key, packed, true)
	if reason != endAsPacked {
		inc.End, inc.EndAt = reason, endAt
	}
	return inc
}

// endAsPacked, as a finished entry's end, keeps the End and EndAt of its record: a
// replaced incarnation's (finishPacked).
const endAsPacked = EndReason(0xff)

// give hands one finished incarnation to Done, and cuts the links between it and
// the incarnations beside it so it can be freed (or reused).
//
// What an incarnation handed out carries does not depend on whether it was packed:
// the signatures of its last segments, which only tell copies of segments still to
// come, are cleared (unpacking for a hand-out leaves them out: unpackInto).
func (t *Tracker) give(inc *Incarnation) {
	t.dropRec(inc)
	inc.Half[Client].recent, inc.Half[Server].recent = recentSegs{}, recentSegs{}
	t.cfg.Done(inc)
	t.held--
	t.stats.Finished++
	if inc.next != nil && inc.next.Reuse != nil && inc.next.Reuse.Prev == inc {
		inc.next.Reuse.Prev = nil
	}
	inc.next, inc.older = nil, nil
	if inc.Reuse != nil {
		if p := inc.Reuse.Prev; p != nil && p.next == inc {
			p.next = nil
		}
		inc.Reuse.Prev = nil
	}
	if t.cfg.DoneKeepsNothing && !inc.touched {
		// No other incarnation points to it now; one in the live display's touched
		// list is left to the collector: TakeTouched will hand it out.
		t.recycle(inc)
	}
}

type handOrder struct {
	first uint64
	i     int
}

package reassembly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

// fillRandom sets every field reachable from v (exported or not) to a random value,
// slices to one to three elements and pointers to new values; skip names fields
// left alone.
func fillRandom(rng *rand.Rand, v reflect.Value, skip map[string]bool) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if skip[v.Type().Field(i).Name] {
				continue
			}
			f := v.Field(i)
			f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem() // unexported too
			fillRandom(rng, f, skip)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fillRandom(rng, v.Index(i), skip)
		}
	case reflect.Slice:
		n := 1 + rng.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := 0; i < n; i++ {
			fillRandom(rng, s.Index(i), skip)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillRandom(rng, p.Elem(), skip)
		v.Set(p)
	case reflect.Bool:
		v.SetBool(rng.IntN(2) == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(rng.Uint64()) >> rng.IntN(64))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(rng.Uint64() >> rng.IntN(64))
	default:
		panic("fillRandom: no rule for " + v.Type().String())
	}
}

// TestPackRoundTrip: every field of an incarnation survives pack and unpack, so a
// field added without a line in pack.go fails here.
func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	skip := map[string]bool{
		"Key": true, "Endpoint": true, // derived from the map key, set below
		"next": true, "older": true, "touched": true, "Prev": true, // links a packed incarnation never has
		"rec": true, "changed": true, // the tracker's note of the record it came from
	}
	var buf []byte
	for i := range 2000 {
		var inc Incarnation
		fillRandom(rng, reflect.ValueOf(&inc).Elem(), skip)
		if i%3 == 0 { // an end with fewer segments than slots: empty ones (atz)
			inc.Half[i/3%2].recent.sig[dupDepth-1], inc.Half[i/3%2].recent.at[dupDepth-1] = 0, 0
		}
		for j := range inc.Key.LoAddr {
			inc.Key.LoAddr[j], inc.Key.HiAddr[j] = byte(rng.UintN(256)), byte(rng.UintN(256))
		}
		inc.Key.LoPort, inc.Key.HiPort = uint16(rng.UintN(65536)), uint16(rng.UintN(65536))
		inc.Key.VLAN = [2]uint16{uint16(rng.UintN(4096)), 0}
		lo, hi := inc.Key.Endpoints()
		switch i % 3 {
		case 0:
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = lo, hi
		case 1:
			inc.Half[Client].Endpoint, inc.Half[Server].Endpoint = hi, lo
		default: // not what the key gives (an IPv4-mapped address kept as such, a zone)
			inc.Half[Client].Endpoint = netip.AddrPortFrom(netip.AddrFrom16(inc.Key.LoAddr).WithZone("eth0"), 1)
			inc.Half[Server].Endpoint = netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")
		}
		h := &inc.History
		h.n = uint8(rng.IntN(len(h.buf) + 1))
		clear(h.buf[h.n:])
		hdr := packHeader{first: inc.First, lastAt: inc.Last.At, wait: time.Duration(rng.Uint64() >> 1), reason: EndIdle}
		us := i%2 == 1 // every time a whole number of microseconds: the record is in them
		if us {
			roundTimes(reflect.ValueOf(&inc).Elem())
			hdr = packHeader{first: inc.First, lastAt: inc.Last.At, wait: hdr.wait >> 8 / 1000 * 1000, reason: EndIdle}
			if i%4 == 3 {
				hdr.wait = -1
			}
		}
		switch i % 5 { // waits in whole seconds (waitSeconds), as TIME_WAIT's are
		case 2:
			hdr.wait = 60e9
		case 3: // a nanosecond less (waitLess), as an earlier incarnation's: still in microseconds
			hdr.wait = max(hdr.wait, 1000)/1000*1000 - 1
			if i%10 == 3 {
				hdr.wait = 60e9 - 1
			}
		case 4:
			hdr.wait = hdr.wait / 1e9 * 1e9
		}
		hdr.reason = EndReason(i / 5 % 5) // every reason, beside the header's flags
		buf = pack(buf, &inc, hdr, true)
		gotHdr, d := readHeader(buf)
		gotHdr.reasonAt = 0 // (where things are: not written)
		if gotHdr != hdr || d.us != us {
			t.Fatalf("case %d: header %+v read back as %+v; microseconds %v, want %v", i, hdr, gotHdr, d.us, us)
		}
		got := unpack(inc.Key, buf)
		if !reflect.DeepEqual(got, &inc) {
			t.Fatalf("case %d: unpack(pack(x)) != x\n got %+v\nwant %+v", i, got, &inc)
		}
		// Unpacked to be handed out: the same but for the signatures of the last
		// segments (Half.recent), left zero.
		var out Incarnation
		unpackInto(&out, inc.Key, buf, nil, false)
		want := inc
		want.Half[Client].recent, want.Half[Server].recent = recentSegs{}, recentSegs{}
		if !reflect.DeepEqual(&out, &want) {
			t.Fatalf("case %d: unpacked for a hand-out\n got %+v\nwant %+v", i, &out, &want)
		}
		checkRehead(t, i, &inc, buf, hdr)
		checkWake(t, i, &inc, hdr, rng)
	}
}

// checkWake: the record of inc (header hdr) written with a wake block for a TIME_WAIT
// of random values reads back as it does without one, its header the same, and the
// block as inc's signature and Reuse say (sigOf, reuseBy); and the record replaced
// (replaceRecord) reads back as inc with End and EndAt set, its header an earlier
// incarnation's.
func checkWake(t *testing.T, i int, inc *Incarnation, hdr packHeader, rng *rand.Rand) {
	t.Helper()
	span := int64(1) << (20 + 2*(i%21)) // (up to 2^60: blocks past 127 bytes, whose length takes two)
	tw := TimeWait{Holder: [2]bool{rng.IntN(2) == 0, rng.IntN(2) == 0}, Inferred: rng.IntN(2) == 0,
		Since: inc.First.At + Instant(rng.Int64N(span)), Until: inc.First.At + Instant(rng.Int64N(span)),
		Start: Tx{Frame: inc.First.Frame + uint64(rng.Int64N(span)), At: inc.First.At + Instant(rng.Int64N(span))}}
	if hdr.wait >= 0 && hdr.wait%1000 == 0 {
		// (whole microseconds, as the record's other times when it is in them)
		tw.Since, tw.Until, tw.Start.At = tw.Since/1000*1000, tw.Until/1000*1000, tw.Start.At/1000*1000
	}
	hw := hdr
	hw.wake = &tw
	b := pack(nil, inc, hw, true)
	got, _ := readHeader(b)
	if got.wakeAt == 0 {
		t.Fatalf("case %d: no wake block read", i)
	}
	got.reasonAt, got.wakeAt = 0, 0
	if hdr.wake = nil; got != hdr {
		t.Fatalf("case %d: header with a wake block %+v, want %+v", i, got, hdr)
	}
	if out := unpack(inc.Key, b); !reflect.DeepEqual(out, inc) {
		t.Fatalf("case %d: unpack(pack(x)) != x with a wake block\n got %+v\nwant %+v", i, out, inc)
	}
	lo, hi := inc.Key.Endpoints()
	want := sigOf(inc, 0, lo, hi)
	h, d := readHeader(b)
	w, at := readWake(b, h)
	if w != want {
		t.Fatalf("case %d: wake block's signature\n got %+v\nwant %+v", i, w, want)
	}
	if r, wantR := readWakeReuse(b, h, at, nil), inc.reuseBy(Client, tw); *r != wantR {
		t.Fatalf("case %d: the wake block's Reuse\n got %+v\nwant %+v", i, *r, wantR)
	}
	// Replaced at a time in the record's unit, waiting as packPrev has it wait.
	endAt := inc.Last.At + Instant(rng.Int64N(1<<30))
	if d.us {
		endAt = endAt / 1000 * 1000
	}
	wait := time.Duration(60e9 - 1)
	r, ok := replaceRecord(nil, b, h, d.i, endAt, wait)
	if !ok {
		t.Fatalf("case %d: replaceRecord refused a time in the record's unit", i)
	}
	rh, _ := readHeader(r)
	if rh.reason != EndReplaced || rh.wait != wait || !rh.replaced || rh.endAt != endAt || rh.wakeAt != 0 || rh.first != h.first || rh.lastAt != h.lastAt {
		t.Fatalf("case %d: replaced header %+v", i, rh)
	}
	want2 := *inc
	want2.End, want2.EndAt = EndReplaced, endAt
	if out := unpack(inc.Key, r); !reflect.DeepEqual(out, &want2) {
		t.Fatalf("case %d: the replaced record\n got %+v\nwant %+v", i, out, &want2)
	}
}

// checkRehead: the record old of inc (header hdr), replaced (End and EndAt set, the
// header of an earlier incarnation) and written again by rehead, is what pack writes,
// in the same unit, unless rehead says the head does not fit that unit; with nothing
// changed, it is old itself.
func checkRehead(t *testing.T, i int, inc *Incarnation, old []byte, hdr packHeader) {
	t.Helper()
	old = slices.Clone(old)
	_, d := readHeader(old)
	b, same, ok := rehead(nil, inc, hdr, old)
	if !ok || !same || !bytes.Equal(b, old) {
		t.Fatalf("case %d: rehead with nothing changed: ok %v same %v, %d bytes for %d", i, ok, same, len(b), len(old))
	}
	endAt := inc.Last.At + Instant(i)*1013 // (a whole number of microseconds on every 1,000th case)
	saved := *inc
	defer func() { *inc = saved }()
	inc.End, inc.EndAt = EndReplaced, endAt
	h2 := packHeader{first: inc.First, lastAt: inc.Last.At, wait: time.Duration(i) * time.Millisecond, reason: EndReplaced}
	b, same, ok = rehead(nil, inc, h2, old)
	want, exact := packUnit(nil, inc, h2, true, d.us)
	if ok != exact {
		t.Fatalf("case %d: rehead ok %v, but pack in the same unit exact %v", i, ok, exact)
	}
	if ok && (!bytes.Equal(b, want) || same != bytes.Equal(want, old)) {
		t.Fatalf("case %d: rehead wrote\n%x\npack writes\n%x", i, b, want)
	}
}

// roundTimes rounds every int64 (the times and durations) under v to a whole number
// of microseconds, as a pcap file's times are, and within ±2^55 ns (a million years):
// the differences of random times near ±2^63 wrap around, and a wrapped difference is
// no whole number of microseconds (such a record is written in nanoseconds, and reads
// back as well: the other cases check that).
func roundTimes(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			roundTimes(reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem())
		}
	case reflect.Array, reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			roundTimes(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			roundTimes(v.Elem())
		}
	case reflect.Int64:
		v.SetInt(v.Int() >> 8 / 1000 * 1000)
	}
}

// flowOf returns the flow of key k, or nil.
func (t *Tracker) flowOf(k FlowKey) *flow {
	f, _, _ := t.flows.get(&k, keyHash(&k))
	return f
}

// flowList returns the flows held.
func (t *Tracker) flowList() []*flow {
	var fs []*flow
	t.flows.each(func(f *flow) { fs = append(fs, f) })
	return fs
}

// packEverything packs every incarnation that can be packed, however recently it
// saw a packet: the harshest schedule.
func (t *Tracker) packEverything() {
	t.hooks.packRecent = true
	t.flows.each(func(f *flow) { t.pack(f, 0) })
}

// streamOf runs a streaming tracker over segs and returns the incarnations in the
// order Done got them; with packAll, every incarnation is packed after every segment.
func streamOf(segs []capture.Segment, cfg Config, packAll bool) ([]*Incarnation, TrackerStats) {
	var after func(*Tracker)
	if packAll {
		after = (*Tracker).packEverything
	}
	got, tr := streamRun(segs, cfg, func(tr *Tracker) { tr.hooks.noPack = !packAll }, after)
	return got, tr.Stats()
}

// streamRun runs a streaming tracker, its hooks set by tune, over segs, calling
// after (if not nil) after every segment, finishes it at the last segment's time,
// and returns the incarnations in the order Done got them, and the tracker.
func streamRun(segs []capture.Segment, cfg Config, tune, after func(*Tracker)) ([]*Incarnation, *Tracker) {
	var got []*Incarnation
	cfg.Done = func(inc *Incarnation) { got = append(got, inc) }
	tr := NewPoisonedTracker(cfg)
	tune(tr)
	var end Instant
	for i := range segs {
		tr.Add(&segs[i])
		end = max(end, InstantOf(segs[i].Time))
		if after != nil {
			after(tr)
		}
	}
	tr.Finish(end)
	return got, tr
}

// samePacked compares the incarnations a tracker handed out without packing and
// with packing after every segment.
func samePacked(t *testing.T, name string, segs []capture.Segment, cfg Config) {
	t.Helper()
	want, _ := streamOf(segs, cfg, false)
	got, st := streamOf(segs, cfg, true)
	if len(segs) > 0 && st.Packed == 0 {
		t.Fatalf("%s: nothing was packed", name)
	}
	sameHandedOut(t, name, "with packing", got, want)
}

// sameHandedOut fails t unless got, the incarnations a tracker handed out run one
// way (how), are want, those it handed out run the other way, field for field.
func sameHandedOut(t *testing.T, name, how string, got, want []*Incarnation) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d incarnations %s, %d otherwise", name, len(got), how, len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: incarnation %d (frame %d) differs %s\n got %+v\nwant %+v", name, i, want[i].First.Frame, how, got[i], want[i])
		}
	}
}

// readSegments decodes a capture into memory; err is what stopped the reading (nil
// at its end): the segments before a damage are returned with it.
func readSegments(tb testing.TB, path string) (segs []capture.Segment, err error) {
	tb.Helper()
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer synth.CheckClose(tb, r)
	var s capture.Segment
	for {
		if err := r.Next(&s); err == io.EOF {
			return segs, nil
		} else if err != nil {
			return segs, err
		}
		segs = append(segs, s)
	}
}

// committedCaptures lists the capture files in testdata/pcaps (synth.CaptureSets),
// each read alone: the pieces of a rotated set too, each a capture that starts or
// ends in the middle of connections.
func committedCaptures(t *testing.T) []string {
	t.Helper()
	sets, err := synth.CaptureSets("../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	return slices.Concat(sets...)
}

// packConfigs are the configurations the packing tests run every committed
// capture under: TIME_WAIT lengths, idle timeouts, a cap and RFC 1337.
func packConfigs() []Config {
	return []Config{
		{},
		{TimeWait: time.Millisecond},
		{TimeWait: time.Second, IdleTimeout: 100 * time.Millisecond},
		{MaxConnections: 3, KeepCounts: true},
		{RFC1337: true, TimeWait: 10 * time.Second},
	}
}

// TestPackingChangesNothing: on every committed capture, under several TIME_WAIT
// lengths, caps and idle timeouts, packing every incarnation after every segment
// hands out exactly the incarnations the tracker hands out without packing.
func TestPackingChangesNothing(t *testing.T) {
	files := committedCaptures(t)
	cfgs := packConfigs()
	for _, file := range files {
		segs, _ := readSegments(t, file) // a damaged capture: what was read
		for i, cfg := range cfgs {
			samePacked(t, filepath.Base(file)+" config "+string(rune('0'+i)), segs, cfg)
		}
	}
}

// TestPackAtCloseChangesNothing: on every committed capture whose times never go
// back, under several TIME_WAIT lengths, caps and idle timeouts, sameAtClose.
func TestPackAtCloseChangesNothing(t *testing.T) {
	cfgs := packConfigs()
	packed := 0
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		if !inTimeOrder(segs) {
			continue
		}
		for i, cfg := range cfgs {
			packed += sameAtClose(t, fmt.Sprintf("%s config %d", filepath.Base(file), i), segs, cfg)
		}
	}
	if packed == 0 {
		t.Fatal("no connection was packed at its close: packClosed was not exercised")
	}
	t.Logf("%d connections packed at their close", packed)
}

// sameAtClose checks that a tracker that packs each connection as the segment that
// closes it arrives (packClosed; every incarnation held is above packAbove here)
// hands out exactly the incarnations the same tracker does when it leaves them to
// its quiet packing, and returns how many it packed at their close. Capture times
// must not go backwards: a record packed at close keeps the signatures of its last
// segments, which the quiet packing drops, and with a clock stepped back a
// segment stamped within dupWindowID of one of them can still come (a copy only the
// first tracker recognises). The signatures themselves are left out of the
// comparison; what they decide (Duplicates) is compared.
func sameAtClose(t *testing.T, name string, segs []capture.Segment, cfg Config) int {
	t.Helper()
	run := func(atClose bool) ([]*Incarnation, int) {
		got, tr := streamRun(segs, cfg, func(tr *Tracker) { tr.hooks.packAbove, tr.hooks.noPackClosed = 0, !atClose }, nil)
		for _, inc := range got {
			inc.Half[Client].recent, inc.Half[Server].recent = recentSegs{}, recentSegs{}
		}
		return got, tr.hooks.closedPacked
	}
	want, _ := run(false)
	got, packed := run(true)
	sameHandedOut(t, name, "when packed at their close", got, want)
	return packed
}

// inTimeOrder reports whether the segments' capture times never go back.
func inTimeOrder(segs []capture.Segment) bool {
	for i := 1; i < len(segs); i++ {
		if segs[i].Time.Before(segs[i-1].Time) {
			return false
		}
	}
	return true
}

// typicalSegments: a handshake, a request and an answer, a close with the client in
// TIME_WAIT.
func typicalSegments() []capture.Segment {
	c := netip.MustParseAddrPort("10.1.2.3:40000")
	s := netip.MustParseAddrPort("10.9.8.7:443")
	base := time.Unix(1_700_000_000, 0)
	var segs []capture.Segment
	add := func(ms int, from, to netip.AddrPort, flags capture.Flags, seq, ack, plen uint32) {
		segs = append(segs, capture.Segment{Frame: uint64(len(segs) + 1_000_001), Time: base.Add(time.Duration(ms) * time.Millisecond),
			Src: from, Dst: to, Flags: flags, Seq: seq, Ack: ack, PayloadLen: plen, Window: 500,
			HasTS: true, TSval: 1000 + uint32(ms), TSecr: 900 + uint32(ms), IPID: uint16(100 + len(segs)), TTL: 64})
	}
	const A, S, F, P = capture.ACK, capture.SYN, capture.FIN, capture.PSH
	add(0, c, s, S, 1000, 0, 0)
	add(1, s, c, S|A, 5000, 1001, 0)
	add(2, c, s, A, 1001, 5001, 0)
	add(2, c, s, A|P, 1001, 5001, 300)
	add(3, s, c, A|P, 5001, 1301, 2000)
	add(4, c, s, A, 1301, 7001, 0)
	add(4, c, s, A|F, 1301, 7001, 0)
	add(5, s, c, A|F, 7001, 1302, 0)
	add(6, c, s, A, 1302, 7002, 0)
	return segs
}

// TestPackedSize measures the record of a typical closed connection (a handshake,
// a request and an answer, a close with the client in TIME_WAIT), without and with
// a wake block, and of a bare SYN (a SYN flood's half-open connection).
func TestPackedSize(t *testing.T) {
	segs := typicalSegments()
	for _, tc := range []struct {
		name string
		segs []capture.Segment
		wake bool
		max  int
	}{
		{"closed, in TIME_WAIT", segs, false, 150},
		{"closed, in TIME_WAIT, with a wake block", segs, true, 200},
		{"bare SYN", segs[:1], false, 80},
	} {
		tr := NewPoisonedTracker(Config{Done: func(*Incarnation) {}})
		tr.hooks.noReusePacked = !tc.wake
		for i := range tc.segs {
			tr.Add(&tc.segs[i])
		}
		for _, f := range tr.flowList() {
			tr.pack(f, maxTime) // as a sweep packs: without the last segments' signatures
			if f.packed == "" {
				t.Fatalf("%s: not packed", tc.name)
			}
			t.Logf("%s: %d bytes packed (Incarnation: %d bytes whole, without its slices)", tc.name, len(f.packed), unsafe.Sizeof(Incarnation{}))
			if len(f.packed) > tc.max {
				t.Errorf("%s: %d bytes packed, more than %d", tc.name, len(f.packed), tc.max)
			}
		}
	}
}

// BenchmarkPack and BenchmarkUnpack: the cost of packing a typical closed connection
// (once per incarnation that stays quiet) and of reading it back (once more when it
// is finished, or gets another segment).
func BenchmarkPack(b *testing.B) {
	inc := typicalPacked(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = pack(buf, inc, packHeader{first: inc.First, lastAt: inc.Last.At, wait: -1}, false)
	}
	b.ReportMetric(float64(len(buf)), "bytes/record")
}

func BenchmarkUnpack(b *testing.B) {
	inc := typicalPacked(b)
	buf := pack(nil, inc, packHeader{first: inc.First, lastAt: inc.Last.At, wait: -1}, false)
	b.ReportAllocs()
	for b.Loop() {
		unpack(inc.Key, buf)
	}
}

func typicalPacked(tb testing.TB) *Incarnation {
	var got *Incarnation
	tr := NewPoisonedTracker(Config{Done: func(inc *Incarnation) { got = inc }})
	segs := typicalSegments()
	for i := range segs {
		tr.Add(&segs[i])
	}
	tr.Finish(InstantOf(segs[len(segs)-1].Time))
	if got == nil {
		tb.Fatal("no incarnation")
	}
	return got
}

// sweepRun runs a streaming tracker over segs and returns the incarnations in the
// order Done got them. sweepAll: every sweep also visits every flow (the reference
// the schedule must match); everySegment: sweep before every segment, at its time.
// packEveryN: packQuiet after that many starts (0: never).
func sweepRun(segs []capture.Segment, cfg Config, packAboveN, packEveryN int, sweepAll, everySegment bool) ([]*Incarnation, TrackerStats, int) {
	var got []*Incarnation
	cfg.Done = func(inc *Incarnation) { got = append(got, inc) }
	cfg.ManualSweep = cfg.ManualSweep || everySegment
	tr := NewPoisonedTracker(cfg)
	tr.hooks.packAbove, tr.hooks.sweepAll = packAboveN, sweepAll
	tr.hooks.packEvery = packEveryN
	if packEveryN == 0 {
		tr.hooks.packEvery, tr.hooks.packQuietEvery = math.MaxInt, math.MaxInt64
	}
	var end Instant
	for i := range segs {
		at := InstantOf(segs[i].Time)
		if everySegment {
			tr.Sweep(at)
		}
		tr.Add(&segs[i])
		end = max(end, at)
	}
	tr.Finish(end)
	return got, tr.Stats(), tr.hooks.quietPacked
}

// TestSweepScheduleMissesNothing: a sweep visits only the flows touched, due or
// waiting to be packed (flowtable.go); on every committed capture, under several
// TIME_WAIT lengths, idle timeouts, caps, packing thresholds and sweep paces, it
// hands out exactly what visiting every flow at every sweep hands out.
func TestSweepScheduleMissesNothing(t *testing.T) {
	files := committedCaptures(t)
	// packEvery: the schedule's run packs quiet incarnations between sweeps after
	// that many starts (packQuiet; 0: never); the reference never does.
	cases := []struct {
		cfg          Config
		packAbove    int
		packEvery    int
		everySegment bool
	}{
		{Config{}, packAbove, packEvery, false},
		{Config{}, 0, 0, true},
		{Config{TimeWait: time.Millisecond}, 0, 1, false},
		{Config{TimeWait: 300 * time.Millisecond}, 2, 0, true},
		{Config{TimeWait: time.Second, IdleTimeout: 100 * time.Millisecond}, 0, 2, true},
		{Config{TimeWait: 2 * time.Second, IdleTimeout: 50 * time.Millisecond}, 3, 3, false},
		{Config{MaxConnections: 3, KeepCounts: true, TimeWait: 500 * time.Millisecond}, 1, 1, true},
		{Config{RFC1337: true, TimeWait: 10 * time.Second}, 0, 1, false},
		{Config{TimeWait: 20 * time.Second, IdleTimeout: time.Second}, 0, 1, false},
	}
	var visitedDue, quietPacked int
	for _, file := range files {
		segs, _ := readSegments(t, file)
		for i, c := range cases {
			name := fmt.Sprintf("%s case %d", filepath.Base(file), i)
			want, wantSt, _ := sweepRun(segs, c.cfg, c.packAbove, 0, true, c.everySegment)
			got, gotSt, n := sweepRun(segs, c.cfg, c.packAbove, c.packEvery, false, c.everySegment)
			quietPacked += n
			if c.packEvery != 0 {
				// packQuiet packs more: the count differs, and a packed incarnation
				// forgets the signatures of its last segments (what they decide,
				// Duplicates, is compared); nothing else may differ.
				wantSt.Packed, gotSt.Packed = 0, 0
				for _, inc := range slices.Concat(got, want) {
					inc.Half[Client].recent, inc.Half[Server].recent = recentSegs{}, recentSegs{}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d incarnations scheduled, %d visiting every flow", name, len(got), len(want))
			}
			for j := range want {
				if !reflect.DeepEqual(got[j], want[j]) {
					t.Fatalf("%s: incarnation %d (frame %d) differs\n got %+v\nwant %+v", name, j, want[j].First.Frame, got[j], want[j])
				}
			}
			if gotSt != wantSt {
				t.Fatalf("%s: stats %+v scheduled, %+v visiting every flow", name, gotSt, wantSt)
			}
			visitedDue += int(gotSt.Expired + gotSt.Idle)
		}
	}
	if visitedDue == 0 {
		t.Fatal("no incarnation expired in any case: the schedule was not exercised")
	}
	if quietPacked == 0 {
		t.Fatal("packQuiet packed nothing in any case: it was not exercised")
	}
	t.Logf("%d incarnations expired on schedule, %d packed between sweeps", visitedDue, quietPacked)
}

// sweepEach feeds segs to tr (Config.ManualSweep) with a sweep before each, at its
// time, then finishes it at the last time.
func sweepEach(tr *Tracker, segs []capture.Segment) { tr.Finish(feedSweeping(tr, segs)) }

// feedSweeping is sweepEach but for the Finish: it returns the last time.
func feedSweeping(tr *Tracker, segs []capture.Segment) (end Instant) {
	for i := range segs {
		at := InstantOf(segs[i].Time)
		tr.Sweep(at)
		tr.Add(&segs[i])
		end = max(end, at)
	}
	return end
}

// TestRecyclingChangesNothing: with Config.DoneKeepsNothing the tracker reuses the
// incarnations it packed or handed out; on every committed capture, under several
// configurations, Done sees exactly what it sees without reuse. Done copies each
// incarnation as its record (pack, which TestPackRoundTrip shows keeps every field).
func TestRecyclingChangesNothing(t *testing.T) {
	cfgs := []Config{
		{},
		{TimeWait: time.Millisecond},
		{TimeWait: 300 * time.Millisecond, IdleTimeout: 100 * time.Millisecond},
		{MaxConnections: 3, KeepCounts: true, TimeWait: 500 * time.Millisecond},
	}
	run := func(segs []capture.Segment, cfg Config, recycle bool) (records []string, reused int) {
		var buf []byte
		seen := map[*Incarnation]bool{}
		cfg.DoneKeepsNothing = recycle
		cfg.ManualSweep = true
		cfg.Done = func(inc *Incarnation) {
			if seen[inc] {
				reused++
			}
			seen[inc] = true
			buf = pack(buf[:0], inc, packHeader{}, true)
			records = append(records, string(buf))
		}
		tr := NewPoisonedTracker(cfg)
		tr.hooks.packAbove, tr.hooks.packEvery = 0, 1
		sweepEach(tr, segs)
		return records, reused
	}
	reused := 0
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for i, cfg := range cfgs {
			want, _ := run(segs, cfg, false)
			got, n := run(segs, cfg, true)
			reused += n
			if !slices.Equal(got, want) {
				t.Fatalf("%s config %d: Done saw different incarnations when they are reused", filepath.Base(file), i)
			}
		}
	}
	if reused == 0 {
		t.Fatal("no incarnation was reused: the test exercised nothing")
	}
	t.Logf("%d incarnations handed out in reused memory", reused)
}

// TestVarints: the unrolled and eight-byte ways of reading and writing varints
// agree with encoding/binary for every length, at every place in a record (the last
// bytes of a record go the byte-by-byte way), and in a group among zeros.
func TestVarints(t *testing.T) {
	var vals []uint64
	for bitsN := range 65 {
		for _, d := range []uint64{0, 1, 2} { // 2^k - 1, 2^k, 2^k + 1 (k = bitsN)
			v := uint64(1)<<bitsN - 1 + d
			if bitsN == 64 {
				v = ^uint64(0) - d
			}
			vals = append(vals, v)
		}
	}
	for _, v := range vals {
		want := binary.AppendUvarint(nil, v)
		b := make([]byte, binary.MaxVarintLen64+1)
		if n := putUvarint(b, 1, v); !bytes.Equal(b[1:n], want) {
			t.Fatalf("putUvarint(%#x) = % x, want % x", v, b[1:n], want)
		}
		for pad := range 10 { // bytes after the varint in the record
			rec := append(append([]byte{0x55}, want...), make([]byte, pad)...)
			d := unpacker{b: rec, i: 1}
			if got := d.uvarint(); got != v || d.i != 1+len(want) {
				t.Fatalf("uvarint of % x with %d bytes after: %#x, ending at %d; want %#x, %d", want, pad, got, d.i, v, 1+len(want))
			}
		}
	}
	// A group of every value, each between zeros, read back whole.
	for start := 0; start < len(vals); start += 20 {
		vs := vals[start:min(start+20, len(vals))]
		p := packer{}
		g := p.group()
		for i, v := range vs {
			g.u(2*i, 0)
			g.u(2*i+1, v)
		}
		p.flush(g)
		p.b = append(p.b, 0x7f) // the next field
		var gr reader
		d := unpacker{b: p.b, g: &gr}
		r := d.group()
		for i, v := range vs {
			if z, got := r.u(2*i), r.u(2*i+1); z != 0 || got != v {
				t.Fatalf("group value %d: %#x then %#x, want 0 then %#x", i, z, got, v)
			}
		}
		if d.u() != 0x7f || d.i != len(p.b) {
			t.Fatalf("group of values %d..: read to byte %d of %d", start, d.i, len(p.b))
		}
	}
}

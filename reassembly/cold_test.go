package reassembly

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// coldFilesOpen counts the process's open files that are a cold store's (Linux: -1
// elsewhere).
func coldFilesOpen() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range es {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.Contains(l, "finack-cold-") {
			n++
		}
	}
	return n
}

// TestColdStore: bodies put in the store (in both classes) read back the same, in
// any order, across segments and from the write buffers; a segment holds bodies of
// one class; a segment's file is closed when its last record is dropped and it is
// no longer appended to; nothing is left by name in the directory, nor open after
// close.
func TestColdStore(t *testing.T) {
	dir := t.TempDir()
	c := coldStore{dir: dir, segSize: 1000, window: 64, checked: true} // (checked: used even on tmpfs)
	rng := rand.New(rand.NewPCG(1, 2))
	type put struct {
		seg   uint64
		off   int64
		body  []byte
		class int
	}
	var puts []put
	last := map[int]uint64{} // the segment of each class's last put: appended to
	classOf := map[uint64]int{}
	for range 500 {
		body := make([]byte, 1+rng.IntN(300))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		class := rng.IntN(coldClasses)
		seg, off, ok := c.put(body, class)
		if !ok {
			t.Fatalf("put refused: %v", c.err)
		}
		if k, seen := classOf[seg]; seen && k != class {
			t.Fatalf("segment %d holds bodies of classes %d and %d", seg, k, class)
		}
		classOf[seg], last[class] = class, seg
		puts = append(puts, put{seg, off, body, class})
	}
	if len(c.segs) < 50 {
		t.Fatalf("%d segments for 500 bodies of up to 300 bytes in segments of 1000", len(c.segs))
	}
	if runtime.GOOS != "windows" {
		if es, _ := os.ReadDir(dir); len(es) != 0 {
			t.Fatalf("%d files left by name in the directory, want none (removed once open)", len(es))
		}
	}
	check := func(order []int) {
		t.Helper()
		for _, i := range order {
			p := puts[i]
			if got := c.get(p.seg, p.off, len(p.body), i%2 == 0); !bytes.Equal(got, p.body) {
				t.Fatalf("body %d (segment %d, offset %d) reads back different", i, p.seg, p.off)
			}
		}
	}
	perm := rng.Perm(len(puts))
	check(perm)
	check(slices.Sorted(slices.Values(perm)))
	if c.reads == 0 {
		t.Fatal("every body came from the write buffer: the files were not read")
	}
	// Drop in random order: a segment goes when its last record does, but for the
	// one still appended to.
	for k, i := range perm {
		c.drop(puts[i].seg)
		live := 0
		for _, s := range c.segs {
			if s.f != nil {
				live++
			}
		}
		left := map[uint64]bool{}
		for _, seg := range last {
			left[seg] = true
		}
		for _, j := range perm[k+1:] {
			left[puts[j].seg] = true
		}
		if live != len(left) {
			t.Fatalf("after %d drops: %d segments open, %d hold records or are appended to", k+1, live, len(left))
		}
	}
	if c.records != 0 || c.bytes != c.segs[last[0]-c.first].size+c.segs[last[1]-c.first].size {
		t.Fatalf("all dropped: %d records, %d bytes (current segments %d and %d bytes)", c.records, c.bytes, c.segs[last[0]-c.first].size, c.segs[last[1]-c.first].size)
	}
	// The store goes on after everything was dropped.
	seg, off, ok := c.put([]byte("again"), 1)
	if !ok || string(c.get(seg, off, 5, true)) != "again" {
		t.Fatal("the store does not take a body after everything was dropped")
	}
	if n := coldFilesOpen(); n != coldClasses && n != -1 {
		t.Fatalf("%d cold files open, want the %d appended to", n, coldClasses)
	}
	c.close()
	if n := coldFilesOpen(); n > 0 {
		t.Fatalf("%d cold files open after close", n)
	}
}

// TestColdStoreErrors: a store that cannot create its file refuses bodies (the
// tracker keeps them in memory); one whose file fails to be written keeps the bodies
// it had buffered readable, and refuses more.
func TestColdStoreErrors(t *testing.T) {
	c := coldStore{dir: filepath.Join(t.TempDir(), "missing"), segSize: coldSegment, window: coldWindow}
	if _, _, ok := c.put([]byte("x"), 0); ok || c.err == nil {
		t.Fatalf("put in a missing directory: ok %v, error %v", ok, c.err)
	}

	c = coldStore{dir: t.TempDir(), segSize: coldSegment, window: coldWindow, checked: true}
	body := bytes.Repeat([]byte("b"), 1000)
	seg, off, ok := c.put(body, 0)
	if !ok {
		t.Fatal(c.err)
	}
	if err := c.segs[0].f.Close(); err != nil { // writing the buffer out fails
		t.Fatal(err)
	}
	for ok {
		_, _, ok = c.put(body, 0)
	}
	if c.err == nil {
		t.Fatal("a write failed and the store has no error")
	}
	if got := c.get(seg, off, len(body), true); !bytes.Equal(got, body) {
		t.Fatal("a body buffered before the failed write reads back different")
	}
	if _, _, ok := c.put(body, 1); ok {
		t.Fatal("the store took a body after an error")
	}
}

// coldRun runs a streaming tracker over segs, packing every quiet incarnation,
// sweeping at every segment, with the cold store taking every record it may (cold)
// or none, in dir. It returns what Done got and then, before the tracker finished,
// what Each gave, each incarnation as its record (pack: every field), each list
// sorted, and the tracker.
func coldRun(t *testing.T, segs []capture.Segment, cfg Config, cold bool, dir string) ([]string, *Tracker) {
	var got, each []string
	var buf []byte
	record := func(l *[]string) func(*Incarnation) {
		return func(inc *Incarnation) {
			buf = pack(buf[:0], inc, packHeader{}, true)
			*l = append(*l, string(buf))
		}
	}
	cfg.Done = record(&got)
	cfg.ManualSweep = true
	cfg.TempDir = dir
	tr := packingTracker(cfg, cold)
	end := feedSweeping(tr, segs)
	tr.Each(record(&each))
	tr.Finish(end)
	if es, _ := os.ReadDir(cfg.TempDir); runtime.GOOS != "windows" && len(es) != 0 {
		t.Fatalf("%d files left in the temporary directory", len(es))
	}
	slices.Sort(got)
	slices.Sort(each)
	return append(append(got, "(Each)"), each...), tr
}

// sameCold checks that a streaming tracker hands out the same incarnations (only
// the order in which one sweep hands them out may differ: see handKey) and reports
// the same stats whether the bodies of records of connections in TIME_WAIT are on
// disk (in dir) or in memory. It returns the bodies written and the reads from disk.
func sameCold(t *testing.T, name string, segs []capture.Segment, cfg Config, dir string) (puts, reads int) {
	t.Helper()
	want, wantTr := coldRun(t, segs, cfg, false, dir)
	got, tr := coldRun(t, segs, cfg, true, dir)
	if len(got) != len(want) {
		t.Fatalf("%s: %d incarnations with the cold store, %d without", name, len(got), len(want))
	}
	for j := range want {
		if got[j] != want[j] {
			decode := func(rec string) any {
				if rec == "(Each)" {
					return rec
				}
				return unpack(FlowKey{}, []byte(rec))
			}
			inc, wantInc := decode(got[j]), decode(want[j])
			t.Fatalf("%s: incarnation %d differs with the cold store\n got %+v\nwant %+v", name, j, inc, wantInc)
		}
	}
	if st, wantSt := tr.Stats(), wantTr.Stats(); st != wantSt {
		t.Fatalf("%s: stats %+v with the cold store, %+v without", name, st, wantSt)
	}
	if wantTr.cold.puts != 0 {
		t.Fatalf("%s: %d records went to disk with coldAbove at its maximum", name, wantTr.cold.puts)
	}
	return tr.cold.puts, tr.cold.reads
}

// TestColdStoreChangesNothing: on every committed capture, under several
// configurations, sameCold.
func TestColdStoreChangesNothing(t *testing.T) {
	cfgs := []Config{
		{},
		{TimeWait: time.Millisecond},
		{TimeWait: 300 * time.Millisecond, IdleTimeout: 100 * time.Millisecond},
		{MaxConnections: 3, KeepCounts: true, TimeWait: 500 * time.Millisecond},
		{RFC1337: true, TimeWait: 10 * time.Second},
		{TimeWait: 20 * time.Second, IdleTimeout: time.Second},
	}
	var puts, reads int
	dir := t.TempDir()
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		for i, cfg := range cfgs {
			p, r := sameCold(t, fmt.Sprintf("%s config %d", filepath.Base(file), i), segs, cfg, dir)
			puts += p
			reads += r
		}
	}
	if puts == 0 || reads == 0 {
		t.Fatalf("%d bodies written, %d reads from disk: the cold store was not exercised", puts, reads)
	}
	t.Logf("%d bodies written to disk and read back (%d reads)", puts, reads)
}

// TestInMemory: inMemory says tmpfs for the directories /proc/self/mounts says are
// on tmpfs or ramfs, and not for the others (Linux).
func TestInMemory(t *testing.T) {
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Skipf("no /proc/self/mounts (not Linux): %v", err)
	}
	// fsType is the type of the mount holding dir: the longest mount point above it.
	fsType := func(dir string) string {
		best, typ := "", ""
		for _, line := range strings.Split(string(mounts), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			mp := f[1]
			if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
				best, typ = mp, f[2]
			}
		}
		return typ
	}
	checked := map[bool]int{}
	for _, dir := range []string{t.TempDir(), "/dev/shm", "/proc", "/"} {
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		typ := fsType(dir)
		want := typ == "tmpfs" || typ == "ramfs"
		if got := inMemory(dir); got != want {
			t.Errorf("inMemory(%s) = %v; it is on %s", dir, got, typ)
		}
		if want {
			// A store there refuses records (they stay in memory), without error.
			c := coldStore{dir: dir, segSize: coldSegment, window: coldWindow}
			if _, _, ok := c.put([]byte("x"), 0); ok || c.err != nil || len(c.segs) != 0 {
				t.Errorf("a store in %s (%s): put ok %v, error %v, %d files", dir, typ, ok, c.err, len(c.segs))
			}
			c.close()
		}
		checked[want]++
	}
	if checked[true] == 0 || checked[false] == 0 {
		t.Skipf("no directory in memory, or none on disk, to check (%v)", checked)
	}
}

// TestColdReadError: an error reading a record back from the cold store stops the
// tracker without a panic: Finish returns, Err gives the error, no temporary file is
// left, and the tracker then takes no more segments.
func TestColdReadError(t *testing.T) {
	dir := t.TempDir()
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		var handed int
		tr := newColdTracker(dir, &handed)
		end := feedSweeping(tr, segs)
		onDisk := false
		for _, sg := range tr.cold.segs {
			onDisk = onDisk || sg.f != nil && sg.live > 0 && sg.tailAt > 0
		}
		if !onDisk {
			tr.Finish(end)
			continue // no record held in a file: this capture cannot make the read fail
		}
		failColdFiles(t, tr)
		tr.Finish(end)
		err := tr.Err()
		if err == nil || !strings.Contains(err.Error(), "reading back") {
			t.Fatalf("%s: Err() = %v after the cold store's files failed, want a read error", filepath.Base(file), err)
		}
		if es, _ := os.ReadDir(dir); runtime.GOOS != "windows" && len(es) != 0 {
			t.Fatalf("%s: %d files left in the temporary directory", filepath.Base(file), len(es))
		}
		before := handed
		tr.Add(&segs[0])
		tr.Sweep(end.Add(time.Hour))
		tr.Finish(end)
		if handed != before || tr.Err() != err {
			t.Fatalf("%s: a stopped tracker handed out %d more incarnations, Err %v", filepath.Base(file), handed-before, tr.Err())
		}
		return
	}
	t.Fatal("no committed capture put a record on disk")
}

// TestAddKeyedEachColdError: an error reading the cold store back in the middle of
// AddKeyedEach stops the tracker as one in AddKeyed does: no panic, Err gives it,
// and nothing more is added or handed out. The segments come in runs of 64, each
// after a sweep, as a pipeline's worker gives them; then the cold store's files fail,
// and the capture comes again without sweeps (copies of its segments, for
// connections now packed on disk).
func TestAddKeyedEachColdError(t *testing.T) {
	for _, file := range committedCaptures(t) {
		segs, _ := readSegments(t, file)
		keys := make([]Keyed, len(segs))
		for i := range segs {
			keys[i].Set(&segs[i])
		}
		var handed int
		tr := newColdTracker(t.TempDir(), &handed)
		var end Instant
		feed := func(from, to int, sweep bool) {
			for i := from; i < to; i += 64 {
				run := make([]uint16, 0, 64)
				for j := i; j < min(i+64, to); j++ {
					run = append(run, uint16(j-from))
				}
				if at := InstantOf(segs[i].Time); sweep {
					tr.Sweep(at)
					end = max(end, at)
				}
				tr.AddKeyedEach(segs[from:], keys[from:], run)
			}
		}
		if len(segs) > 60000 {
			continue // (uint16 indexes)
		}
		feed(0, len(segs), true)
		failColdFiles(t, tr)
		feed(0, len(segs), false) // (no sweep: only AddKeyedEach reads)
		err := tr.Err()
		if err == nil {
			tr.Finish(end)
			continue // no copy read a record on disk
		}
		if !strings.Contains(err.Error(), "reading back") {
			t.Fatalf("%s: Err() = %v, want a read error", filepath.Base(file), err)
		}
		before := handed
		tr.AddKeyedEach(segs, keys, []uint16{0, 1})
		tr.Finish(end)
		if handed != before || tr.Err() != err {
			t.Fatalf("%s: a stopped tracker handed out %d more incarnations, Err %v", filepath.Base(file), handed-before, tr.Err())
		}
		return
	}
	t.Fatal("no committed capture read a record on disk for a segment after the files failed")
}

// newColdTracker returns a tracker that packs every connection and puts every
// record it can in its cold store in dir (small segments and windows), counting
// in handed the incarnations it hands out.
func newColdTracker(dir string, handed *int) *Tracker {
	cfg := Config{TimeWait: 20 * time.Second, ManualSweep: true, TempDir: dir,
		Done: func(*Incarnation) { *handed++ }}
	return packingTracker(cfg, true)
}

// failColdFiles closes the files of tr's cold store: reading from them fails.
func failColdFiles(t *testing.T, tr *Tracker) {
	for i := range tr.cold.segs {
		if f := tr.cold.segs[i].f; f != nil {
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

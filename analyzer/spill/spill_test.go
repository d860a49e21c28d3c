package spill

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

type rec struct {
	key Key
	val []byte
}

// TestSorterStable: whatever the bounds, the records come back as a stable sort by
// key gives them, and nothing is left in the directory.
func TestSorterStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		n       int
		opt     Options
		runs    bool
		inOrder bool // keys added in order, some equal (no sort needed)
	}{
		{0, Options{}, false, false},
		{1, Options{MaxRecords: 1}, false, false},
		{1000, Options{}, false, false},
		{1000, Options{MaxRecords: 3}, true, false},
		{1000, Options{MaxRecords: 1}, true, false},
		{1000, Options{MaxBytes: 100}, true, false},
		{1000, Options{MaxRecords: 7, MaxRuns: 2}, true, false},
		{5000, Options{MaxRecords: 10, MaxRuns: 16}, true, false},
		{5000, Options{MaxRecords: 1, MaxRuns: 3}, true, false},
		{1000, Options{}, false, true},
		{1000, Options{MaxRecords: 7, MaxRuns: 2}, true, true},
	} {
		t.Run(fmt.Sprintf("%d/%+v/in_order=%v", tc.n, tc.opt, tc.inOrder), func(t *testing.T) {
			dir := t.TempDir()
			tc.opt.Dir = dir
			s := New(tc.opt)
			var want []rec
			for i := range tc.n {
				k := Key{uint64(rng.IntN(20)), uint64(rng.IntN(3)), uint64(rng.IntN(2))}
				if tc.inOrder {
					k = Key{uint64(i / 3), 1}
				}
				v := []byte(fmt.Sprintf("%d:%s", i, bytes.Repeat([]byte{'x'}, rng.IntN(40))))
				if err := s.Add(k, v); err != nil {
					t.Fatal(err)
				}
				want = append(want, rec{k, v})
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Fatalf("a file left in the directory while sorting: %v", entries)
				}
			}
			// Runs of a level are merged MaxRuns at a time: fewer than MaxRuns of
			// each level, one file per level.
			levels := map[int]int{}
			for _, r := range s.runs {
				if levels[r.level]++; levels[r.level] >= s.opt.MaxRuns {
					t.Errorf("%d runs of level %d, MaxRuns %d", levels[r.level], r.level, s.opt.MaxRuns)
				}
			}
			for i := 1; i < len(s.runs); i++ {
				if s.runs[i].level > s.runs[i-1].level {
					t.Errorf("run %d of level %d after one of level %d", i, s.runs[i].level, s.runs[i-1].level)
				}
			}
			slices.SortStableFunc(want, func(a, b rec) int { return a.key.compare(&b.key) })
			if got := s.Runs() > 0; got != tc.runs {
				t.Errorf("runs written %d, want some: %v", s.Runs(), tc.runs)
			}
			if s.Len() != tc.n {
				t.Errorf("Len %d, want %d", s.Len(), tc.n)
			}
			var got [][]byte
			if err := s.Each(func(r []byte) error { got = append(got, bytes.Clone(r)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records back, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i].val) {
					t.Fatalf("record %d: got %q, want %q", i, got[i], want[i].val)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
			if err := s.Each(func([]byte) error { return nil }); err == nil {
				t.Error("a second Each: no error")
			}
		})
	}
}

// TestHeaderLen: headerLen, the room an entry of the batch takes, is the length of
// its header.
func TestHeaderLen(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, maxBatchBytes} {
		if got, want := headerLen(n), len(appendHeader(nil, Key{1, 2, 3}, n)); got != want {
			t.Errorf("headerLen(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestSorterErrors: fn's error stops the merge and is returned; a directory that
// cannot hold the file makes Add fail, and Each too.
func TestSorterErrors(t *testing.T) {
	s := New(Options{MaxRecords: 2, Dir: t.TempDir()})
	for i := range 10 {
		if err := s.Add(Key{uint64(10 - i)}, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := s.Each(func([]byte) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Each: %v after %d records, want stop after 1", err, n)
	}

	s = New(Options{MaxRecords: 2, Dir: t.TempDir() + "/missing"})
	var err error
	for i := range 10 {
		if err = s.Add(Key{uint64(i)}, []byte{byte(i)}); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("Add: no error with a directory that does not exist")
	}
	if err := s.Each(func([]byte) error { return nil }); err == nil {
		t.Error("Each: no error after a failed Add")
	}
}

// BenchmarkSorter times adding records of a report's size and reading them back in
// order, per record: in memory, and past the bound in runs on disk; keys in order (as
// a capture's end hands connections out) and shuffled.
func BenchmarkSorter(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	rec := bytes.Repeat([]byte{'x'}, 500)
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = Key{uint64(i)}
	}
	shuffled := slices.Clone(keys)
	rng.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, bc := range []struct {
		name string
		keys []Key
		opt  Options
	}{
		{"memory/sorted", keys, Options{MaxRecords: n, MaxBytes: 1 << 30}},
		{"memory/shuffled", shuffled, Options{MaxRecords: n, MaxBytes: 1 << 30}},
		{"runs/sorted", keys, Options{}},
		{"runs/shuffled", shuffled, Options{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opt.Dir = b.TempDir()
			b.ReportAllocs()
			b.SetBytes(int64(n * len(rec)))
			for b.Loop() {
				s := New(bc.opt)
				for _, k := range bc.keys {
					if err := s.Add(k, rec); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Each(func([]byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
		})
	}
}

// TestSortItems: sortItems orders a batch as a stable sort by key does, whatever the
// order the keys came in, through each of its paths (insertion sort, quicksort,
// heapsort when the partitions go too deep).
func TestSortItems(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name  string
		n     int
		key   func(i, n int) Key
		depth int // -1: as sortBatch gives it
	}{
		{"empty", 0, func(i, n int) Key { return Key{} }, -1},
		{"one", 1, func(i, n int) Key { return Key{1} }, -1},
		{"short reversed", 12, func(i, n int) Key { return Key{uint64(n - i)} }, -1},
		{"random", 5000, func(i, n int) Key { return Key{rng.Uint64(), rng.Uint64(), rng.Uint64()} }, -1},
		{"reversed", 5000, func(i, n int) Key { return Key{uint64(n - i)} }, -1},
		{"equal keys", 5000, func(i, n int) Key { return Key{7, 7, 7} }, -1},
		{"few keys", 5000, func(i, n int) Key { return Key{uint64(rng.IntN(3)), 0, uint64(rng.IntN(2))} }, -1},
		{"organ pipe", 5000, func(i, n int) Key { return Key{uint64(min(i, n-i))} }, -1},
		{"one out of place", 5000, func(i, n int) Key {
			if i == n/2 {
				return Key{0}
			}
			return Key{uint64(i)}
		}, -1},
		{"later in time, by connection", 5000, func(i, n int) Key { return Key{uint64(i*10 + rng.IntN(400)), uint64(i), 2} }, -1},
		{"heapsort", 5000, func(i, n int) Key { return Key{rng.Uint64N(100), rng.Uint64N(3)} }, 0},
		{"heapsort after partitions", 5000, func(i, n int) Key { return Key{rng.Uint64N(100)} }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items := make([]item, tc.n)
			for i := range items {
				items[i] = item{key: tc.key(i, tc.n), seq: uint32(i), off: uint32(i)}
			}
			want := slices.Clone(items)
			slices.SortStableFunc(want, func(a, b item) int { return a.key.compare(&b.key) })
			depth := tc.depth
			if depth < 0 {
				depth = 2 * bits.Len(uint(tc.n))
			}
			sortItems(items, depth)
			if !slices.Equal(items, want) {
				for i := range items {
					if items[i] != want[i] {
						t.Fatalf("item %d is %+v, want %+v", i, items[i], want[i])
					}
				}
			}
		})
	}
}

// TestMergeSorters: Merge of several Sorters, each bound to its share of the bounds
// (Options.Share), hands out the records as one Sorter given all of them does: those
// of the first Sorter first among equal keys, then the second's, each in the order
// added; when every key lives in one Sorter (a shard of the records), that is the
// order of one Sorter given them as they came. In memory and in runs on disk;
// MergeKeys hands each record with its key.
func TestMergeSorters(t *testing.T) {
	for _, tc := range []struct {
		n, sorters int
		opt        Options
		sharded    bool // each key in one Sorter only (its first element picks it)
		runs       bool
	}{
		{0, 2, Options{}, false, false},
		{1, 3, Options{}, false, false},
		{1000, 1, Options{}, false, false},
		{1000, 2, Options{}, false, false},
		{1000, 3, Options{}, true, false},
		{1000, 2, Options{MaxRecords: 6}, false, true},
		{1000, 3, Options{MaxRecords: 6}, true, true},
		{1000, 7, Options{MaxRecords: 3}, false, true},
		{1000, 2, Options{MaxBytes: 200}, false, true},
		{3000, 3, Options{MaxRecords: 8, MaxRuns: 2}, false, true},
		{3000, 2, Options{MaxRecords: 2, MaxRuns: 3}, true, true},
	} {
		t.Run(fmt.Sprintf("%d/%d/%+v/sharded=%v", tc.n, tc.sorters, tc.opt, tc.sharded), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), uint64(tc.sorters)))
			dir := t.TempDir()
			tc.opt.Dir = dir
			one := New(Options{MaxRecords: tc.n + 1, MaxBytes: 1 << 30})
			ss := make([]*Sorter, tc.sorters)
			for i := range ss {
				ss[i] = New(tc.opt.Share(tc.sorters))
			}
			// added[i]: what Sorter i was given, in order.
			added := make([][]rec, tc.sorters)
			for i := range tc.n {
				k := Key{uint64(rng.IntN(30)), uint64(rng.IntN(2)), uint64(rng.IntN(2))}
				to := rng.IntN(tc.sorters)
				if tc.sharded {
					to = int(k[0]) % tc.sorters
				}
				v := []byte(fmt.Sprintf("%d:%d:%s", to, i, bytes.Repeat([]byte{'x'}, rng.IntN(40))))
				if err := ss[to].Add(k, v); err != nil {
					t.Fatal(err)
				}
				added[to] = append(added[to], rec{k, v})
				if tc.sharded {
					if err := one.Add(k, v); err != nil { // in the order they came
						t.Fatal(err)
					}
				}
			}
			if !tc.sharded {
				for _, rs := range added {
					for _, r := range rs {
						if err := one.Add(r.key, r.val); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			runs := 0
			for _, s := range ss {
				runs += s.Runs()
			}
			if (runs > 0) != tc.runs {
				t.Errorf("%d runs written, want some: %v", runs, tc.runs)
			}
			var want, got [][]byte
			if err := one.Each(func(r []byte) error { want = append(want, bytes.Clone(r)); return nil }); err != nil {
				t.Fatal(err)
			}
			// MergeKeys: Merge with each record's key.
			keyOf := map[string]Key{}
			for _, rs := range added {
				for _, r := range rs {
					keyOf[string(r.val)] = r.key
				}
			}
			if err := MergeKeys(ss, func(k *Key, r []byte) error {
				if *k != keyOf[string(r)] {
					t.Errorf("%q handed with key %v, added with %v", r, *k, keyOf[string(r)])
				}
				got = append(got, bytes.Clone(r))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records back, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("record %d: got %q, want %q", i, got[i], want[i])
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
			if err := Merge(ss, func([]byte) error { return nil }); err == nil {
				t.Error("a second Merge: no error")
			}
		})
	}
}

// TestMergeErrors: the first Sorter with an Add error stops Merge before any record,
// and closes every Sorter; a Sorter given twice is refused.
func TestMergeErrors(t *testing.T) {
	good := New(Options{MaxRecords: 2, Dir: t.TempDir()})
	bad := New(Options{MaxRecords: 2, Dir: t.TempDir() + "/missing"})
	var badErr error
	for i := range 10 {
		if err := good.Add(Key{uint64(i)}, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		badErr = bad.Add(Key{uint64(i)}, []byte{byte(i)})
	}
	if badErr == nil {
		t.Fatal("Add: no error with a directory that does not exist")
	}
	n := 0
	if err := Merge([]*Sorter{good, bad}, func([]byte) error { n++; return nil }); err == nil || n != 0 {
		t.Errorf("Merge: %v after %d records, want the Add error before any", err, n)
	}
	if good.files != nil || good.items != nil {
		t.Error("the good Sorter was not closed")
	}
	s := New(Options{})
	if err := s.Add(Key{1}, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := Merge([]*Sorter{s, s}, func([]byte) error { return nil }); err == nil {
		t.Error("Merge of a Sorter twice: no error")
	}
}

// TestShare: the shares of a bound add up to no more than it, whatever the defaults;
// shares of a Filled bound keep its MaxRuns.
func TestShare(t *testing.T) {
	for _, o := range []Options{{}, {MaxRecords: 3}, {MaxBytes: 1, MaxRuns: 2}, {MaxRecords: 1 << 20, MaxBytes: 100 << 20}} {
		for _, n := range []int{1, 2, 3, 7, 64} {
			s, whole := New(o.Share(n)).opt, New(o).opt
			if n == 1 && s != whole {
				t.Errorf("%+v.Share(1) = %+v", o, s)
			}
			if (o.MaxRuns != 0 && s.MaxRuns != whole.MaxRuns) || s.MaxRecords < 1 || s.MaxBytes < 1 ||
				(whole.MaxRecords >= n && s.MaxRecords*n > whole.MaxRecords) || (whole.MaxBytes >= n && s.MaxBytes*n > whole.MaxBytes) {
				t.Errorf("%+v.Share(%d) = %+v: not a share of %+v", o, n, s, whole)
			}
			// Filled first: the same share of the memory, the whole bound's MaxRuns.
			if f := New(o.Filled().Share(n)).opt; f.MaxRecords != s.MaxRecords || f.MaxBytes != s.MaxBytes || f.MaxRuns != whole.MaxRuns || o.Filled() != whole {
				t.Errorf("%+v.Filled().Share(%d) = %+v, want %+v with MaxRuns %d (Filled %+v, New's %+v)", o, n, f, s, whole.MaxRuns, o.Filled(), whole)
			}
		}
	}
}

// TestChunksWithinBound: the batch's chunks, kept from batch to batch, add up to about
// what a full batch takes (MaxBytes of records and their headers; one minimal chunk
// past it), not the next doubling.
func TestChunksWithinBound(t *testing.T) {
	for _, tc := range []struct{ maxBytes, recLen int }{
		{2 << 20, 700}, {4 << 20, 700}, {1 << 20, 40}, {100 << 10, 3000},
	} {
		s := New(Options{MaxBytes: tc.maxBytes, Dir: t.TempDir()})
		rec := make([]byte, tc.recLen)
		for i := range 4 * tc.maxBytes / tc.recLen { // a few runs
			if err := s.Add(Key{uint64(i % 1000)}, rec); err != nil {
				t.Fatal(err)
			}
		}
		held := 0
		for _, c := range s.chunks {
			held += cap(c)
		}
		entry := headerLen(tc.recLen) + tc.recLen
		batch := tc.maxBytes / tc.recLen * entry // the entries of a full batch
		if limit := max(batch, tc.maxBytes+tc.maxBytes/16) + minChunk + entry; held > limit || s.Runs() == 0 {
			t.Errorf("MaxBytes %d, records of %d bytes: %d bytes of chunks (at most %d), %d runs", tc.maxBytes, tc.recLen, held, limit, s.Runs())
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestDefaultMaxRuns: unset, MaxRuns lets a merge of that many runs read them through
// buffers that add up to about MaxBytes (at most 16 runs of 16 KiB past it), and
// stays from 16 to 1024.
func TestDefaultMaxRuns(t *testing.T) {
	for _, tc := range []struct{ maxBytes, runs int }{
		{1, 16},
		{64 << 10, 16},
		{DefaultMaxBytes / 2, 128}, // a share of two workers: the peak of a 10M-connection report
		{DefaultMaxBytes, 256},
		{100 << 20, 1024},
		{1 << 30, 1024},
	} {
		opt := New(Options{MaxBytes: tc.maxBytes}).opt
		if opt.MaxRuns != tc.runs {
			t.Errorf("MaxBytes %d: MaxRuns %d, want %d", tc.maxBytes, opt.MaxRuns, tc.runs)
		}
		if buffers := readBuffer(opt.MaxBytes, opt.MaxRuns) * opt.MaxRuns; buffers > max(opt.MaxBytes, minDefaultRuns*minReadBuffer) {
			t.Errorf("MaxBytes %d: a merge of %d runs reads through %d bytes of buffers", tc.maxBytes, opt.MaxRuns, buffers)
		}
	}
	if got := New(Options{MaxBytes: 1 << 30, MaxRuns: 3}).opt.MaxRuns; got != 3 {
		t.Errorf("MaxRuns 3 given: %d", got)
	}
}

// TestMergeAllocs: Merge allocates per source (a run's reader, the heap), never per
// record: ten times the records, in as many runs, cost no more allocations.
func TestMergeAllocs(t *testing.T) {
	allocs := func(n int) uint64 {
		dir := t.TempDir()
		ss := make([]*Sorter, 3)
		for i := range ss {
			ss[i] = New(Options{MaxRecords: n / 12, Dir: dir}) // 4 runs each, and a batch
			for j := range n / 3 {
				if err := ss[i].Add(Key{uint64(j % 97), uint64(i)}, []byte("a record of a report")); err != nil {
					t.Fatal(err)
				}
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := Merge(ss, func([]byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	// The least of a few measurements: the runtime's own allocations on a busy
	// machine (a parked goroutine's sudog, say) only ever add to a count.
	least := func(n int) uint64 {
		m := allocs(n)
		for range 4 {
			m = min(m, allocs(n))
		}
		return m
	}
	small, large := least(1200), least(12000)
	if large > small+5 {
		t.Errorf("Merge: %d allocations for 12,000 records, %d for 1,200: some per record", large, small)
	}
}

// TestPark: a parked Sorter holds no records in memory (its batch is a run on
// disk) once it has a file or its batch is minPark bytes or more; a small batch of
// a Sorter without a file, or one whose file cannot be made, stays in memory. Either
// way it takes more records after, and merges to what it would have unparked:
// parked after every record, every few and never, records small and large, in
// order and not.
func TestPark(t *testing.T) {
	for _, every := range []int{0, 1, 3, 50} {
		for _, size := range []int{4, 40 << 10} {
			for _, sorted := range []bool{true, false} {
				rng := rand.New(rand.NewPCG(uint64(every), uint64(size)))
				dir := t.TempDir()
				opt := Options{Dir: dir, MaxRecords: 40, MaxBytes: 1 << 30}
				parked, plain := New(opt), New(opt)
				for i := range 200 {
					k := Key{uint64(i)}
					if !sorted {
						k = Key{uint64(rng.IntN(20))}
					}
					v := append([]byte(fmt.Sprintf("%d:", i)), bytes.Repeat([]byte{'v'}, size)...)
					if err := parked.Add(k, v); err != nil {
						t.Fatal(err)
					}
					if err := plain.Add(k, v); err != nil {
						t.Fatal(err)
					}
					if every > 0 && i%every == every-1 {
						hadFile, held := len(parked.files) > 0, parked.bytes
						if err := parked.Park(); err != nil {
							t.Fatal(err)
						}
						writes := hadFile || held >= minPark
						if empty := len(parked.items) == 0 && parked.chunks == nil; empty != writes {
							t.Fatalf("parked after record %d (file %v, %d bytes held): batch written %v, want %v", i, hadFile, held, empty, writes)
						}
						// A batch left in memory holds no more room than it takes.
						room := cap(parked.items) - len(parked.items)
						for _, c := range parked.chunks {
							room += cap(c) - len(c)
						}
						if room != 0 {
							t.Fatalf("parked after record %d in memory: room for %d more items and bytes kept", i, room)
						}
					}
				}
				var got, want []string
				if err := parked.Each(func(b []byte) error { got = append(got, string(b)); return nil }); err != nil {
					t.Fatal(err)
				}
				if err := plain.Each(func(b []byte) error { want = append(want, string(b)); return nil }); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("parked every %d, records of %d bytes, sorted %v: the merge differs", every, size, sorted)
				}
				if err := parked.Park(); err != nil { // after Each: nothing to do
					t.Error(err)
				}
			}
		}
	}
	// No file can be made: the records stay, and merge.
	s := New(Options{Dir: filepath.Join(t.TempDir(), "gone"), MaxRecords: 1000, MaxBytes: 1 << 30})
	for i := range 20 {
		if err := s.Add(Key{uint64(20 - i)}, bytes.Repeat([]byte{'x'}, 20<<10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Park(); err != nil || len(s.items) != 20 {
		t.Fatalf("Park without a directory: %v, %d records in memory, want nil and 20", err, len(s.items))
	}
	n := 0
	if err := s.Each(func([]byte) error { n++; return nil }); err != nil || n != 20 {
		t.Errorf("merge after a failed Park: %d records, %v", n, err)
	}
}

// TestChainedRuns: batches whose keys follow on from the run written before are
// written on as part of it (one run, read as one sequence); a batch that starts
// below the last key written starts a run of its own, and the next ones in order
// follow on from that one (the last batch, in memory, is no run). Each gives the
// stable sort either way.
func TestChainedRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys func(i int) Key
		runs int
	}{
		{"in order", func(i int) Key { return Key{uint64(i / 3)} }, 1},
		{"equal keys", func(int) Key { return Key{7, 7, 7} }, 1},
		{"in order within each batch, not across", func(i int) Key { return Key{uint64(i % 10)} }, 9},
		{"two ascents", func(i int) Key { return Key{uint64(i % 50)} }, 2},
		{"a batch out of order, then in order", func(i int) Key {
			if i >= 40 && i < 50 {
				return Key{uint64(100 - i)} // sorted in its batch: 51..60, above the 13 before
			}
			return Key{uint64(i / 3)}
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{MaxRecords: 10, MaxRuns: 1 << 10, Dir: t.TempDir()})
			var want []rec
			for i := range 100 {
				v := []byte(fmt.Sprint(i))
				if err := s.Add(tc.keys(i), v); err != nil {
					t.Fatal(err)
				}
				want = append(want, rec{tc.keys(i), v})
			}
			if s.Runs() != 9 || len(s.runs) != tc.runs {
				t.Errorf("%d batches written as %d runs, want 9 as %d", s.Runs(), len(s.runs), tc.runs)
			}
			slices.SortStableFunc(want, func(a, b rec) int { return a.key.compare(&b.key) })
			i := 0
			if err := s.Each(func(r []byte) error {
				if i >= len(want) || !bytes.Equal(r, want[i].val) {
					t.Fatalf("record %d: %q", i, r)
				}
				i++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if i != len(want) {
				t.Errorf("%d records back, want %d", i, len(want))
			}
		})
	}
}

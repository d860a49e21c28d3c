// Package spill sorts more records than memory should hold: an external merge sort.
// Records are added with a fixed-size key and opaque bytes; while they fit within a
// bound they stay in memory, past it each batch is sorted and written as a run to a
// temporary file (or as more of the last run, when its keys follow on from that
// run's), and Each merges the runs and the batch still in memory (a k-way
// merge on a heap) and hands every record back in key order, records with equal
// keys in the order they were added (a stable sort). Merge does the same for the
// records of several Sorters (one per goroutine that adds records), as one would.
//
// The temporary file is created in Options.Dir (default os.TempDir()) and removed
// right after it is created, so that nothing is left behind even when the process
// dies; where the system cannot remove an open file, Close removes it.
package spill

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
)

// Key orders records: lexicographically, element by element.
type Key [3]uint64

// (By pointer: a key passed by value is copied in 16-byte loads, and a key just
// written 8 bytes at a time, as a run is read or a record added, makes those loads
// wait for the stores under them.)
func (k *Key) compare(o *Key) int {
	if c := cmp.Compare(k[0], o[0]); c != 0 {
		return c
	}
	if c := cmp.Compare(k[1], o[1]); c != 0 {
		return c
	}
	return cmp.Compare(k[2], o[2])
}

// Defaults of Options.
const (
	DefaultMaxRecords = 1 << 15
	DefaultMaxBytes   = 4 << 20
	// MaxRuns unset: MaxBytes / minReadBuffer, within these bounds (see Options).
	minDefaultRuns = 16
	maxDefaultRuns = 1024
	writeBuffer    = 256 << 10
	maxBatchBytes  = 1 << 30 // offsets in the batch are 32 bits

	// The read buffer of each run while merging: its share of MaxBytes, so that a
	// few runs are read in few system calls while the buffers of many stay bounded.
	minReadBuffer = 16 << 10
	maxReadBuffer = 1 << 20

	// The batch's records go to chunks of memory from minChunk to maxChunk bytes
	// (see room); its items start with room for minBatchItems (see grow). Small
	// to start: --separate sorts the records of each of thousands of captures of
	// a few connections apart, and what each allocates is collected.
	minChunk      = 4 << 10
	maxChunk      = 1 << 20
	minBatchItems = 1 << 6
)

// Options bound the memory of a Sorter.
type Options struct {
	// MaxRecords and MaxBytes: records, and bytes of records, held in memory; a
	// record that would exceed either bound first writes the batch as a run. The
	// read buffers of the runs, when merging, take about MaxBytes more (at least
	// 16 KiB a run).
	MaxRecords int
	MaxBytes   int
	// MaxRuns: runs merged at once. MaxRuns runs of a size are merged into one
	// (another pass over their records; the passes grow with the logarithm of the
	// records), so that the runs, and their read buffers when merging, stay bounded.
	// Unset (0), it is MaxBytes / 16 KiB (from 16 to 1024): the read buffers of such
	// a merge, 16 KiB a run, take about MaxBytes, like the batch, rather than
	// 1024 buffers whatever the bound.
	MaxRuns int
	// Dir holds the temporary file; "" for os.TempDir().
	Dir string
}

// Share returns the bounds of one of n Sorters that share o's memory (n Sorters of
// the records of one report, merged at the end by Merge): MaxRecords and MaxBytes
// (their defaults if unset) divided by n, at least one record and one byte. MaxRuns
// stays when set (unset, each Sorter's follows its share of MaxBytes): it bounds the
// merges of each Sorter, and the read buffers of the final Merge share the MaxBytes
// of all n.
func (o Options) Share(n int) Options {
	if n <= 1 {
		return o
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.MaxRecords = max(o.MaxRecords/n, 1)
	o.MaxBytes = max(o.MaxBytes/n, 1)
	return o
}

// Sorter is an external sort. The zero value is not usable: see New.
type Sorter struct {
	opt   Options
	items []item // the batch in memory
	// chunks hold its records, each with its header as a run has it (entry),
	// filled one after the other (cur the one being filled); bytes counts the
	// records' bytes. The chunks stay, emptied, for the next batch.
	chunks [][]byte
	cur    int
	bytes  int
	n      int // records added
	// unsorted: a record of the batch came after one with a greater key. Records
	// often come in order (a capture's end hands connections out by first frame):
	// their batch needs no sort.
	unsorted bool

	// files[L] holds the runs of level L: level 0 the batches written, level L+1
	// the merges of MaxRuns runs of level L. runs lists them in the order of their
	// records (oldest first), levels decreasing.
	files  []*tempFile
	runs   []run
	w      *bufio.Writer
	spills int // runs written, merges included
	// chainEnd: the last key of the last run, a batch of level 0 that ends its
	// file, while chained. A batch whose first key is not less is written on as
	// part of that run rather than as a run of its own: records that come mostly
	// in order (a capture's end hands connections out by first frame) make few
	// runs, each read at the end as one sequence.
	chainEnd Key
	chained  bool

	err    error
	merged bool // Each ran: nothing more to add or read
}

type item struct {
	key             Key
	chunk, off, len uint32 // its entry, in chunks
	seq             uint32 // order of addition within the batch
}

type run struct {
	level    int
	off, len int64
}

type tempFile struct {
	f      *os.File
	remove string // to remove at Close: it could not be removed open
	off    int64  // its end
}

// New returns an empty Sorter.
func New(opt Options) *Sorter {
	return &Sorter{opt: opt.Filled()}
}

// Filled returns o with the bounds it leaves unset at their defaults, as New sets
// them: MaxRuns then follows MaxBytes. Sharing a filled o (Share) divides the
// memory and keeps MaxRuns: Sorters that share one bound among the kinds of records
// of one report then merge as many runs at once as one Sorter with the whole bound
// would (no more merge passes over their records), their read buffers taking about
// the shared bound in all.
func (o Options) Filled() Options {
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	o.MaxBytes = min(o.MaxBytes, maxBatchBytes)
	if o.MaxRuns < 2 {
		o.MaxRuns = min(max(o.MaxBytes/minReadBuffer, minDefaultRuns), maxDefaultRuns)
	}
	return o
}

// Len is the number of records added.
func (s *Sorter) Len() int { return s.n }

// Runs is the number of runs written to disk so far, merges of runs included.
func (s *Sorter) Runs() int { return s.spills }

// Err is the first error of an Add (a run that could not be written).
func (s *Sorter) Err() error { return s.err }

// Add adds a record; rec is copied. An error writing a run is returned, and kept:
// every later Add and Each returns it.
func (s *Sorter) Add(k Key, rec []byte) error {
	if s.err != nil {
		return s.err
	}
	if s.merged {
		return errors.New("spill: Add after Each")
	}
	if len(rec) > maxBatchBytes {
		s.err = fmt.Errorf("spill: record of %d bytes", len(rec))
		return s.err
	}
	if len(s.items) > 0 && (len(s.items) >= s.opt.MaxRecords || s.bytes+len(rec) > s.opt.MaxBytes) {
		if s.err = s.spill(); s.err != nil {
			return s.err
		}
	}
	if len(s.items) == cap(s.items) {
		s.items = grow(s.items, 1, minBatchItems, s.opt.MaxRecords)
	}
	if n := len(s.items); n > 0 && k.compare(&s.items[n-1].key) < 0 {
		s.unsorted = true
	}
	c := s.room(headerLen(len(rec)) + len(rec))
	off := len(s.chunks[c])
	s.chunks[c] = append(appendHeader(s.chunks[c], k, len(rec)), rec...)
	// The item written in place, field by field (there is room: above): a literal
	// built aside is copied 16 bytes at a time, which waits for the smaller stores
	// under it (store forwarding fails).
	n := len(s.items)
	s.items = s.items[:n+1]
	it := &s.items[n]
	it.key, it.chunk, it.off, it.len, it.seq = k, uint32(c), uint32(off), uint32(len(s.chunks[c])-off), uint32(n)
	s.bytes += len(rec)
	s.n++
	return nil
}

// room returns the chunk a record of n bytes goes to: the one being filled, else
// the next, one kept from an earlier batch or a new one twice the size of the last
// (from minChunk to maxChunk, or n, and within the bound). A record is never moved:
// a single buffer grown by append (by a quarter at a time, when large) allocated and
// copied five times the batch's bytes on the way to the bound.
func (s *Sorter) room(n int) int {
	if len(s.chunks) > 0 && len(s.chunks[s.cur])+n <= cap(s.chunks[s.cur]) {
		return s.cur
	}
	if len(s.chunks) > 0 {
		s.cur++
	}
	if s.cur < len(s.chunks) && cap(s.chunks[s.cur]) >= n {
		return s.cur
	}
	size := minChunk
	if s.cur > 0 {
		size = min(2*cap(s.chunks[s.cur-1]), maxChunk)
		// No more than the bound and a sixteenth (the records' headers) in all:
		// doubling alone would overshoot the bound by half.
		held := 0
		for _, c := range s.chunks[:s.cur] {
			held += cap(c)
		}
		size = min(size, max(s.opt.MaxBytes+s.opt.MaxBytes/16-held, minChunk))
	}
	chunk := make([]byte, 0, max(size, n))
	if s.cur < len(s.chunks) {
		s.chunks[s.cur] = chunk // too small for this record
	} else {
		s.chunks = append(s.chunks, chunk)
	}
	return s.cur
}

// entry returns an item of the batch as a run holds it: header, then record.
func (s *Sorter) entry(it *item) []byte { return s.chunks[it.chunk][it.off : it.off+it.len] }

// record returns the record of an item of the batch.
func (s *Sorter) record(it *item) []byte {
	e := s.entry(it)
	_, n := binary.Uvarint(e[24:])
	return e[24+n:]
}

// grow returns b with room for n more elements: twice its capacity (at least
// least), up to bound. append grows large slices by a quarter only: for a batch of
// megabytes, five times the bound allocated and copied on the way to it. The
// items then stay, for every later batch.
func grow[T any](b []T, n, least, bound int) []T {
	c := max(min(max(2*cap(b), least), bound), len(b)+n)
	nb := make([]T, len(b), c)
	copy(nb, b)
	return nb
}

func (s *Sorter) sortBatch() {
	if !s.unsorted {
		return // in order already, equal keys in the order of addition
	}
	sortItems(s.items, bits.Len(uint(len(s.items)))*2)
	s.unsorted = false
}

// before orders the items of a batch: by key, then in the order of addition (seq,
// unique in a batch: no two items are equal, any sort is stable).
func before(a, b *item) bool {
	if a.key[0] != b.key[0] {
		return a.key[0] < b.key[0]
	}
	if a.key[1] != b.key[1] {
		return a.key[1] < b.key[1]
	}
	if a.key[2] != b.key[2] {
		return a.key[2] < b.key[2]
	}
	return a.seq < b.seq
}

// sortItems sorts a batch (before): a quicksort, insertion sort for the short
// parts, heapsort past depth levels of partitions. Its own and not slices.SortFunc:
// there each comparison was a call through a func value, about half the cost of
// sorting the findings of a large capture (they come in the order of their
// connections, not of their time).
func sortItems(x []item, depth int) {
	for len(x) > 12 {
		if depth == 0 {
			heapSortItems(x)
			return
		}
		depth--
		// The median of the first, middle and last items as the pivot, at x[0].
		m, l := len(x)/2, len(x)-1
		if before(&x[m], &x[0]) {
			x[m], x[0] = x[0], x[m]
		}
		if before(&x[l], &x[m]) {
			x[l], x[m] = x[m], x[l]
			if before(&x[m], &x[0]) {
				x[m], x[0] = x[0], x[m]
			}
		}
		x[0], x[m] = x[m], x[0]
		// Hoare's partition around x[0]: x[1:i] before it, x[j+1:] after it.
		p := &x[0]
		i, j := 1, l
		for {
			for i <= j && before(&x[i], p) {
				i++
			}
			for i <= j && before(p, &x[j]) {
				j--
			}
			if i >= j {
				break
			}
			x[i], x[j] = x[j], x[i]
			i++
			j--
		}
		x[0], x[j] = x[j], x[0]
		// The shorter part recursively, the longer in the loop: the stack stays
		// logarithmic.
		if j < len(x)-1-j {
			sortItems(x[:j], depth)
			x = x[j+1:]
		} else {
			sortItems(x[j+1:], depth)
			x = x[:j]
		}
	}
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && before(&x[j], &x[j-1]); j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}

func heapSortItems(x []item) {
	down := func(i, n int) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && before(&x[c], &x[c+1]) {
				c++
			}
			if !before(&x[i], &x[c]) {
				return
			}
			x[i], x[c] = x[c], x[i]
			i = c
		}
	}
	for i := len(x)/2 - 1; i >= 0; i-- {
		down(i, len(x))
	}
	for n := len(x) - 1; n > 0; n-- {
		x[0], x[n] = x[n], x[0]
		down(0, n)
	}
}

// spill writes the batch as a run of level 0, then merges every MaxRuns runs of a
// level into one of the next.
func (s *Sorter) spill() error {
	inOrder := !s.unsorted
	s.sortBatch()
	tf, err := s.file(0)
	if err != nil {
		return err
	}
	start := tf.off
	first, last := s.items[0].key, s.items[len(s.items)-1].key
	extend := s.chained && len(s.runs) > 0 && s.runs[len(s.runs)-1].level == 0 &&
		s.runs[len(s.runs)-1].off+s.runs[len(s.runs)-1].len == start && s.chainEnd.compare(&first) <= 0
	if inOrder {
		// The chunks are the run: written as they are, not copied a record at a
		// time (s.w is empty).
		for _, chunk := range s.chunks {
			if _, err := tf.f.Write(chunk); err != nil {
				return fmt.Errorf("spill: %w", err)
			}
			tf.off += int64(len(chunk))
		}
	} else {
		for i := range s.items {
			e := s.entry(&s.items[i])
			if _, err := s.w.Write(e); err != nil {
				return fmt.Errorf("spill: %w", err)
			}
			tf.off += int64(len(e))
		}
		if err := s.w.Flush(); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
	}
	if extend {
		s.runs[len(s.runs)-1].len += tf.off - start
	} else {
		s.runs = append(s.runs, run{0, start, tf.off - start})
	}
	s.chainEnd, s.chained = last, true
	s.spills++
	s.items = s.items[:0]
	for i := range s.chunks {
		s.chunks[i] = s.chunks[i][:0]
	}
	s.cur, s.bytes = 0, 0
	for {
		level := s.runs[len(s.runs)-1].level
		i := len(s.runs)
		for i > 0 && s.runs[i-1].level == level {
			i--
		}
		if len(s.runs)-i < s.opt.MaxRuns {
			return nil
		}
		if err := s.merge(level, i); err != nil {
			return err
		}
	}
}

// file returns the file of the runs of a level, created if need be, with s.w
// writing to it.
func (s *Sorter) file(level int) (*tempFile, error) {
	for len(s.files) <= level {
		s.files = append(s.files, nil)
	}
	if s.files[level] == nil {
		f, remove, err := createTemp(s.opt.Dir)
		if err != nil {
			return nil, err
		}
		s.files[level] = &tempFile{f: f, remove: remove}
	}
	f := s.files[level].f
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, writeBuffer)
	} else {
		s.w.Reset(f)
	}
	return s.files[level], nil
}

// merge merges runs[i:], every run of the level (and all its file holds), into one
// run of the next level; the level's file goes.
func (s *Sorter) merge(level, i int) error {
	tf, err := s.file(level + 1)
	if err != nil {
		return err
	}
	start := tf.off
	m := &merger{}
	m.addRuns(s, s.runs[i:], readBuffer(s.opt.MaxBytes, len(s.runs)-i))
	for {
		src, ok, err := m.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := s.write(tf, src.key, src.rec); err != nil {
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs[:i], run{level + 1, start, tf.off - start})
	s.chained = false
	s.spills++
	old := s.files[level]
	s.files[level] = nil
	return old.close()
}

// appendHeader appends the header of a record of n bytes in a run: the key, the
// length.
func appendHeader(b []byte, k Key, n int) []byte {
	b = binary.LittleEndian.AppendUint64(b, k[0])
	b = binary.LittleEndian.AppendUint64(b, k[1])
	b = binary.LittleEndian.AppendUint64(b, k[2])
	return binary.AppendUvarint(b, uint64(n))
}

// headerLen is the length of the header of a record of n bytes.
func headerLen(n int) int { return 24 + (bits.Len64(uint64(n)|1)+6)/7 }

// write appends one record to a file (through s.w): the header, the bytes.
func (s *Sorter) write(tf *tempFile, k Key, rec []byte) error {
	// The header is put in the writer's buffer itself (a header array of its own
	// went to the heap, a record at a time: Write may hand it to the file).
	hdr := appendHeader(s.w.AvailableBuffer(), k, len(rec))
	s.w.Write(hdr)
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	tf.off += int64(len(hdr) + len(rec))
	return nil
}

// Each hands every record to fn in key order (records with equal keys in the order
// they were added), then closes the Sorter. rec is valid during the call only. It
// stops at the first error, of fn or of reading the runs. Each runs once.
func (s *Sorter) Each(fn func(rec []byte) error) error {
	return Merge([]*Sorter{s}, fn)
}

// Merge hands every record of several Sorters to fn in key order, then closes them
// all: what one Sorter would give had it been added the records of all of them, those
// of ss[0] first, then those of ss[1], and so on. Records with equal keys come in the
// order of ss, then in the order they were added. It is Each of several Sorters, and
// the same for one; each Sorter is read once, by Each or by one Merge. It stops at the
// first error: of an Add (the first Sorter's in ss that has one), of fn or of reading
// the runs.
//
// The runs and batches of every Sorter are merged at once, on one heap (not a merge of
// merges), their read buffers sharing the MaxBytes of all the Sorters.
func Merge(ss []*Sorter, fn func(rec []byte) error) error {
	return MergeKeys(ss, func(_ *Key, rec []byte) error { return fn(rec) })
}

// MergeKeys is Merge that hands each record's key to fn too, valid during the call
// only, like the record. (By pointer: a copy of the key a run's reading has just
// written would wait for those stores.)
func MergeKeys(ss []*Sorter, fn func(k *Key, rec []byte) error) error {
	defer func() {
		for _, s := range ss {
			_ = s.Close() // removes temporary files only: what Merge handed out is complete
		}
	}()
	for _, s := range ss {
		if s.err != nil {
			return s.err
		}
	}
	maxBytes, nruns := 0, 0
	for i, s := range ss {
		if s.merged || slices.Contains(ss[:i], s) {
			return errors.New("spill: a Sorter read twice")
		}
		s.sortBatch()
		maxBytes += s.opt.MaxBytes
		nruns += len(s.runs)
	}
	for _, s := range ss {
		s.merged = true
	}
	if len(ss) == 1 && nruns == 0 {
		s := ss[0]
		for i := range s.items {
			if err := fn(&s.items[i].key, s.record(&s.items[i])); err != nil {
				return err
			}
		}
		return nil
	}
	m := &merger{}
	size := readBuffer(maxBytes, nruns)
	for _, s := range ss {
		m.addRuns(s, s.runs, size)
		m.addBatch(s)
	}
	for {
		src, ok, err := m.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := fn(&src.key, src.rec); err != nil {
			return err
		}
	}
}

// Park writes the batch in memory as a run and frees the batch's memory: a Sorter
// that waits long for its merge (each capture's of a --separate run, merged when
// the report is written) holds none of its records in memory. A batch of less than
// minPark bytes in a Sorter that has no file yet stays in memory (a small capture
// would cost an open file until the merge, not memory), and so does one whose
// file cannot be created (too many open files): the records are kept either way.
// Add may follow.
func (s *Sorter) Park() error {
	if s.err != nil || s.merged || len(s.items) == 0 {
		return s.err
	}
	if len(s.files) == 0 || s.files[0] == nil {
		if s.bytes < minPark {
			s.shrink()
			return nil
		}
		if _, err := s.file(0); err != nil {
			s.shrink()
			return nil // (nothing written: the batch is whole, in memory)
		}
	}
	if s.err = s.spill(); s.err != nil {
		return s.err
	}
	s.items, s.chunks, s.cur, s.bytes, s.w = nil, nil, 0, 0, nil
	return nil
}

// shrink gives back the room of the batch in memory that its records do not take
// (a chunk is 64 KiB at least, the items room for 1,024): a batch Park leaves in
// memory waits there, one for each capture of a --separate run.
func (s *Sorter) shrink() {
	s.chunks = s.chunks[:s.cur+1] // (those after are empty, kept for a next batch)
	for i, c := range s.chunks {
		if cap(c) > len(c) {
			s.chunks[i] = slices.Clip(append(make([]byte, 0, len(c)), c...))
		}
	}
	if cap(s.items) > len(s.items) {
		s.items = slices.Clip(append(make([]item, 0, len(s.items)), s.items...))
	}
}

// minPark: Park leaves a smaller batch in memory unless the Sorter has a file.
const minPark = 256 << 10

// Close frees the memory and the temporary file. Each closes the Sorter; Close is
// for one that will not be read.
func (s *Sorter) Close() error {
	s.merged = true
	s.items, s.chunks = nil, nil
	s.runs = nil
	var err error
	for _, tf := range s.files {
		if tf != nil {
			if e := tf.close(); err == nil {
				err = e
			}
		}
	}
	s.files, s.w = nil, nil
	return err
}

func createTemp(dir string) (f *os.File, remove string, err error) {
	f, err = os.CreateTemp(dir, "finack-spill-*")
	if err != nil {
		return nil, "", fmt.Errorf("spill: %w", err)
	}
	if os.Remove(f.Name()) != nil {
		remove = f.Name() // not while open (Windows): at Close
	}
	return f, remove, nil
}

func (tf *tempFile) close() error {
	err := tf.f.Close()
	if tf.remove != "" {
		if rerr := os.Remove(tf.remove); err == nil {
			err = rerr
		}
	}
	return err
}

// source is one sorted sequence being merged: a run on disk or the batch in memory.
type source struct {
	// idx: the order the source was added to the merger (a Sorter's runs in the
	// order written, then its batch; Sorters in the order given): ties go to the lower.
	idx int
	key Key
	rec []byte

	r    *bufio.Reader // a run
	buf  []byte
	read int // bytes of r that rec holds, in place: to skip before reading on

	batch *Sorter // the batch
	pos   int
}

// advance reads the source's next record; ok false at its end.
func (src *source) advance() (ok bool, err error) {
	if src.batch != nil {
		b := src.batch
		if src.pos >= len(b.items) {
			return false, nil
		}
		it := &b.items[src.pos]
		src.pos++
		src.key, src.rec = it.key, b.record(it)
		return true, nil
	}
	// Read in place, in the reader's buffer (Peek): the record stays as it is
	// until this source is read again, once it was handed out.
	_, _ = src.r.Discard(src.read) // the record peeked before: buffered, cannot fail
	src.read = 0
	hdr, err := src.r.Peek(24)
	if len(hdr) < 24 {
		if len(hdr) == 0 && err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("spill: reading a run: %w", noEOF(err))
	}
	src.key = Key{binary.LittleEndian.Uint64(hdr[0:]), binary.LittleEndian.Uint64(hdr[8:]), binary.LittleEndian.Uint64(hdr[16:])}
	_, _ = src.r.Discard(24) // peeked above: buffered, cannot fail
	n, err := binary.ReadUvarint(src.r)
	if err != nil || n > maxBatchBytes {
		return false, fmt.Errorf("spill: reading a run: bad record length (%v)", err)
	}
	if src.rec, err = src.r.Peek(int(n)); err == nil {
		src.read = int(n)
		return true, nil
	}
	if err != bufio.ErrBufferFull {
		return false, fmt.Errorf("spill: reading a run: %w", noEOF(err))
	}
	// Larger than the reader's buffer: copied.
	if uint64(cap(src.buf)) < n {
		src.buf = make([]byte, n)
	}
	src.rec = src.buf[:n]
	if _, err := io.ReadFull(src.r, src.rec); err != nil {
		return false, fmt.Errorf("spill: reading a run: %w", err)
	}
	return true, nil
}

// noEOF: a run that ends within a record is cut short.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// merger is the k-way merge: a heap of the sources, the least record on top.
type merger struct {
	h       sourceHeap
	started bool
	top     *source // handed out last: advanced on the next call
}

// readBuffer is the size of the read buffer of each of n runs being merged: their
// share of maxBytes, from minReadBuffer to maxReadBuffer.
func readBuffer(maxBytes, n int) int {
	return min(max(maxBytes/max(n, 1), minReadBuffer), maxReadBuffer)
}

// addRuns adds runs of s to the merge, each read through a buffer of size bytes (no
// bigger than the run: a small one need not cost a large buffer). Sources added
// earlier win ties.
func (m *merger) addRuns(s *Sorter, runs []run, size int) {
	for _, r := range runs {
		n := int(min(int64(size), r.len))
		sr := io.NewSectionReader(s.files[r.level].f, r.off, r.len)
		m.h = append(m.h, &source{idx: len(m.h), r: bufio.NewReaderSize(sr, n)})
	}
}

// addBatch adds the batch of s (sorted) to the merge, if it holds any record.
func (m *merger) addBatch(s *Sorter) {
	if len(s.items) > 0 {
		m.h = append(m.h, &source{idx: len(m.h), batch: s})
	}
}

// next returns the least record left; ok false when every source is done.
func (m *merger) next() (top *source, ok bool, err error) {
	if !m.started {
		m.started = true
		live := m.h[:0]
		for _, src := range m.h {
			ok, err := src.advance()
			if err != nil {
				return nil, false, err
			}
			if ok {
				live = append(live, src)
			}
		}
		m.h = live
		for i := len(m.h)/2 - 1; i >= 0; i-- {
			m.h.down(i)
		}
	} else if m.top != nil {
		ok, err := m.top.advance()
		if err != nil {
			return nil, false, err
		}
		if !ok { // done: the last source takes its place
			last := len(m.h) - 1
			m.h[0] = m.h[last]
			m.h = m.h[:last]
		}
		m.h.down(0)
	}
	if len(m.h) == 0 {
		m.top = nil
		return nil, false, nil
	}
	m.top = m.h[0]
	return m.top, true, nil
}

// sourceHeap is a binary heap of sources, the least on top. Its own, not
// container/heap's: a record at a time, its calls through an interface (Less, Swap)
// cost more than the comparisons themselves.
type sourceHeap []*source

// down moves the source at i down to where it belongs.
func (h sourceHeap) down(i int) {
	for {
		j := 2*i + 1
		if j >= len(h) {
			return
		}
		if r := j + 1; r < len(h) && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

func (h sourceHeap) less(i, j int) bool {
	if c := h[i].key.compare(&h[j].key); c != 0 {
		return c < 0
	}
	return h[i].idx < h[j].idx
}

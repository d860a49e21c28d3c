// Package spill sorts more records than memory should hold: an external merge sort.
// Records are added with a fixed-size key and opaque bytes; while they fit within a
// bound they stay in memory, past it each batch is sorted and written as a run to a
// temporary file, and Each merges the runs and the batch still in memory (a k-way
// merge on a heap) and hands every record back in key order, records with equal
// keys in the order they were added (a stable sort).
//
// The temporary file is created in Options.Dir (default os.TempDir()) and removed
// right after it is created, so that nothing is left behind even when the process
// dies; where the system cannot remove an open file, Close removes it.
package spill

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Key orders records: lexicographically, element by element.
type Key [3]uint64

func (k Key) compare(o Key) int {
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
	DefaultMaxRecords = 1 << 16
	DefaultMaxBytes   = 8 << 20
	DefaultMaxRuns    = 1024
	readBuffer        = 16 << 10 // per run, while merging
	writeBuffer       = 256 << 10
	maxBatchBytes     = 1 << 30 // offsets in the batch are 32 bits
)

// Options bound the memory of a Sorter.
type Options struct {
	// MaxRecords and MaxBytes: records, and bytes of records, held in memory; a
	// record that would exceed either bound first writes the batch as a run.
	MaxRecords int
	MaxBytes   int
	// MaxRuns: runs merged at once. MaxRuns runs of a size are merged into one
	// (another pass over their records; the passes grow with the logarithm of the
	// records), so that the runs, and their read buffers when merging, stay bounded.
	MaxRuns int
	// Dir holds the temporary file; "" for os.TempDir().
	Dir string
}

// Sorter is an external sort. The zero value is not usable: see New.
type Sorter struct {
	opt   Options
	items []item // the batch in memory
	buf   []byte // the bytes of its records
	n     int    // records added

	// files[L] holds the runs of level L: level 0 the batches written, level L+1
	// the merges of MaxRuns runs of level L. runs lists them in the order of their
	// records (oldest first), levels decreasing.
	files  []*tempFile
	runs   []run
	w      *bufio.Writer
	spills int // runs written, merges included

	err    error
	merged bool // Each ran: nothing more to add or read
}

type item struct {
	key      Key
	off, len uint32 // in buf
	seq      uint32 // order of addition within the batch
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
	if opt.MaxRecords <= 0 {
		opt.MaxRecords = DefaultMaxRecords
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	opt.MaxBytes = min(opt.MaxBytes, maxBatchBytes)
	if opt.MaxRuns < 2 {
		opt.MaxRuns = DefaultMaxRuns
	}
	return &Sorter{opt: opt}
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
	if len(s.items) > 0 && (len(s.items) >= s.opt.MaxRecords || len(s.buf)+len(rec) > s.opt.MaxBytes) {
		if s.err = s.spill(); s.err != nil {
			return s.err
		}
	}
	s.items = append(s.items, item{key: k, off: uint32(len(s.buf)), len: uint32(len(rec)), seq: uint32(len(s.items))})
	s.buf = append(s.buf, rec...)
	s.n++
	return nil
}

func (s *Sorter) sortBatch() {
	slices.SortFunc(s.items, func(a, b item) int {
		if c := a.key.compare(b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
}

// spill writes the batch as a run of level 0, then merges every MaxRuns runs of a
// level into one of the next.
func (s *Sorter) spill() error {
	s.sortBatch()
	tf, err := s.file(0)
	if err != nil {
		return err
	}
	start := tf.off
	for _, it := range s.items {
		if err := s.write(tf, it.key, s.buf[it.off:it.off+it.len]); err != nil {
			return err
		}
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs, run{0, start, tf.off - start})
	s.spills++
	s.items, s.buf = s.items[:0], s.buf[:0]
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
	m := newMerger(s.runFiles(s.runs[i:]), s.runs[i:], nil)
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
	s.spills++
	old := s.files[level]
	s.files[level] = nil
	return old.close()
}

func (s *Sorter) runFiles(runs []run) []*os.File {
	fs := make([]*os.File, len(runs))
	for i, r := range runs {
		fs[i] = s.files[r.level].f
	}
	return fs
}

// write appends one record to a file (through s.w): the key, the length, the bytes.
func (s *Sorter) write(tf *tempFile, k Key, rec []byte) error {
	var hdr [3*8 + binary.MaxVarintLen64]byte
	binary.LittleEndian.PutUint64(hdr[0:], k[0])
	binary.LittleEndian.PutUint64(hdr[8:], k[1])
	binary.LittleEndian.PutUint64(hdr[16:], k[2])
	n := 24 + binary.PutUvarint(hdr[24:], uint64(len(rec)))
	s.w.Write(hdr[:n])
	if _, err := s.w.Write(rec); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	tf.off += int64(n + len(rec))
	return nil
}

// Each hands every record to fn in key order (records with equal keys in the order
// they were added), then closes the Sorter. rec is valid during the call only. It
// stops at the first error, of fn or of reading the runs. Each runs once.
func (s *Sorter) Each(fn func(rec []byte) error) error {
	if s.err != nil {
		s.Close()
		return s.err
	}
	if s.merged {
		return errors.New("spill: Each called twice")
	}
	s.merged = true
	defer s.Close()
	s.sortBatch()
	if len(s.runs) == 0 {
		for _, it := range s.items {
			if err := fn(s.buf[it.off : it.off+it.len]); err != nil {
				return err
			}
		}
		return nil
	}
	m := newMerger(s.runFiles(s.runs), s.runs, s)
	for {
		src, ok, err := m.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := fn(src.rec); err != nil {
			return err
		}
	}
}

// Close frees the memory and the temporary file. Each closes the Sorter; Close is
// for one that will not be read.
func (s *Sorter) Close() error {
	s.merged = true
	s.items, s.buf = nil, nil
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
	idx int // runs in the order written, the batch last: ties go to the lower
	key Key
	rec []byte

	r   *bufio.Reader // a run
	buf []byte

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
		it := b.items[src.pos]
		src.pos++
		src.key, src.rec = it.key, b.buf[it.off:it.off+it.len]
		return true, nil
	}
	var hdr [24]byte
	if _, err := io.ReadFull(src.r, hdr[:]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("spill: reading a run: %w", err)
	}
	n, err := binary.ReadUvarint(src.r)
	if err != nil || n > maxBatchBytes {
		return false, fmt.Errorf("spill: reading a run: bad record length (%v)", err)
	}
	src.key = Key{binary.LittleEndian.Uint64(hdr[0:]), binary.LittleEndian.Uint64(hdr[8:]), binary.LittleEndian.Uint64(hdr[16:])}
	if uint64(cap(src.buf)) < n {
		src.buf = make([]byte, n)
	}
	src.rec = src.buf[:n]
	if _, err := io.ReadFull(src.r, src.rec); err != nil {
		return false, fmt.Errorf("spill: reading a run: %w", err)
	}
	return true, nil
}

// merger is the k-way merge: a heap of the sources, the least record on top.
type merger struct {
	h       sourceHeap
	started bool
	top     *source // handed out last: advanced on the next call
}

// newMerger merges runs (runs[i] in files[i]) and the batch of a Sorter.
func newMerger(files []*os.File, runs []run, batch *Sorter) *merger {
	m := &merger{}
	for i, r := range runs {
		m.h = append(m.h, &source{idx: i, r: bufio.NewReaderSize(io.NewSectionReader(files[i], r.off, r.len), readBuffer)})
	}
	if batch != nil && len(batch.items) > 0 {
		m.h = append(m.h, &source{idx: len(runs), batch: batch})
	}
	return m
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
		heap.Init(&m.h)
	} else if m.top != nil {
		ok, err := m.top.advance()
		if err != nil {
			return nil, false, err
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
	}
	if len(m.h) == 0 {
		m.top = nil
		return nil, false, nil
	}
	m.top = m.h[0]
	return m.top, true, nil
}

type sourceHeap []*source

func (h sourceHeap) Len() int { return len(h) }
func (h sourceHeap) Less(i, j int) bool {
	if c := h[i].key.compare(h[j].key); c != 0 {
		return c < 0
	}
	return h[i].idx < h[j].idx
}
func (h sourceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

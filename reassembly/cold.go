package reassembly

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"time"
)

// Cold records: a streaming tracker that holds many incarnations keeps the bodies of
// the packed records of connections in TIME_WAIT in temporary files, and only their
// headers (what a sweep reads) and where the body is in memory: about 30 bytes
// instead of 180.
//
// Why: on a busy server's capture almost everything held at once is connections in
// TIME_WAIT (it lasts a minute; they lasted milliseconds), and almost none of them is
// read again before its TIME_WAIT ends and it is handed out: their bodies are written
// once and read once, in about the order they were written (a TIME_WAIT lasts the
// same for all). That is what a file is for; memory then grows with the 4-tuples
// held (their flows, table slots and schedule entries: about 150 bytes each), not
// with the history of each connection. Reading one back costs a copy from the page
// cache: a sweep hands such connections out in the order written (handKey), read in
// windows of coldWindow bytes; one that a segment comes for (a stale segment, a
// retransmitted FIN) is read alone. A SYN that reuses the 4-tuple reads none: the
// record's header, in memory, has what it needs (reusePacked), and the body stays on
// disk as the record of an earlier incarnation until its window is over.
//
// Only records that end by themselves within a bounded time go to disk (EndExpired:
// their TIME_WAIT, or twice it while a FIN is unacknowledged; replaced while there,
// their window for stale segments ends no later), so every segment file
// is read through and removed within about one or two TIME_WAIT lengths of capture
// time after it was written: disk use follows the connections in TIME_WAIT, not the
// capture's length. The two waits go to segments of their own (coldClasses): mixed,
// every segment would wait for its longest records, and the files would take about
// twice what their live records do. Records that may wait for the end of the capture
// (half-open and idle connections) stay in memory: they would keep their whole
// segment file.
//
// A directory on a file system kept in memory (tmpfs: /tmp on many systems; see
// inMemory) is not used: a file there would take the memory the record took. Set
// Config.TempDir (TMPDIR for finack) to a directory on disk.
//
// The files are removed as soon as they are created where the system allows it
// (they disappear with the process, however it ends). An error creating or writing
// one (a full disk) stops the store: records are kept in memory from then on
// (TrackerStats.ColdError says so); bodies already written stay readable.

const (
	// coldAbove: records go to disk only while the tracker holds at least this
	// many incarnations (below, their bodies take at most 3 MB; a small capture
	// makes no file).
	coldAbove = 16384
	// coldSegment: a segment file takes no more records past this size; it is
	// removed when the last of its records is read back.
	coldSegment = 4 << 20
	// coldWriteBuf: records are written to their file by this many bytes.
	coldWriteBuf = 64 << 10
	// coldWindow: a read brings back at least this many bytes (the records after the
	// one asked for, soon asked for too).
	coldWindow = 64 << 10
)

// coldRecord marks, in the header's reason, a record whose body is in the tracker's
// cold store: the record in memory is its header followed by the body's segment,
// offset and length (uvarints).
const coldRecord = 0x10

// coldClasses: records of each class (coldClass) are appended to segments of their
// own.
const coldClasses = 2

// coldClass is the class of a record that waits wait (capture time) once quiet, on a
// tracker whose TIME_WAIT lasts twLen: its TIME_WAIT, or twice it.
func coldClass(wait, twLen time.Duration) int {
	if wait > twLen {
		return 1
	}
	return 0
}

// coldStore is a tracker's temporary files of record bodies: segments, each a file
// appended to (the current one of its class) until it reaches coldSegment, then read
// from until its last record is dropped.
type coldStore struct {
	dir     string
	segSize int64     // coldSegment (tests lower it)
	window  int       // coldWindow (tests lower it)
	segs    []coldSeg // segment first+i
	first   uint64
	// cur: the segment appended to for each class, when hasCur.
	cur    [coldClasses]uint64
	hasCur [coldClasses]bool
	// win holds bytes [winAt, winAt+len(win)) of segment winSeg; one, a body read
	// alone.
	win, one []byte
	winSeg   uint64
	winAt    int64
	err      error // the first error creating or writing a file: put refuses from then
	// checked: dir was looked at (inMemory); memoryDir: it is in memory, and put
	// refuses.
	checked, memoryDir bool
	// records: bodies not dropped yet; bytes: the bytes of the segments not removed.
	records int
	bytes   int64
	// puts, reads (tests): bodies written, and reads from a file.
	puts, reads int
}

// coldSeg is one segment file.
type coldSeg struct {
	f    *os.File // nil once removed
	name string   // the file's name while it still has one (the system refused to remove it open)
	size int64    // bytes appended
	// tail: the bytes from tailAt not in the file yet (the current segment's write
	// buffer; a segment whose write failed keeps them here for good).
	tail   []byte
	tailAt int64
	live   int // records not dropped
}

// put appends a body of a class and returns where it is; ok is false when the store
// cannot take it (the caller keeps the record in memory).
func (c *coldStore) put(body []byte, class int) (seg uint64, off int64, ok bool) {
	if !c.checked {
		c.checked, c.memoryDir = true, inMemory(c.dir)
	}
	if c.err != nil || c.memoryDir {
		return 0, 0, false
	}
	if !c.hasCur[class] || c.segs[c.cur[class]-c.first].size >= c.segSize {
		if !c.startSegment(class) {
			return 0, 0, false
		}
	}
	s := &c.segs[c.cur[class]-c.first]
	if len(s.tail) > 0 && len(s.tail)+len(body) > coldWriteBuf {
		if !c.flush(s) {
			return 0, 0, false
		}
	}
	off = s.size
	s.tail = append(s.tail, body...)
	s.size += int64(len(body))
	s.live++
	c.records++
	c.puts++
	c.bytes += int64(len(body))
	return c.cur[class], off, true
}

// startSegment flushes the current segment of a class and starts a new one.
func (c *coldStore) startSegment(class int) bool {
	var buf []byte
	if c.hasCur[class] {
		s := &c.segs[c.cur[class]-c.first]
		if !c.flush(s) {
			return false
		}
		buf, s.tail = s.tail, nil
		c.hasCur[class] = false
		if s.live == 0 {
			c.remove(s)
		}
	}
	f, err := os.CreateTemp(c.dir, "finack-cold-*")
	if err != nil {
		c.err = err
		return false
	}
	name := f.Name()
	if os.Remove(name) == nil {
		name = ""
	}
	if buf == nil {
		buf = make([]byte, 0, coldWriteBuf)
	}
	c.segs = append(c.segs, coldSeg{f: f, name: name, tail: buf})
	c.cur[class], c.hasCur[class] = c.first+uint64(len(c.segs)-1), true
	c.trim()
	return true
}

// flush writes a segment's tail to its file.
func (c *coldStore) flush(s *coldSeg) bool {
	if len(s.tail) == 0 {
		return true
	}
	if _, err := s.f.WriteAt(s.tail, s.tailAt); err != nil {
		c.err = fmt.Errorf("writing %s: %w", s.f.Name(), err)
		return false
	}
	s.tailAt += int64(len(s.tail))
	s.tail = s.tail[:0]
	return true
}

// get returns the n bytes at off in segment seg, valid until the next call. ahead:
// the bytes after them are about to be asked for (a window is read at once); else
// only those are read (a record read back for a segment that came for it: the
// records after it in the file are not the next ones asked for).
func (c *coldStore) get(seg uint64, off int64, n int, ahead bool) []byte {
	s := &c.segs[seg-c.first]
	if off >= s.tailAt {
		return s.tail[off-s.tailAt:][:n]
	}
	if seg == c.winSeg && off >= c.winAt && off+int64(n) <= c.winAt+int64(len(c.win)) {
		return c.win[off-c.winAt:][:n]
	}
	if !ahead {
		c.one = slices.Grow(c.one[:0], n)[:n]
		c.read(s, c.one, off)
		return c.one
	}
	m := int(min(int64(max(n, c.window)), s.tailAt-off))
	if cap(c.win) < m {
		c.win = make([]byte, max(m, c.window))
	}
	c.win = c.win[:m]
	c.read(s, c.win[:m], off)
	c.winSeg, c.winAt = seg, off
	return c.win[:n]
}

// read fills b from segment s's file at off.
func (c *coldStore) read(s *coldSeg, b []byte, off int64) {
	c.reads++
	if _, err := s.f.ReadAt(b, off); err != nil {
		// The file is the tracker's own, written and not changed since: an error
		// reading it back is the system's (an I/O error), and the connection
		// cannot be rebuilt. It unwinds to the Tracker method that was called
		// (catchCold), which returns and leaves the tracker stopped (Tracker.Err).
		panic(coldReadError{fmt.Errorf("reassembly: reading back %d bytes at %d of %s: %w", len(b), off, s.f.Name(), err)})
	}
}

// coldReadError is an error reading a record back from the cold store, on its way
// (a panic inside the package) to the Tracker method that was called.
type coldReadError struct{ err error }

// catchCold, deferred by each Tracker method that may read the cold store, stops the
// tracker on an error reading it back (Err returns it from then on); any other panic
// goes on.
func (t *Tracker) catchCold() {
	if r := recover(); r != nil {
		e, ok := r.(coldReadError)
		if !ok {
			panic(r)
		}
		t.err = e.err
		t.cold.close() // its files go: nothing is read back any more
	}
}

// Err returns the error that stopped the tracker: an I/O error reading back a record
// it had put in its temporary files (the connection's packets can no longer be
// known). From then on Add, Sweep, Each and Finish do nothing and no more
// incarnations are handed out: the caller reports the capture as read with this
// error (the report is incomplete) and stops feeding it.
func (t *Tracker) Err() error { return t.err }

// drop lets go of a body put earlier: a segment no longer appended to is removed
// with its last record.
func (c *coldStore) drop(seg uint64) {
	s := &c.segs[seg-c.first]
	s.live--
	c.records--
	if s.live == 0 && !c.current(seg) {
		c.remove(s)
		c.trim()
	}
}

// current reports whether seg is appended to.
func (c *coldStore) current(seg uint64) bool {
	for k := range c.cur {
		if c.hasCur[k] && c.cur[k] == seg {
			return true
		}
	}
	return false
}

// remove closes a segment's file and removes it.
func (c *coldStore) remove(s *coldSeg) {
	c.bytes -= s.size
	_ = s.f.Close() // the segment is done with: its contents no longer matter
	if s.name != "" {
		_ = os.Remove(s.name) // best effort, as a temporary file: the analysis does not depend on it
	}
	*s = coldSeg{}
}

// trim forgets the removed segments at the front.
func (c *coldStore) trim() {
	i := 0
	for i < len(c.segs) && c.segs[i].f == nil {
		i++
	}
	if i > 0 {
		c.segs = append(c.segs[:0], c.segs[i:]...)
		c.first += uint64(i)
	}
}

// close removes every file.
func (c *coldStore) close() {
	for i := range c.segs {
		if c.segs[i].f != nil {
			c.remove(&c.segs[i])
		}
	}
	c.segs, c.win, c.records, c.bytes = nil, nil, 0, 0
	c.hasCur = [coldClasses]bool{}
}

// coldPut moves the body of a record just packed (in t.packBuf) to the cold store
// and returns the record to keep in memory: the header, marked cold, and where the
// body is. ok is false when the store refused it.
func (t *Tracker) coldPut(rec []byte) (mem []byte, ok bool) {
	h, d := readHeader(rec)
	seg, off, ok := t.cold.put(rec[d.i:], coldClass(h.wait, t.twLen))
	if !ok {
		return nil, false
	}
	mem = append(t.coldBuf[:0], rec[:d.i]...)
	mem[h.reasonAt] |= coldRecord        // (the reason is one byte: appendHeader)
	mem = binary.AppendUvarint(mem, seg) // (the coldPlace)
	mem = binary.AppendUvarint(mem, uint64(off))
	mem = binary.AppendUvarint(mem, uint64(len(rec)-d.i))
	t.coldBuf = mem
	return mem, true
}

// coldPlace is where a cold record's body is: what the record keeps in memory after
// its header (coldPut writes it, readPlace reads it).
type coldPlace struct {
	seg uint64
	off int64
	n   int
}

// placeOf reads a record's header and, for a cold record (h.cold), where its body
// is.
func placeOf(rec string) (h packHeader, p coldPlace) {
	h, d := readHeader(recordBytes(rec))
	if h.cold {
		p = readPlace(&d)
	}
	return h, p
}

// readPlace reads where a cold record's body is, what follows its header in memory
// (coldPut).
func readPlace(d *unpacker) coldPlace {
	return coldPlace{d.uvarint(), int64(d.uvarint()), int(d.uvarint())}
}

// recordData is a record's bytes as pack wrote them: read back from the cold store
// when its body is there (cold; then valid until the next call, and the body is in
// segment seg). ahead: the records written after it are about to be read too (a
// hand-out, in handKey's order): read a window of them at once.
func (t *Tracker) recordData(rec string, ahead bool) (b []byte, cold bool, seg uint64) {
	_, d, cold, seg := t.record(rec, ahead)
	return d.b, cold, seg
}

// record is recordData that also reads the record's header: h, and d after it in
// the record's bytes (d.b), as readHeader(d.b) gives them.
func (t *Tracker) record(rec string, ahead bool) (h packHeader, d unpacker, cold bool, seg uint64) {
	h, d = readHeader(recordBytes(rec))
	if !h.cold {
		return h, d, false, 0
	}
	end := d.i
	p := readPlace(&d)
	b := append(t.coldBuf[:0], rec[:end]...)
	b[h.reasonAt] &^= coldRecord
	b = append(b, t.cold.get(p.seg, p.off, p.n, ahead)...)
	t.coldBuf = b
	h.cold, d.b, d.i = false, b, end
	return h, d, true, p.seg
}

// handKey orders a packed record among those handed out together (hand,
// handFinal): by first frame, as whole incarnations are, when it is in memory; after
// all of those, in the order written, when its body is in the cold store, so that
// the bodies are read back in windows instead of one by one from all over the files
// (a sweep finishes the connections whose TIME_WAIT ended; they were written as each
// became quiet, over the connections' lengths and two TIME_WAIT lengths: on a
// generated capture of 2 million packets, by first frame, two records in five were
// not in the window read for the ones before).
func handKey(rec string) uint64 {
	h, p := placeOf(rec)
	if !h.cold {
		return h.first.Frame
	}
	return coldKeys | p.seg<<32 | uint64(p.off) // (off < 2^32; seg < 2^31 until 8 PiB were written)
}

// coldKeys: handKey's keys of records on disk are this or more.
const coldKeys = 1 << 63

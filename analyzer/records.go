package analyzer

import (
	"slices"
	"sync"

	"github.com/finack/finack/analyzer/spill"
)

// Encoder renders the records of a Stream that spills (Stream.Spill): each function
// appends to dst the bytes the report prints for one record. The record is valid
// during the call only: what it points to is reused for the next.
type Encoder struct {
	// Connection: nil when the report lists no connections (and the Stream keeps no
	// record of them).
	Connection func(dst []byte, c *Connection) ([]byte, error)
	Finding    func(dst []byte, f *Finding) ([]byte, error)
}

// Records are the encoded records of a Stream that spills, in report order:
// connections by first frame, findings by time (as Report sorts them). They are
// read once each; Close frees them (reading both closes them too).
type Records struct {
	conns, findings *spill.Sorter
	// mu guards the sorters when the Records of several Streams share them
	// (SpillWith); nil otherwise.
	mu   *sync.Mutex
	enc  Encoder
	cur  Connection // the record add encodes
	buf  []byte     // the records of one incarnation, encoded
	ends []int      // where each of its findings ends in buf
	err  error      // the first error encoding a record
}

// Spill makes the Stream keep, instead of every Connection and Finding until the
// Report, each record encoded by enc, in an external sort bounded by opt (records past
// the bound go to a temporary file, in sorted runs): memory stays flat however many
// connections the capture holds. The Report then has no Findings and Connections but
// Records, which hands out the encoded records in the same order. Call it before the
// first Add. The findings Add returns are then valid until the next Add only, what
// they point to included: their strings too are in memory the next Add writes over
// (the Stream's arena), so a caller that keeps one must copy its strings.
func (st *Stream) Spill(enc Encoder, opt spill.Options) {
	r := &Records{enc: enc, findings: spill.New(opt)}
	if st.connections && enc.Connection != nil {
		r.conns = spill.New(opt)
	}
	st.recs = r
}

// SpillWith makes st spill as other does (other.Spill first), into the same
// external sort, each record encoded by enc (an Encoder of st's own: encoders keep
// buffers). For Streams fed on several goroutines, one per tracker of a sharded
// capture: the analysis and the encoding run in parallel, the sort takes one record at
// a time. The Reports of all of them (Merge) hand out the records of all of them.
func (st *Stream) SpillWith(enc Encoder, other *Stream) {
	o := other.recs
	if o.mu == nil {
		o.mu = new(sync.Mutex)
	}
	st.recs = &Records{enc: enc, findings: o.findings, conns: o.conns, mu: o.mu}
}

// add encodes and keeps one incarnation's record (r.cur) and findings. They are
// encoded first, then sorted under the lock, taken once: the Streams that share the
// sort (SpillWith) encode in parallel.
func (r *Records) add(fs []Finding) {
	if r.err != nil {
		return
	}
	b := r.buf[:0]
	if r.conns != nil {
		if b, r.err = r.enc.Connection(b, &r.cur); r.err != nil {
			return
		}
	}
	conn := len(b)
	r.ends = r.ends[:0]
	for i := range fs {
		if b, r.err = r.enc.Finding(b, &fs[i]); r.err != nil {
			return
		}
		r.ends = append(r.ends, len(b))
	}
	r.buf = b
	if r.mu != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
	}
	if r.conns != nil {
		if r.err = r.conns.Add(spill.Key{r.cur.FirstFrame}, b[:conn]); r.err != nil {
			return
		}
	}
	start := conn
	for i, end := range r.ends {
		if r.err = r.findings.Add(findingKey(&fs[i]), b[start:end]); r.err != nil {
			return
		}
		start = end
	}
}

// findingKey orders findings as Report does: by time, first frame, kind.
func findingKey(f *Finding) spill.Key {
	var first uint64
	if len(f.Frames) > 0 {
		first = f.Frames[0]
	}
	return spill.Key{uint64(f.at) ^ 1<<63, first, kindRank(f.Kind)}
}

// kindOrder lists the kinds in the order of their names (Report compares the names).
var kindOrder = func() []Kind {
	k := slices.Clone(Kinds)
	slices.Sort(k)
	return k
}()

func kindRank(k Kind) uint64 {
	for i, x := range kindOrder {
		if x == k {
			return uint64(i)
		}
	}
	return uint64(len(kindOrder))
}

// Findings hands each finding's bytes to fn, in report order; b is valid during the
// call only. It stops at fn's first error, and returns it.
func (r *Records) Findings(fn func(b []byte) error) error {
	if r.err != nil {
		r.Close()
		return r.err
	}
	return r.findings.Each(fn)
}

// Connections hands each connection record's bytes to fn, by first frame (none
// when the Stream kept no connection records).
func (r *Records) Connections(fn func(b []byte) error) error {
	if r.err != nil {
		r.Close()
		return r.err
	}
	if r.conns == nil {
		return nil // none kept
	}
	return r.conns.Each(fn)
}

// NumFindings and NumConnections count the records kept.
func (r *Records) NumFindings() int { return r.findings.Len() }

func (r *Records) NumConnections() int {
	if r.conns == nil {
		return 0
	}
	return r.conns.Len()
}

// Runs is the number of sorted runs written to temporary files (0: everything fit in
// memory).
func (r *Records) Runs() int {
	n := r.findings.Runs()
	if r.conns != nil {
		n += r.conns.Runs()
	}
	return n
}

// Close frees what is left: memory and temporary files.
func (r *Records) Close() error {
	if r == nil {
		return nil
	}
	err := r.findings.Close()
	if r.conns != nil {
		if e := r.conns.Close(); err == nil {
			err = e
		}
	}
	return err
}

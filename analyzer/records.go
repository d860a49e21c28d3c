package analyzer

import (
	"slices"

	"github.com/finack/finack/analyzer/spill"
)

// Encoder renders the records of a Stream that spills (Stream.Spill): each function
// appends to dst the bytes the report prints for one record. The record is valid
// during the call only: what it points to is reused for the next.
type Encoder struct {
	// Connection: nil when the report lists no connections (and the Stream keeps no
	// record of them).
	Connection func(dst []byte, c *Connection) ([]byte, error)
	// ConnectionFindings, when set, renders the connection record in its place,
	// given the incarnation's findings too: an incarnation's findings all come
	// from its own analysis, so a record that names them (-o tsv) needs no lookup
	// over the whole report.
	ConnectionFindings func(dst []byte, c *Connection, fs []Finding) ([]byte, error)
	// Finding: nil when the report lists no findings (none are kept).
	Finding func(dst []byte, f *Finding) ([]byte, error)
}

// Records are the encoded records of a Stream that spills, in report order:
// connections by first frame, findings by time (as Report sorts them); those of
// several Streams (Merge) are merged by the same keys as they are read. They are read
// once each; Close frees them (reading both closes them too).
type Records struct {
	// One sorter of each per Stream, in the order of the Reports merged: records with
	// equal keys come in that order, as Merge's sort orders the records of Streams that
	// keep them. conns is empty when the Streams kept no connection records.
	conns, findings []*spill.Sorter
	err             error // the first error encoding a record, of the first Stream that had one
}

// recorder encodes the records of a Stream that spills into its own sorters.
type recorder struct {
	conns, findings *spill.Sorter // conns nil: no connection records kept
	enc             Encoder
	cur             Connection // the record add encodes
	buf             []byte     // a record, encoded
	err             error      // the first error encoding a record
}

// Spill makes the Stream keep, instead of every Connection and Finding until the
// Report, each record encoded by enc, in an external sort bounded by opt (records past
// the bound go to a temporary file, in sorted runs): memory stays flat however many
// connections the capture holds. The Report then has no Findings and Connections but
// Records, which hands out the encoded records in the same order. Call it before the
// first Add. The findings Add returns are then valid until the next Add only, what
// they point to included: their strings too are in memory the next Add writes over
// (the Stream's arena), so a caller that keeps one must copy its strings.
//
// Streams fed on several goroutines (the trackers of a sharded capture) each spill
// into their own sort, with an Encoder of their own (encoders keep buffers) and a
// share of the bound (spill.Options.Share); Merge of their Reports merges the sorts
// as the records are read.
func (st *Stream) Spill(enc Encoder, opt spill.Options) {
	r := &recorder{enc: enc, findings: spill.New(opt)}
	if st.connections && (enc.Connection != nil || enc.ConnectionFindings != nil) {
		r.conns = spill.New(opt)
	}
	st.recs = r
}

// records are what r kept, to read.
func (r *recorder) records() *Records {
	recs := &Records{findings: []*spill.Sorter{r.findings}, err: r.err}
	if r.conns != nil {
		recs.conns = []*spill.Sorter{r.conns}
	}
	return recs
}

// add encodes and keeps one incarnation's record (r.cur) and findings.
func (r *recorder) add(fs []Finding) {
	if r.err != nil {
		return
	}
	if r.conns != nil {
		if r.enc.ConnectionFindings != nil {
			r.buf, r.err = r.enc.ConnectionFindings(r.buf[:0], &r.cur, fs)
		} else {
			r.buf, r.err = r.enc.Connection(r.buf[:0], &r.cur)
		}
		if r.err != nil {
			return
		}
		if r.err = r.conns.Add(spill.Key{r.cur.FirstFrame}, r.buf); r.err != nil {
			return
		}
	}
	if r.enc.Finding == nil {
		return
	}
	for i := range fs {
		if r.buf, r.err = r.enc.Finding(r.buf[:0], &fs[i]); r.err != nil {
			return
		}
		if r.err = r.findings.Add(findingKey(&fs[i]), r.buf); r.err != nil {
			return
		}
	}
}

// findingKey is CompareFindings as a sort key: time, first frame, kind.
func findingKey(f *Finding) spill.Key {
	return spill.Key{uint64(f.Time.UnixNano()) ^ 1<<63, firstFrame(f), kindRank(f.Kind)}
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

// merge appends o's sorters to r's: r hands out the records of both, those of r
// first among equal keys.
func (r *Records) merge(o *Records) {
	r.conns = append(r.conns, o.conns...)
	r.findings = append(r.findings, o.findings...)
	if r.err == nil {
		r.err = o.err
	}
}

// Findings hands each finding's bytes to fn, in report order; b is valid during the
// call only. It stops at fn's first error, and returns it.
func (r *Records) Findings(fn func(b []byte) error) error {
	if r.err != nil {
		_ = r.Close() // r.err is the error to tell; this only removes spill files
		return r.err
	}
	return spill.Merge(r.findings, fn)
}

// Connections hands each connection record's bytes to fn, by first frame (none
// when the Stream kept no connection records).
func (r *Records) Connections(fn func(b []byte) error) error {
	if r.err != nil {
		_ = r.Close() // r.err is the error to tell; this only removes spill files
		return r.err
	}
	if len(r.conns) == 0 {
		return nil // none kept
	}
	return spill.Merge(r.conns, fn)
}

// NumFindings and NumConnections count the records kept.
func (r *Records) NumFindings() int { return count(r.findings, (*spill.Sorter).Len) }

func (r *Records) NumConnections() int { return count(r.conns, (*spill.Sorter).Len) }

// Runs is the number of sorted runs written to temporary files (0: everything fit in
// memory).
func (r *Records) Runs() int {
	return count(r.findings, (*spill.Sorter).Runs) + count(r.conns, (*spill.Sorter).Runs)
}

// count sums f over the sorters.
func count(ss []*spill.Sorter, f func(*spill.Sorter) int) int {
	n := 0
	for _, s := range ss {
		n += f(s)
	}
	return n
}

// Close frees what is left: memory and temporary files.
func (r *Records) Close() error {
	if r == nil {
		return nil
	}
	err := closeAll(r.findings)
	if e := closeAll(r.conns); err == nil {
		err = e
	}
	return err
}

// closeAll closes every sorter and returns the first error.
func closeAll(ss []*spill.Sorter) error {
	var err error
	for _, s := range ss {
		if e := s.Close(); err == nil {
			err = e
		}
	}
	return err
}

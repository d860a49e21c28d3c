package report

import (
	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
)

// encoder renders the records a Recorder keeps: each function appends to dst the
// bytes the report prints for one record. The record is valid during the call only:
// what it points to is reused for the next.
type encoder struct {
	// connection: nil when the report lists no connections (none are kept).
	connection func(dst []byte, c *analyzer.Connection) ([]byte, error)
	// connectionFindings, when set, renders the connection record in its place,
	// given the incarnation's findings too: an incarnation's findings all come
	// from its own analysis, so a record that names them (-o tsv) needs no lookup
	// over the whole report.
	connectionFindings func(dst []byte, c *analyzer.Connection, fs []analyzer.Finding) ([]byte, error)
	// finding: nil when the report lists no findings (none are kept).
	finding func(dst []byte, f *analyzer.Finding) ([]byte, error)
}

// Recorder is the analyzer.Sink of a report that streams its records
// (StreamsReport): it encodes each connection record and finding as the report
// prints it and keeps the bytes in an external sort (package spill), past a bound in
// sorted runs in a temporary file. Streams fed on several goroutines (the trackers
// of a sharded capture) each send to a Recorder of their own (encoders keep
// buffers), each with its share of the bound (spill.Options.Share); MergeRecords
// merges their sorts as the records are read.
type Recorder struct {
	conns, findings *spill.Sorter // conns nil: no connection records kept
	enc             encoder
	buf             []byte // a record, encoded
	err             error  // the first error encoding a record
}

// NewRecorder returns a Recorder that encodes records for o's output format, in a
// sort bounded by opt.
func NewRecorder(o Options, opt spill.Options) *Recorder {
	return newRecorder(reportEncoder(o), opt)
}

func newRecorder(enc encoder, opt spill.Options) *Recorder {
	r := &Recorder{enc: enc, findings: spill.New(opt)}
	if enc.connection != nil || enc.connectionFindings != nil {
		r.conns = spill.New(opt)
	}
	return r
}

// Add encodes and keeps one incarnation's record (c, nil when the Stream keeps
// none) and findings.
func (r *Recorder) Add(c *analyzer.Connection, fs []analyzer.Finding) {
	if r.err != nil {
		return
	}
	if r.conns != nil && c != nil {
		if r.enc.connectionFindings != nil {
			r.buf, r.err = r.enc.connectionFindings(r.buf[:0], c, fs)
		} else {
			r.buf, r.err = r.enc.connection(r.buf[:0], c)
		}
		if r.err != nil {
			return
		}
		if r.err = r.conns.Add(spill.Key{c.FirstFrame}, r.buf); r.err != nil {
			return
		}
	}
	if r.enc.finding == nil {
		return
	}
	for i := range fs {
		if r.buf, r.err = r.enc.finding(r.buf[:0], &fs[i]); r.err != nil {
			return
		}
		if r.err = r.findings.Add(analyzer.FindingKey(&fs[i]), r.buf); r.err != nil {
			return
		}
	}
}

// Records are the encoded records of one or more Recorders, in report order:
// connections by first frame, findings by time (as analyzer.Stream.Report sorts
// them); those of several Recorders are merged by the same keys as they are read.
// They are read once each; Close frees them (reading both closes them too).
type Records struct {
	// One sorter of each per Recorder, in the order given to MergeRecords: records
	// with equal keys come in that order, as analyzer.Merge's sort orders the
	// records of Streams that keep them. conns is empty when no connection records
	// were kept.
	conns, findings []*spill.Sorter
	err             error // the first error encoding a record, of the first Recorder that had one
}

// MergeRecords returns what the Recorders kept, to read: the records of all of
// them, those of rs[0] first among equal keys. Nil Recorders are left out; nil when
// there are none.
func MergeRecords(rs []*Recorder) *Records {
	var out *Records
	for _, r := range rs {
		if r == nil {
			continue
		}
		if out == nil {
			out = new(Records)
		}
		out.findings = append(out.findings, r.findings)
		if r.conns != nil {
			out.conns = append(out.conns, r.conns)
		}
		if out.err == nil {
			out.err = r.err
		}
	}
	return out
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
// when no connection records were kept).
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

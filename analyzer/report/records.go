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
	// incident: nil when the Recorder keeps no incidents (the report lists none,
	// or an IncidentCollector keeps them). The findings of one event all come from
	// one incarnation's analysis (IncidentCollector), so each Add groups its own.
	incident func(dst []byte, in *Incident) ([]byte, error)
	// findingKey orders the findings: nil for the report's order
	// (analyzer.FindingKey).
	findingKey func(f *analyzer.Finding) spill.Key
	// ignoreVLAN: --ignore-vlan, what the incidents' display filters leave out.
	ignoreVLAN bool
}

// Recorder is the analyzer.Sink of a report that streams its records
// (StreamsReport): it encodes each connection record, finding and incident (-o json,
// -o ndjson) as the report prints it and keeps the bytes in an external sort
// (package spill), past a bound in sorted runs in a temporary file. Streams fed on several goroutines (the trackers
// of a sharded capture) each send to a Recorder of their own (encoders keep
// buffers), each with its share of the bound (spill.Options.Share); MergeRecords
// merges their sorts as the records are read.
type Recorder struct {
	conns, findings *spill.Sorter // conns nil: no connection records kept
	incidents       *spill.Sorter // nil: no incidents kept (KeepsIncidents)
	enc             encoder
	buf             []byte // a record, encoded
	err             error  // the first error encoding a record
	g               incidentGrouper
	incs            []Incident // the incidents of one Add
}

// NewRecorder returns a Recorder that encodes records for o's output format, in a
// sort bounded by opt.
func NewRecorder(o Options, opt spill.Options) *Recorder {
	return newRecorder(reportEncoder(o), opt)
}

func newRecorder(enc encoder, opt spill.Options) *Recorder {
	// The kinds of records kept share the bound: a Recorder holds about the same
	// memory whether it keeps one kind or three (-o json: connections, findings,
	// incidents). Each keeps the runs merged at once of the whole bound (Filled).
	keepConns := enc.connection != nil || enc.connectionFindings != nil
	kinds := 0
	for _, keep := range []bool{keepConns, enc.finding != nil, enc.incident != nil} {
		if keep {
			kinds++
		}
	}
	opt = opt.Filled().Share(kinds)
	r := &Recorder{enc: enc, findings: spill.New(opt)}
	r.g.borrow = true // each Add encodes its incidents before the next groups
	if keepConns {
		r.conns = spill.New(opt)
	}
	if enc.incident != nil {
		r.incidents = spill.New(opt)
	}
	return r
}

// Both returns a Sink that hands each incarnation to a, then to b (a report and the
// baseline written beside it, each encoding for its own format).
func Both(a, b analyzer.Sink) analyzer.Sink { return both{a, b} }

type both [2]analyzer.Sink

func (s both) Add(c *analyzer.Connection, fs []analyzer.Finding) {
	s[0].Add(c, fs)
	s[1].Add(c, fs)
}

// KeepsIncidents says whether the Recorder groups the findings into incidents and
// keeps them (-o json, -o ndjson): no IncidentCollector is needed then.
func (r *Recorder) KeepsIncidents() bool { return r.incidents != nil }

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
	if r.enc.finding != nil {
		for i := range fs {
			if r.buf, r.err = r.enc.finding(r.buf[:0], &fs[i]); r.err != nil {
				return
			}
			key := analyzer.FindingKey(&fs[i])
			if r.enc.findingKey != nil {
				key = r.enc.findingKey(&fs[i])
			}
			if r.err = r.findings.Add(key, r.buf); r.err != nil {
				return
			}
		}
	}
	if r.incidents == nil || len(fs) == 0 {
		return
	}
	// Grouped in the order of their first findings; the sort orders them, those of
	// equal keys in the order added, as IncidentCollector and MergeIncidents do.
	r.incs = r.g.group(r.incs[:0], fs, r.enc.ignoreVLAN)
	for i := range r.incs {
		in := &r.incs[i]
		if r.buf, r.err = r.enc.incident(r.buf[:0], in); r.err != nil {
			return
		}
		if r.err = r.incidents.Add(incidentSortKey(in), r.buf); r.err != nil {
			return
		}
	}
	// Encoded: what the incidents point to (their Findings, cut from g.kinds; their
	// Summary and Filter, from g.text) is free for the next Add.
	clear(r.incs)
	r.g.kinds = r.g.kinds[:0]
}

// incidentSortKey is the order of SortIncidents (incidentOrder) as a key that sorts
// element by element: seconds, nanoseconds, then the first frame and the kind in one
// element (the kind's place by name in the low byte: frame numbers stay far below
// 2^56).
func incidentSortKey(in *Incident) spill.Key {
	return spill.Key{uint64(in.Time.Unix()) ^ 1<<63, uint64(in.Time.Nanosecond()), in.FirstFrame<<8 | min(analyzer.KindKey(in.Kind), 0xff)}
}

// Records are the encoded records of one or more Recorders, in report order:
// connections by first frame, findings by time (as analyzer.Stream.Report sorts
// them), incidents by time (SortIncidents); those of several Recorders are merged by
// the same keys as they are read. They are read once each; Close frees them
// (reading every kind closes them too).
type Records struct {
	// One sorter of each per Recorder, in the order given to MergeRecords: records
	// with equal keys come in that order, as analyzer.Merge's sort orders the
	// records of Streams that keep them. conns is empty when no connection records
	// were kept.
	conns, findings []*spill.Sorter
	// incidents: empty when the Recorders kept no incidents (the Document's
	// Incidents has them, or the report lists none).
	incidents []*spill.Sorter
	err       error // the first error encoding a record, of the first Recorder that had one
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
		if r.incidents != nil {
			out.incidents = append(out.incidents, r.incidents)
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

// findingsKeyed is Findings with each finding's key (encoder.findingKey's).
func (r *Records) findingsKeyed(fn func(k *spill.Key, b []byte) error) error {
	if r.err != nil {
		_ = r.Close() // r.err is the error to tell; this only removes spill files
		return r.err
	}
	return spill.MergeKeys(r.findings, fn)
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

// KeepsIncidents says whether the incidents are among the records (Incidents), not
// in the Document's Incidents.
func (r *Records) KeepsIncidents() bool { return r != nil && len(r.incidents) > 0 }

// Incidents hands each incident's bytes to fn, in report order (SortIncidents;
// none when no incidents were kept).
func (r *Records) Incidents(fn func(b []byte) error) error {
	if r.err != nil {
		_ = r.Close() // r.err is the error to tell; this only removes spill files
		return r.err
	}
	if len(r.incidents) == 0 {
		return nil // none kept
	}
	return spill.Merge(r.incidents, fn)
}

// NumFindings, NumConnections and NumIncidents count the records kept.
func (r *Records) NumFindings() int { return count(r.findings, (*spill.Sorter).Len) }

func (r *Records) NumConnections() int { return count(r.conns, (*spill.Sorter).Len) }

func (r *Records) NumIncidents() int { return count(r.incidents, (*spill.Sorter).Len) }

// Runs is the number of sorted runs written to temporary files (0: everything fit in
// memory).
func (r *Records) Runs() int {
	return count(r.findings, (*spill.Sorter).Runs) + count(r.conns, (*spill.Sorter).Runs) + count(r.incidents, (*spill.Sorter).Runs)
}

// count sums f over the sorters.
func count(ss []*spill.Sorter, f func(*spill.Sorter) int) int {
	n := 0
	for _, s := range ss {
		n += f(s)
	}
	return n
}

// Park writes what the sorts hold in memory to disk and frees that memory
// (spill.Sorter.Park): a --separate run keeps each capture's records until the
// report, on disk. An error is kept: reading the records returns it.
func (r *Records) Park() {
	if r == nil || r.err != nil {
		return
	}
	for _, ss := range [][]*spill.Sorter{r.conns, r.findings, r.incidents} {
		for _, s := range ss {
			if err := s.Park(); err != nil {
				r.err = err
				return
			}
		}
	}
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
	if e := closeAll(r.incidents); err == nil {
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

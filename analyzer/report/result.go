package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/finack/finack/analyzer/gate"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
)

// Result is one capture of the run: its report and what the CI checks made of it.
type Result struct {
	Name    string   // the capture's name (captureNames): how baselines find it
	Files   []string // its files, as given (globs expanded)
	Doc     Document
	OpenErr error // it could not be opened

	Violations []gate.Violation // --fail-on rules that selected a kind
	Cmp        *gate.Comparison // --baseline comparison, when asked
	evidence   *connEvidence    // --export / --ladder: the packets of the connections with findings
}

// InputError is what makes the capture an input error (exit 2): it could not be
// opened, or reading stopped on damage.
func (r *Result) InputError() string {
	if r.OpenErr != nil {
		return r.OpenErr.Error()
	}
	return r.Doc.Error
}

// EmptyDocument stands for a capture that could not be opened.
func EmptyDocument(o Options, err error) Document {
	rep := analyzer.Report{Closes: analyzer.ShapeCounts[int](), Counts: analyzer.KindCounts[int]()}
	return NewDocument(o, capture.Stats{}, rep, err)
}

// WriteOutput renders the report in the format asked for: one capture's document as
// before, or with --separate one per capture and the total.
func WriteOutput(w io.Writer, o Options, results []*Result) error {
	if o.Output == "junit" {
		return writeJUnit(w, results)
	}
	if o.ASCII && o.Output == "text" {
		w = asciiWriter{w}
	}
	return writeOutput(w, o, results)
}

// writeOutput is WriteOutput but for JUnit.
func writeOutput(w io.Writer, o Options, results []*Result) error {
	if o.Separate {
		switch o.Output {
		case "json":
			return writeMultiJSON(w, results)
		case "ndjson":
			return writeMultiNDJSON(w, results)
		case "tsv":
			return writeMultiTSV(w, results)
		default:
			return writeMultiText(w, o, results)
		}
	}
	r := results[0]
	switch o.Output {
	case "json":
		return WriteJSON(w, r.Doc)
	case "ndjson":
		return WriteNDJSON(w, r.Doc)
	case "tsv":
		return WriteTSV(w, r.Doc)
	default:
		if err := WriteText(w, r.Doc, o.Connections, o.MaxFindings); err != nil {
			return err
		}
		return writeEvidenceText(w, o, r)
	}
}

// baselineDocument is the document as a baseline keeps it: files reduced to the
// capture's name, so a baseline written from another directory, or on another
// machine, is the same file; without what only this run has (--export, --states);
// its records and incidents those of -o json (of a run o that held its records,
// every finding grouped again: the text report's incidents leave some out).
func baselineDocument(r *Result, o Options) Document {
	d := r.Doc
	files := make([]string, len(r.Files))
	for i, f := range r.Files {
		files[i] = filepath.Base(f)
		if f == "-" {
			files[i] = "-"
		}
	}
	if len(files) > 0 && filepath.Base(r.Files[0]) != r.Name && r.Files[0] != "-" {
		files[0] = r.Name // names that collide keep their path
	}
	d.Summary.Files = files
	d.Export = nil
	d.View = nil
	d.Records, d.BaselineRecords = d.BaselineRecords, nil
	if d.Records == nil && o.Output != "json" && o.Output != "ndjson" {
		d.Incidents = Incidents(d.Findings, o.IgnoreVLAN) // (the run held its records)
	}
	return d
}

// WriteBaselineFile records the run's -o json report as a baseline: written beside
// the file path names first (through symbolic links: the links stay), then renamed
// to it, so that it is a whole report or as it was, with the permissions it had
// (0644 when new). A run that streamed its records writes them from
// Document.BaselineRecords.
func WriteBaselineFile(path string, o Options, results []*Result) error {
	if err := writeBaselineFile(path, o, results); err != nil {
		return fmt.Errorf("--write-baseline: %w", err)
	}
	return nil
}

func writeBaselineFile(path string, o Options, results []*Result) error {
	given := path
	path = symlinkTarget(path)
	mode := os.FileMode(0o644) // (CreateTemp makes it 0600: a baseline is shared, as the reports are)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm() // the file's, replaced
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = &os.PathError{Op: "open", Path: given, Err: pe.Err} // (the name the user gave)
		}
		return err
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // (gone once renamed)
	w := bufio.NewWriterSize(f, 64<<10)
	if o.Separate {
		rs := make([]*Result, len(results))
		for i, r := range results {
			c := *r
			c.Doc = baselineDocument(r, o)
			rs[i] = &c
		}
		err = writeMultiJSON(w, rs)
	} else {
		err = WriteJSON(w, baselineDocument(results[0], o))
	}
	if err == nil {
		err = w.Flush()
	}
	if e := f.Chmod(mode); err == nil {
		err = e
	}
	if e := f.Close(); err == nil {
		err = e
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// symlinkTarget is the file a path names through symbolic links (one that does
// not exist yet included), so that writing the baseline replaces that file and
// keeps the link; path itself when it is no link or the link cannot be read.
func symlinkTarget(path string) string {
	for range 40 { // (as the kernel's limit on links followed)
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path
		}
		to, err := os.Readlink(path)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return path
}

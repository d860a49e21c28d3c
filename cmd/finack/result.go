package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
)

// result is one capture of the run: its report and what the CI checks made of it.
type result struct {
	name    string   // the capture's name (captureNames): how baselines find it
	files   []string // its files, as given (globs expanded)
	doc     document
	openErr error // it could not be opened

	violations []violation   // --fail-on rules that selected a kind
	cmp        *comparison   // --baseline comparison, when asked
	evidence   *connEvidence // --export / --ladder: the packets of the connections with findings
}

// inputError is what makes the capture an input error (exit 2): it could not be
// opened, or reading stopped on damage.
func (r *result) inputError() string {
	if r.openErr != nil {
		return r.openErr.Error()
	}
	return r.doc.Error
}

// emptyDocument stands for a capture that could not be opened.
func emptyDocument(o Options, err error) document {
	rep := analyzer.Report{Closes: map[analyzer.Shape]int{}, Counts: map[analyzer.Kind]int{}}
	for _, s := range analyzer.Shapes {
		rep.Closes[s] = 0
	}
	for _, k := range analyzer.Kinds {
		rep.Counts[k] = 0
	}
	return newDocument(o, capture.Stats{}, rep, err)
}

// writeOutput renders the report in the format asked for: one capture's document as
// before, or with --separate one per capture and the total.
func writeOutput(w io.Writer, o Options, results []*result) error {
	if o.output == "junit" {
		return writeJUnit(w, results)
	}
	if o.separate {
		switch o.output {
		case "json":
			return writeMultiJSON(w, results)
		case "ndjson":
			return writeMultiNDJSON(w, results)
		default:
			return writeMultiText(w, o, results)
		}
	}
	r := results[0]
	switch o.output {
	case "json":
		return writeJSON(w, r.doc)
	case "ndjson":
		return writeNDJSON(w, r.doc)
	default:
		if err := writeText(w, r.doc, o.connections); err != nil {
			return err
		}
		return writeEvidenceText(w, o, r)
	}
}

// baselineDocument is the document as a baseline keeps it: files reduced to the
// capture's name, so a baseline written from another directory, or on another
// machine, is the same file; without what only this run has (--export, --states).
func baselineDocument(r *result) document {
	d := r.doc
	files := make([]string, len(r.files))
	for i, f := range r.files {
		files[i] = filepath.Base(f)
		if f == "-" {
			files[i] = "-"
		}
	}
	if len(files) > 0 && filepath.Base(r.files[0]) != r.name && r.files[0] != "-" {
		files[0] = r.name // names that collide keep their path
	}
	d.Summary.Files = files
	d.Export = nil
	d.view = nil
	return d
}

// writeBaselineFile records the run's -o json report as a baseline.
func writeBaselineFile(path string, separate bool, results []*result) error {
	var buf bytes.Buffer
	var err error
	if separate {
		rs := make([]*result, len(results))
		for i, r := range results {
			c := *r
			c.doc = baselineDocument(r)
			rs[i] = &c
		}
		err = writeMultiJSON(&buf, rs)
	} else {
		err = writeJSON(&buf, baselineDocument(results[0]))
	}
	if err == nil {
		err = os.WriteFile(path, buf.Bytes(), 0o644)
	}
	if err != nil {
		return fmt.Errorf("--write-baseline: %w", err)
	}
	return nil
}

package main

import (
	"bufio"
	"bytes"
	"errors"
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

// analyze reads every capture, renders the report, runs the CI checks (--fail-on,
// --baseline) and writes what was asked for (--export, --write-baseline). A damaged
// input still renders what was read before the damage. Exit code: 2 on any input
// error (stderr then holds one line per error and nothing else), else 1 when a check
// failed, else 0.
func analyze(o options, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return exitError
	}
	files, err := expandPatterns("-r", o.files)
	if err != nil {
		return fail(err)
	}
	if err := guardInputs(files, map[string]string{"--export": o.export, "--write-baseline": o.writeBaseline}); err != nil {
		return fail(err)
	}
	var bases []baseline
	if len(o.baselines) > 0 {
		if bases, err = loadBaselines(o.baselines); err != nil {
			return fail(err)
		}
	}
	groups := captureGroups(files, o.separate)
	names := captureNames(groups)
	results := make([]*result, len(groups))
	for i, g := range groups {
		one := o
		one.files = g
		r := &result{name: names[i], files: g}
		r.doc, _, err = readCapture(one)
		for _, w := range r.doc.warnings {
			fmt.Fprintf(stderr, "finack: %s\n", w)
		}
		if err != nil {
			var fe *capture.FilterError
			if errors.As(err, &fe) && !o.separate {
				return fail(err) // a usage error: no report
			}
			// Even a capture that cannot be opened gets its (empty) report, with
			// the error in it: -o json always parses.
			r.openErr = err
			r.doc = emptyDocument(one, err)
		}
		results[i] = r
	}
	if o.export != "" || o.ladder {
		if err := collectEvidence(o, results); err != nil {
			return fail(err)
		}
	}
	for _, r := range results {
		r.violations = failures(o.failRules, kindTotals(r.doc.Findings))
	}
	var unused []string
	if len(o.baselines) > 0 {
		var matched []*baseline
		matched, unused = matchBaselines(names, bases)
		for i, r := range results {
			c := compareBaseline(r.name, &r.doc, matched[i], o.tolerances)
			r.cmp = &c
		}
	}

	w := bufio.NewWriterSize(stdout, 64<<10)
	err = writeOutput(w, o, results)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fail(fmt.Errorf("writing the report: %w", err))
	}

	inputErrors := 0
	for _, r := range results {
		if e := r.inputError(); e != "" {
			fmt.Fprintf(stderr, "finack: %s\n", e)
			inputErrors++
		}
	}
	if inputErrors > 0 {
		// One line per input error is the contract of exit code 2: the checks
		// say nothing more, and no baseline is written from a damaged capture.
		return exitError
	}
	if o.writeBaseline != "" {
		if err := writeBaselineFile(o.writeBaseline, o.separate, results); err != nil {
			return fail(err)
		}
	}
	code := exitOK
	for _, r := range results {
		for _, v := range r.violations {
			fmt.Fprintf(stderr, "finack: %s: %s\n", capture.Printable(r.name), v)
			code = exitFinding
		}
	}
	for _, r := range results {
		if r.cmp == nil {
			continue
		}
		fmt.Fprint(stderr, r.cmp.text())
		if r.cmp.worse() {
			code = exitFinding
		}
	}
	for _, u := range unused {
		fmt.Fprintf(stderr, "finack: baseline: %s: no such capture in this run (not compared)\n", u)
	}
	return code
}

// emptyDocument stands for a capture that could not be opened.
func emptyDocument(o options, err error) document {
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
func writeOutput(w io.Writer, o options, results []*result) error {
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

// validateChecks parses and checks the flags of the CI checks.
func (o *options) validateChecks() error {
	var err error
	if o.failRules, err = parseFailOn(o.failOn); err != nil {
		return err
	}
	if o.tolerances, err = parseTolerances(o.tolerance); err != nil {
		return err
	}
	if len(o.tolerance) > 0 && len(o.baselines) == 0 {
		return errors.New("--tolerance: needs --baseline (it says how far each kind may grow over the baseline)")
	}
	if o.ladder && o.output != "text" {
		return fmt.Errorf("--ladder: draws text; use it with -o text, not -o %s", o.output)
	}
	return nil
}

// guardInputs refuses an output file that is one of the input captures: --export
// would truncate it before the second pass reads it again.
func guardInputs(inputs []string, outputs map[string]string) error {
	for _, flagName := range []string{"--export", "--write-baseline"} {
		out := outputs[flagName]
		if out == "" {
			continue
		}
		oi, err := os.Stat(out)
		if err != nil {
			continue // a new file
		}
		for _, in := range inputs {
			if ii, err := os.Stat(in); err == nil && os.SameFile(oi, ii) {
				return fmt.Errorf("%s: %s is one of the captures read (-r): it would be overwritten", flagName, out)
			}
		}
	}
	return nil
}

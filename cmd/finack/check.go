package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/finack/finack/capture"
)

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
		r.doc, _, err = readCapture(one.Options, one.readProgress())
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
			r.doc = emptyDocument(one.Options, err)
		}
		results[i] = r
	}
	if o.export != "" || o.ladder {
		if err := collectEvidence(o.Options, results); err != nil {
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
	err = writeOutput(w, o.Options, results)
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

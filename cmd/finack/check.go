package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/report/html"
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
		return pipeline.ExitError
	}
	files, skipped, err := capture.ExpandCaptures("-r", o.Files)
	if err != nil {
		return fail(err)
	}
	if w := capture.SkippedWarning("-r", skipped); w != "" {
		fmt.Fprintf(stderr, "finack: %s\n", w)
	}
	if err := guardInputs(files, map[string]string{"--export": o.Export, "--write-baseline": o.WriteBaseline, "--html": o.HTML}); err != nil {
		return fail(err)
	}
	if err := htmlDirOK(o.HTML); err != nil {
		return fail(err)
	}
	var bases []gate.Baseline
	if len(o.Baselines) > 0 {
		if bases, err = gate.LoadBaselines(o.Baselines); err != nil {
			return fail(err)
		}
	}
	groups := capture.Groups(files, o.Separate)
	names := capture.Names(groups)
	results := make([]*report.Result, len(groups))
	for i, g := range groups {
		one := o
		one.Files = g
		r := &report.Result{Name: names[i], Files: g}
		r.Doc, _, err = pipeline.ReadCapture(one.Options, one.readProgress())
		for _, w := range r.Doc.Warnings {
			fmt.Fprintf(stderr, "finack: %s\n", w)
		}
		if err != nil {
			var fe *capture.FilterError
			if errors.As(err, &fe) {
				if hint := globHint(o.Files, o.filterArgs); hint != "" {
					err = fmt.Errorf("%w; %s", err, hint)
				}
				if !o.Separate {
					return fail(err) // a usage error: no report
				}
			}
			// Even a capture that cannot be opened gets its (empty) report, with
			// the error in it: -o json always parses.
			r.OpenErr = err
			r.Doc = report.EmptyDocument(one.Options, err)
		}
		results[i] = r
	}
	if o.Export != "" || o.Ladder || o.HTML != "" {
		o.progress.Phase(phaseEvidence)
		if err := report.CollectEvidence(o.Options, results); err != nil {
			return fail(err)
		}
	}
	for _, r := range results {
		totals := r.Doc.KindTotals // (summed as the findings streamed)
		if totals == nil {
			totals = gate.KindTotals(r.Doc.Findings)
		}
		r.Violations = gate.Failures(o.FailRules, totals)
	}
	var unused []string
	if len(o.Baselines) > 0 {
		var matched []*gate.Baseline
		matched, unused = gate.MatchBaselines(names, bases)
		for i, r := range results {
			findings := r.Doc.Compared // (kept as the findings streamed)
			if findings == nil {
				findings = gate.FindingsOf(r.Doc.Findings)
			}
			c := gate.CompareBaseline(r.Name, gate.Run{Filter: r.Doc.Summary.Filter, TimeWaitSeconds: r.Doc.Summary.TimeWaitSeconds, Findings: findings}, matched[i], o.Tolerances)
			r.Cmp = &c
		}
	}

	o.progress.Phase(phaseWrite)
	w := bufio.NewWriterSize(stdout, 64<<10)
	err = report.WriteOutput(w, o.Options, results)
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return fail(fmt.Errorf("writing the report: %w", err))
	}

	if o.HTML != "" {
		o.progress.Phase(phaseHTML)
		if err := writeHTML(o.HTML, results); err != nil {
			return fail(err)
		}
	}

	inputErrors := 0
	for _, r := range results {
		if e := r.InputError(); e != "" {
			fmt.Fprintf(stderr, "finack: %s\n", e)
			inputErrors++
		}
	}
	if inputErrors > 0 {
		// One line per input error is the contract of exit code 2: the checks
		// say nothing more, and no baseline is written from a damaged capture.
		return pipeline.ExitError
	}
	if o.WriteBaseline != "" {
		if err := report.WriteBaselineFile(o.WriteBaseline, o.Options, results); err != nil {
			return fail(err)
		}
	}
	code := pipeline.ExitOK
	for _, r := range results {
		for _, v := range r.Violations {
			fmt.Fprintf(stderr, "finack: %s: %s\n", capture.Printable(r.Name), v)
			code = pipeline.ExitFinding
		}
	}
	for _, r := range results {
		if r.Cmp == nil {
			continue
		}
		fmt.Fprint(stderr, r.Cmp.Text())
		if r.Cmp.Worse() {
			code = pipeline.ExitFinding
		}
	}
	for _, u := range unused {
		fmt.Fprintf(stderr, "finack: baseline: %s: no such capture in this run (not compared)\n", u)
	}
	return code
}

// writeHTML writes the HTML report of each capture: to path, or with several
// captures (--separate) one page each, path with the capture's name before its
// extension.
func writeHTML(path string, results []*report.Result) error {
	for _, r := range results {
		p := path
		if len(results) > 1 {
			ext := filepath.Ext(path)
			p = strings.TrimSuffix(path, ext) + "-" + filepath.Base(r.Name) + ext
		}
		if err := html.WriteFile(p, r, html.Options{Version: version}); err != nil {
			return fmt.Errorf("--html %s: %w", p, err)
		}
	}
	return nil
}

// htmlDirOK checks that the directory --html writes in exists: known before
// reading, not after (the page is written last).
func htmlDirOK(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("--html %s: no directory %s to write it in", path, filepath.Dir(path))
	}
	return nil
}

// globHint explains a filter that did not compile when its words are files: the
// shell expanded an unquoted -r pattern (-r captures/*.pcap), so the files after the
// first became the BPF expression, as tcpdump would take them. They are not read as
// captures: a filter word that happens to be a file name must not change what is
// read. The hint suggests the quoted pattern, from the files' common directory and
// extension. "" when no word is a file.
func globHint(files, words []string) string {
	var named []string
	for _, w := range words {
		if fi, err := os.Stat(w); err == nil && !fi.IsDir() {
			named = append(named, w)
		}
	}
	if len(named) == 0 {
		return ""
	}
	all := append(append([]string(nil), files...), named...)
	dir, ext := filepath.Dir(all[0]), filepath.Ext(all[0])
	for _, f := range all[1:] {
		if filepath.Dir(f) != dir {
			dir = ""
		}
		if filepath.Ext(f) != ext {
			ext = ""
		}
	}
	pattern := "*" + ext
	if dir != "" && dir != "." {
		pattern = filepath.Join(dir, pattern)
	}
	return fmt.Sprintf("%s is a file: the shell expanded an unquoted -r pattern, its files after the first taken for the filter; quote the pattern (-r '%s') or give each file its own -r",
		capture.Printable(named[0]), capture.Printable(pattern))
}

// guardInputs refuses an output file that is one of the input captures: --export
// would truncate it before the second pass reads it again.
func guardInputs(inputs []string, outputs map[string]string) error {
	for _, flagName := range []string{"--export", "--write-baseline", "--html"} {
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

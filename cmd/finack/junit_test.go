package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/spill"

	"github.com/finack/finack/analyzer"
)

// TestJUnit writes -o junit for separate captures with --fail-on and a baseline,
// reads it back with encoding/xml (and writes it again: the same bytes), checks its
// cases, and validates it with xmllint against the JUnit schema in testdata.
func TestJUnit(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"client-close.pcap", "final-ack-dropped.pcap", "reuse-server-timewait.pcap"} {
		copyCapture(t, f, dir, f)
	}
	// The baseline of final-ack-dropped is a clean close: its findings are worse.
	copyCapture(t, "client-close.pcap.expected.json", dir, "base.json")
	data, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "damaged.pcap"), data[:len(data)-30], 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runIn(t, dir, "--separate", "-r", "client-close.pcap", "-r", "final-ack-dropped.pcap",
		"-r", "reuse-server-timewait.pcap", "-o", "junit", "--fail-on", "fin_retransmit>2,reuse_in_2msl>5")
	if code != pipeline.ExitFinding || !strings.Contains(errOut, "fin_retransmit total 3 > 2") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	doc := parseJUnit(t, out)
	kinds := len(analyzer.Kinds)
	if doc.Tests != 3*kinds || doc.Failures != 1 || doc.Errors != 0 || len(doc.Suites) != 3 {
		t.Fatalf("testsuites: %d tests, %d failures, %d errors, %d suites", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	s := doc.Suites[1]
	if s.Name != "final-ack-dropped.pcap" || s.Tests != kinds || s.Failures != 1 {
		t.Fatalf("suite %s: %d tests, %d failures", s.Name, s.Tests, s.Failures)
	}
	for _, c := range s.Cases {
		failed := c.Failure != nil
		if failed != (c.Name == "fin_retransmit") {
			t.Errorf("case %s: failed %v", c.Name, failed)
		}
		if c.Classname != "finack.final-ack-dropped_pcap" {
			t.Errorf("case %s: classname %q", c.Name, c.Classname)
		}
		if c.Name == "missing_final_ack" && (c.SystemOut == nil || !strings.Contains(c.SystemOut.Text, "10.77.0.1:42910 → 10.77.0.2:7077 #1  frames 10,11,12,13,14")) {
			t.Errorf("case missing_final_ack: output %+v", c.SystemOut)
		}
	}
	if f := s.Cases[2].Failure; f == nil || f.Message != "fin_retransmit total 3 > 2 (--fail-on fin_retransmit>2)" || !strings.Contains(f.Text, "retransmitted 3 time(s)") {
		t.Errorf("fin_retransmit failure %+v", f)
	}
	validateJUnit(t, out)

	// A baseline makes worse kinds fail; a damaged capture adds a "read" error case.
	out, _, code = runIn(t, dir, "-r", "final-ack-dropped.pcap", "--baseline", "base.json", "-o", "junit")
	doc = parseJUnit(t, out)
	if code != pipeline.ExitFinding || doc.Failures != 2 || !strings.Contains(doc.Suites[0].Cases[0].Failure.Message, "worse than the baseline base.json: 0 → 1 (total 3)") {
		t.Errorf("baseline: exit %d, %d failures, %+v", code, doc.Failures, doc.Suites[0].Cases[0].Failure)
	}
	validateJUnit(t, out)
	// Without --fail-on or --baseline every case passes, findings or not.
	out, _, code = runIn(t, dir, "-r", "final-ack-dropped.pcap", "-o", "junit")
	if doc = parseJUnit(t, out); code != pipeline.ExitOK || doc.Failures != 0 || doc.Tests != kinds {
		t.Errorf("no checks: exit %d, %d tests, %d failures", code, doc.Tests, doc.Failures)
	}
	out, _, code = runIn(t, dir, "-r", "damaged.pcap", "-o", "junit")
	doc = parseJUnit(t, out)
	if code != pipeline.ExitError || doc.Errors != 1 || doc.Suites[0].Cases[0].Name != "read" || !strings.Contains(doc.Suites[0].Cases[0].Error.Message, "frame 14") {
		t.Errorf("damaged: exit %d, %+v", code, doc.Suites[0].Cases[0])
	}
	validateJUnit(t, out)
}

// TestJUnitStreamedAsHeld: -o junit streams each kind's findings into its test
// case, sorted by kind on disk past the bound; the file is the one a run that holds
// every finding writes, on every committed capture, with --fail-on failing every
// kind with findings (their text written twice), with one worker and three, the
// findings in memory and in runs of 2.
func TestJUnitStreamedAsHeld(t *testing.T) {
	withFindings := 0
	for _, set := range captureSets(t) {
		args := []string{"-o", "junit", "--fail-on", "any"}
		for _, f := range set {
			args = append(args, "-r", f)
		}
		want, wantErr, wantCode := runTunedIn(t, pcapDir, func(o *options) { o.HoldRecords = true }, args...)
		if wantCode == pipeline.ExitFinding {
			withFindings++
		}
		for _, bound := range []spill.Options{{}, {MaxRecords: 2}} {
			for _, workers := range []string{"1", "3"} {
				a := append([]string{"--workers", workers}, args...)
				got, gotErr, code := runTunedIn(t, pcapDir, func(o *options) { o.Spill = bound }, a...)
				if got != want || gotErr != wantErr || code != wantCode {
					t.Errorf("finack %v (spill bound %+v): differs from the run that holds its findings (exit %d, want %d; stderr %q, want %q):\n%s",
						a, bound, code, wantCode, gotErr, wantErr, lineDiff(want, got))
				}
			}
		}
	}
	if withFindings < 10 {
		t.Errorf("only %d captures with findings", withFindings)
	}
}

// parseJUnit reads the report with encoding/xml and checks that writing it again
// gives the same bytes.
func parseJUnit(t *testing.T, out string) report.JunitSuites {
	t.Helper()
	var doc report.JunitSuites
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	var again bytes.Buffer
	doc.XMLName = xml.Name{}
	if err := report.WriteJUnitDoc(&again, doc); err != nil {
		t.Fatal(err)
	}
	if again.String() != out {
		t.Errorf("XML round trip differs:\n%s", lineDiff(out, again.String()))
	}
	return doc
}

// validateJUnit checks the report against testdata/junit.xsd with xmllint
// (libxml2-utils, installed by .ci/deps --test).
func validateJUnit(t *testing.T, out string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Log("xmllint not installed (apt-get install libxml2-utils): schema validation skipped")
		return
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("xmllint", "--noout", "--schema", "testdata/junit.xsd", path).CombinedOutput(); err != nil {
		t.Errorf("xmllint: %v\n%s", err, msg)
	}
}

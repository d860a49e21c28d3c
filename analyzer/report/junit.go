package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
)

// -o junit: one test suite per capture, one test case per finding kind (every kind,
// so a dashboard shows the same cases on every run). A case fails when a --fail-on
// rule selects its kind, or when the kind got worse than its --baseline; without
// either every case passes and the findings show as the case's output. A capture
// that could not be read to the end adds a case "read" with an <error>.
//
// The layout is the common one (Jenkins, GitLab, GitHub test-report actions):
// testsuites > testsuite > testcase with failure, error and system-out. No
// timestamps, host names or durations: the same captures give the same file.

type JunitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is an element's text as CDATA: the lines of a report stay lines in the
// file (escaped character data would turn every newline into &#xA;).
type junitText struct {
	Text string `xml:",cdata"`
}

func newJUnitText(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{xmlSafe(s)}
}

// xmlSafe replaces what XML 1.0 cannot hold even in CDATA (control characters but
// tab and newlines, invalid UTF-8) with U+FFFD, as encoding/xml does in attributes.
// Text that holds none is returned as it is (a kind's findings can be tens of
// megabytes).
func xmlSafe(s string) string {
	if xmlSafeAlready(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if xmlRuneOK(r) {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

func xmlRuneOK(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != utf8.RuneError && r != 0xFFFE && r != 0xFFFF)
}

// xmlSafeAlready says whether xmlSafe would leave s as it is: valid UTF-8 with no
// rune it replaces.
func xmlSafeAlready(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !xmlRuneOK(r) { // (U+FFFD too, written or for invalid UTF-8: the long way decides)
			return false
		}
		i += n
	}
	return true
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// junitClassname keeps dashboards from splitting a capture's name at its dots
// (they read the last dot as package.class).
func junitClassname(capture string) string {
	return "finack." + strings.ReplaceAll(capture, ".", "_")
}

func newJUnit(results []*Result) JunitSuites {
	all := JunitSuites{Name: "finack"}
	for _, r := range results {
		s := junitSuite{Name: r.Name}
		s.Properties = append(s.Properties, junitProperty{"files", strings.Join(r.Files, " ")})
		if f := r.Doc.Summary.Filter; f != "" {
			s.Properties = append(s.Properties, junitProperty{"filter", f})
		}
		s.Properties = append(s.Properties,
			junitProperty{"packets", fmt.Sprint(r.Doc.Summary.Packets)},
			junitProperty{"connections", fmt.Sprint(r.Doc.Summary.Connections)})
		if r.Cmp != nil && r.Cmp.File != "" {
			s.Properties = append(s.Properties, junitProperty{"baseline", r.Cmp.File})
		}
		class := junitClassname(r.Name)
		if e := r.InputError(); e != "" {
			s.Cases = append(s.Cases, junitCase{Name: "read", Classname: class,
				Error: &junitProblem{Message: e, Type: "input"}})
			s.Errors++
		}
		byKind := gate.FailedKinds(r.Violations)
		var worse map[analyzer.Kind]*gate.KindDiff
		if r.Cmp != nil {
			worse = r.Cmp.WorseKinds()
		}
		totals := gate.KindTotals(r.Doc.Findings)
		for _, k := range analyzer.Kinds {
			out := findingsText(r.Doc.Findings, k, totals[k])
			c := junitCase{Name: string(k), Classname: class, SystemOut: newJUnitText(out)}
			var why []string
			for _, v := range byKind[k] {
				why = append(why, v.String())
			}
			body := out
			if d := worse[k]; d != nil {
				why = append(why, fmt.Sprintf("worse than the baseline %s: %s → %s (tolerance %s)", r.Cmp.File, gate.TotalText(d.Was), gate.TotalText(d.Now), d.Tol))
				body += "baseline:\n" + strings.Join(d.Lines, "\n") + "\n"
			}
			if len(why) > 0 {
				c.Failure = &junitProblem{Message: strings.Join(why, "; "), Type: string(k), Text: xmlSafe(body)}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Errors += s.Errors
		all.Suites = append(all.Suites, s)
	}
	return all
}

// findingsText lists a kind's findings, one per line, as the text report does.
func findingsText(fs []analyzer.Finding, k analyzer.Kind, t gate.KindTotal) string {
	if t.Findings == 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(t.Findings * 200) // (a finding's line is 150 to 300 bytes)
	fmt.Fprintf(&b, "%d finding(s), total %d\n", t.Findings, t.Total)
	for i := range fs {
		if f := &fs[i]; f.Kind == k {
			fmt.Fprintf(&b, "%s → %s #%d%s  frames %s\n    %s\n", analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, analyzer.PlaceText(f.VLAN, f.Tunnel), FramesText(f.Frames), f.Message)
		}
	}
	return b.String()
}

func writeJUnit(w io.Writer, results []*Result) error {
	return WriteJUnitDoc(w, newJUnit(results))
}

// WriteJUnitDoc writes doc as xml.MarshalIndent(doc, "", "  ") gives it, after the
// XML header and before a newline, encoded as it is written (not whole in memory
// first).
func WriteJUnitDoc(w io.Writer, doc JunitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

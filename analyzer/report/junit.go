package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/spill"
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

// junitCasePlan is what one test case says, but the findings' lines: its name, why
// it failed ("" when it passed), the first line of its findings' text ("" when the
// kind has none) and what a worse baseline adds to the failure's text.
type junitCasePlan struct {
	name, why, head, baseline string
}

// junitSuitePlan is a capture's test suite without the findings' lines (they stream
// from the report's records, or its findings, as the file is written).
type junitSuitePlan struct {
	name, class           string
	props                 []junitProperty
	readError             string // the "read" case's <error>, "" for none
	cases                 []junitCasePlan
	tests, failures, errs int
}

// planJUnit works out every suite and case of the file, but the findings' lines:
// the counts the elements' attributes give come before the lines.
func planJUnit(results []*Result) (suites []junitSuitePlan, tests, failures, errs int) {
	for _, r := range results {
		s := junitSuitePlan{name: r.Name, class: junitClassname(r.Name)}
		s.props = append(s.props, junitProperty{"files", strings.Join(r.Files, " ")})
		if f := r.Doc.Summary.Filter; f != "" {
			s.props = append(s.props, junitProperty{"filter", f})
		}
		s.props = append(s.props,
			junitProperty{"packets", fmt.Sprint(r.Doc.Summary.Packets)},
			junitProperty{"connections", fmt.Sprint(r.Doc.Summary.Connections)})
		if r.Cmp != nil && r.Cmp.File != "" {
			s.props = append(s.props, junitProperty{"baseline", r.Cmp.File})
		}
		if e := r.InputError(); e != "" {
			s.readError = e
			s.tests++
			s.errs++
		}
		byKind := gate.FailedKinds(r.Violations)
		var worse map[analyzer.Kind]*gate.KindDiff
		if r.Cmp != nil {
			worse = r.Cmp.WorseKinds()
		}
		totals := r.Doc.KindTotals // (summed as the findings streamed)
		if totals == nil {
			totals = gate.KindTotals(r.Doc.Findings)
		}
		for _, k := range analyzer.Kinds {
			c := junitCasePlan{name: string(k)}
			if t := totals[k]; t.Findings > 0 {
				c.head = fmt.Sprintf("%d finding(s), total %d\n", t.Findings, t.Total)
			}
			var why []string
			for _, v := range byKind[k] {
				why = append(why, v.String())
			}
			if d := worse[k]; d != nil {
				why = append(why, fmt.Sprintf("worse than the baseline %s: %s → %s (tolerance %s)", r.Cmp.File, gate.TotalText(d.Was), gate.TotalText(d.Now), d.Tol))
				c.baseline = "baseline:\n" + strings.Join(d.Lines, "\n") + "\n"
			}
			if len(why) > 0 {
				c.why = strings.Join(why, "; ")
				s.failures++
			}
			s.cases = append(s.cases, c)
			s.tests++
		}
		tests += s.tests
		failures += s.failures
		errs += s.errs
		suites = append(suites, s)
	}
	return suites, tests, failures, errs
}

// appendFindingJUnit appends a finding's lines in its kind's text, as the text
// report lists it but for the kind: "%s → %s #%d%s  frames %s\n    %s\n" of the
// client, server, incarnation, analyzer.PlaceText(VLAN, Tunnel), frames and
// message.
func appendFindingJUnit(dst []byte, f *analyzer.Finding) ([]byte, error) {
	dst = appendIncarnationText(dst, f.Client, f.Server, f.Incarnation, f.VLAN, nil, f.Tunnel)
	dst = append(dst, "  frames "...)
	dst = appendFrames(dst, f.Frames)
	dst = append(dst, "\n    "...)
	dst = append(dst, f.Message...)
	return append(dst, '\n'), nil
}

// junitFindingKey sorts the findings of -o junit: by kind (its place in
// analyzer.Kinds, the order of the cases), then as the report lists them (time,
// first frame: one kind's).
func junitFindingKey(f *analyzer.Finding) spill.Key {
	k := analyzer.FindingKey(f)
	return spill.Key{uint64(kindIndex(f.Kind)), k[0], k[1]}
}

// kindIndex is k's place in analyzer.Kinds (len(analyzer.Kinds) for one not
// listed: after every case, where writeJUnitSuite refuses it).
func kindIndex(k analyzer.Kind) int {
	for i, kk := range analyzer.Kinds {
		if kk == k {
			return i
		}
	}
	return len(analyzer.Kinds)
}

// junitLines hands out a capture's findings as -o junit lists them: each
// finding's lines (appendFindingJUnit) with its kind's place in analyzer.Kinds,
// kind after kind, each kind's in report order.
func junitLines(d *Document, fn func(kind int, line []byte) error) error {
	if d.Records != nil {
		return d.Records.findingsKeyed(func(k *spill.Key, b []byte) error { return fn(int(k[0]), b) })
	}
	var line []byte
	for i, k := range analyzer.Kinds {
		for j := range d.Findings {
			if f := &d.Findings[j]; f.Kind == k {
				line, _ = appendFindingJUnit(line[:0], f)
				if err := fn(i, line); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// writeJUnit writes the file as WriteJUnitDoc writes the JunitSuites that hold
// every text (junit_test.go compares the two), with the findings' lines streamed:
// a kind can have millions.
func writeJUnit(w io.Writer, results []*Result) error {
	suites, tests, failures, errs := planJUnit(results)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(xml.Header)
	bw.WriteString(`<testsuites name="finack"`)
	writeIntAttrs(bw, tests, failures, errs)
	if len(suites) == 0 {
		bw.WriteString("></testsuites>\n")
		return bw.Flush()
	}
	bw.WriteString(">")
	for i := range suites {
		if err := writeJUnitSuite(bw, &suites[i], results[i]); err != nil {
			return err
		}
	}
	bw.WriteString("\n</testsuites>\n")
	return bw.Flush()
}

// writeIntAttrs writes the tests, failures and errors attributes.
func writeIntAttrs(w *bufio.Writer, tests, failures, errs int) {
	fmt.Fprintf(w, ` tests="%d" failures="%d" errors="%d"`, tests, failures, errs)
}

// writeAttr writes ` name="value"`, the value escaped as encoding/xml escapes an
// attribute's.
func writeAttr(w *bufio.Writer, name, value string) {
	w.WriteByte(' ')
	w.WriteString(name)
	w.WriteString(`="`)
	xmlEscapeAttr(w, value)
	w.WriteByte('"')
}

// xmlEscapeAttr writes s as encoding/xml's printer.EscapeString does: the five
// markup characters, tab and line ends as references, what XML cannot hold (and
// invalid UTF-8) as U+FFFD.
func xmlEscapeAttr(w *bufio.Writer, s string) {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		i += width
		var esc string
		switch r {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			if !xmlInCharacterRange(r) || (r == utf8.RuneError && width == 1) {
				esc = "\uFFFD"
				break
			}
			continue
		}
		w.WriteString(s[last : i-width])
		w.WriteString(esc)
		last = i
	}
	w.WriteString(s[last:])
}

// xmlInCharacterRange is encoding/xml's isInCharacterRange: the characters XML 1.0
// allows.
func xmlInCharacterRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// junitSpoolMemory: what a failed case's lines take in memory before they go to a
// temporary file (a var, for the tests).
var junitSpoolMemory = 1 << 20

// appendCDATA appends text s as encoding/xml's emitCDATA writes it, after xmlSafe,
// inside a CDATA section: each "]]>" split over two sections. A text appended in
// parts that each end in a newline comes out as the text whole would: neither a
// "]]>" nor a run of invalid UTF-8 (one U+FFFD) spans a newline.
func appendCDATA(dst []byte, s string) []byte {
	s = xmlSafe(s)
	for {
		before, after, ok := strings.Cut(s, "]]>")
		if !ok {
			break
		}
		dst = append(dst, before...)
		dst = append(dst, "]]]]><![CDATA[>"...)
		s = after
	}
	return append(dst, s...)
}

// writeJUnitSuite writes one capture's test suite, its findings' lines streamed
// into the cases. A failed case's text is its output too: its lines are kept (a
// spill.Spool) until the failure's text is written, then written again.
func writeJUnitSuite(w *bufio.Writer, s *junitSuitePlan, r *Result) error {
	w.WriteString("\n  <testsuite")
	writeAttr(w, "name", s.name)
	writeIntAttrs(w, s.tests, s.failures, s.errs)
	w.WriteString(">\n    <properties>")
	for _, p := range s.props {
		w.WriteString("\n      <property")
		writeAttr(w, "name", p.Name)
		writeAttr(w, "value", p.Value)
		w.WriteString("></property>")
	}
	w.WriteString("\n    </properties>")
	if s.readError != "" {
		w.WriteString("\n    <testcase")
		writeAttr(w, "name", "read")
		writeAttr(w, "classname", s.class)
		w.WriteString(">\n      <error")
		writeAttr(w, "message", s.readError)
		writeAttr(w, "type", "input")
		w.WriteString("></error>\n    </testcase>")
	}
	// The lines of the open case when it failed, for its output.
	again := spill.Spool{Memory: junitSpoolMemory}
	defer func() { _ = again.Close() }() // (read back already, or the error is told)
	var buf []byte
	start := func(c *junitCasePlan) {
		w.WriteString("\n    <testcase")
		writeAttr(w, "name", c.name)
		writeAttr(w, "classname", s.class)
		w.WriteString(">")
		switch {
		case c.why != "":
			w.WriteString("\n      <failure")
			writeAttr(w, "message", c.why)
			writeAttr(w, "type", c.name)
			w.WriteString(">")
			if c.head != "" || c.baseline != "" {
				w.WriteString("<![CDATA[")
			}
		case c.head != "":
			w.WriteString("\n      <system-out><![CDATA[")
		}
		buf = appendCDATA(buf[:0], c.head)
		w.Write(buf)
		again.Reset()
	}
	finish := func(c *junitCasePlan) error {
		if c.why != "" {
			buf = appendCDATA(buf[:0], c.baseline)
			w.Write(buf)
			if c.head != "" || c.baseline != "" {
				w.WriteString("]]>")
			}
			w.WriteString("</failure>")
			if c.head != "" {
				w.WriteString("\n      <system-out><![CDATA[")
				buf = appendCDATA(buf[:0], c.head)
				w.Write(buf)
				if err := again.CopyTo(w); err != nil {
					return err
				}
			}
		}
		if c.head != "" {
			w.WriteString("]]></system-out>")
		}
		if c.why != "" || c.head != "" {
			w.WriteString("\n    ")
		}
		w.WriteString("</testcase>")
		return nil
	}
	open := -1 // the case being written
	advance := func(k int) error {
		for open < k {
			if open >= 0 {
				if err := finish(&s.cases[open]); err != nil {
					return err
				}
			}
			open++
			start(&s.cases[open])
		}
		return nil
	}
	err := junitLines(&r.Doc, func(k int, line []byte) error {
		if k < open || k >= len(s.cases) || s.cases[k].head == "" {
			return fmt.Errorf("-o junit: %s: a finding out of the order of its kinds", s.name)
		}
		if err := advance(k); err != nil {
			return err
		}
		buf = appendCDATA(buf[:0], string(line))
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if s.cases[k].why != "" {
			return again.Write(buf)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := advance(len(s.cases) - 1); err != nil {
		return err
	}
	if err := finish(&s.cases[open]); err != nil {
		return err
	}
	w.WriteString("\n  </testsuite>")
	return nil
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

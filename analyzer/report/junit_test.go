package report

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/spill"
)

// TestJUnitWriter: writeJUnit, which streams each kind's findings into its test
// case, writes what encoding/xml writes for the JunitSuites that hold every text
// (referenceJUnit, WriteJUnitDoc): with the findings in the Document and streamed
// from Recorders (several, their sorts in memory and on disk; a failed kind's
// output kept in memory and in a file), on random captures: names, files, filters
// and messages with markup characters, "]]>", control characters and invalid UTF-8;
// --fail-on rules that fail some kinds; captures that could not be read.
func TestJUnitWriter(t *testing.T) {
	defer func(m int) { junitSpoolMemory = m }(junitSpoolMemory)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the spool's files
	rng := rand.New(rand.NewPCG(7, 11))
	texts := []string{"plain", "a & b < c > d \"q\" 'a'", "]]>", "x]]>y]]]>>", "tab\there\r\nnext", "nul\x00 esc\x1b", "bad \xff\xfe utf-8",
		"é → ✓", "\ufffd\uffff", "line\n    indented", ""}
	text := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(3) {
			b.WriteString(texts[rng.IntN(len(texts))])
		}
		return b.String()
	}
	ruleSets := [][]string{nil, {"any"}, {"fin_retransmit>2", "reuse_in_2msl"}, {"any>3"}, {"missing_final_ack", "stale_segment"}}
	for round := range 60 {
		junitSpoolMemory = []int{1 << 20, 64, 1}[round%3]
		var results []*Result
		var streamed []*Result
		for c := range 1 + rng.IntN(3) {
			var fs []analyzer.Finding
			for i := range rng.IntN([]int{0, 5, 40, 300}[rng.IntN(4)] + 1) {
				n := uint64(rng.IntN(4))
				f := analyzer.Finding{
					Kind:        analyzer.Kinds[rng.IntN(len(analyzer.Kinds))],
					Client:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(3))}), uint16(rng.IntN(3))),
					Server:      netip.MustParseAddrPort("[2001:db8::1]:80"),
					Incarnation: 1 + rng.IntN(3),
					Time:        time.Unix(int64(rng.IntN(5)), int64(rng.IntN(2))).UTC(),
					Frames:      []uint64{uint64(rng.IntN(4)), uint64(i)},
					Message:     text(),
				}
				if rng.IntN(3) == 0 {
					f.Count = &n
				}
				if rng.IntN(4) == 0 {
					f.VLAN = []uint16{uint16(rng.IntN(4095))}
				}
				if rng.IntN(4) == 0 {
					f.Tunnel = "vxlan vni 7"
				}
				fs = append(fs, f)
			}
			// As the Streams of two workers would keep them, merged.
			parts := make([]analyzer.Report, 1+rng.IntN(3))
			share := spill.Options{Dir: t.TempDir(), MaxRecords: []int{1 << 15, 3}[rng.IntN(2)]}.Share(len(parts))
			recs := make([]*Recorder, len(parts))
			for i := range recs {
				recs[i] = NewRecorder(Options{Output: "junit"}, share)
			}
			for _, f := range fs {
				p := rng.IntN(len(parts))
				parts[p].Findings = append(parts[p].Findings, f)
				recs[p].Add(nil, []analyzer.Finding{f})
			}
			for i := range parts {
				analyzer.SortFindings(parts[i].Findings)
			}
			all := analyzer.Merge(parts).Findings
			r := &Result{Name: fmt.Sprintf("c%d-%s.pcap", c, text()), Files: []string{text(), "b.pcap"}}
			r.Doc.Findings = all
			r.Doc.Summary.Filter = text()
			r.Doc.Summary.Packets = uint64(rng.IntN(1000))
			r.Doc.Summary.Connections = rng.IntN(100)
			switch rng.IntN(5) {
			case 0:
				r.Doc.Error = "frame 14: " + text()
			case 1:
				r.OpenErr = errors.New("open: " + text())
			}
			rules, err := gate.ParseFailOn(ruleSets[rng.IntN(len(ruleSets))])
			if err != nil {
				t.Fatal(err)
			}
			r.Violations = gate.Failures(rules, gate.KindTotals(all))
			if rng.IntN(3) == 0 {
				// No baseline: every kind with findings is worse, each listed.
				cmp := gate.CompareBaseline(r.Name, gate.Run{Findings: gate.FindingsOf(all)}, nil, nil)
				r.Cmp = &cmp
			}
			results = append(results, r)
			s := *r
			s.Doc.Findings = nil
			s.Doc.KindTotals = gate.KindTotals(all)
			s.Doc.Records = MergeRecords(recs)
			streamed = append(streamed, &s)
		}
		var want bytes.Buffer
		if err := WriteJUnitDoc(&want, referenceJUnit(results)); err != nil {
			t.Fatal(err)
		}
		for name, rs := range map[string][]*Result{"held": results, "streamed": streamed} {
			var got bytes.Buffer
			if err := writeJUnit(&got, rs); err != nil {
				t.Fatalf("round %d, %s: %v", round, name, err)
			}
			if got.String() != want.String() {
				g, w := got.String(), want.String()
				i := 0
				for i < len(g) && i < len(w) && g[i] == w[i] {
					i++
				}
				t.Fatalf("round %d, %s: differs at byte %d:\ngot  %q\nwant %q", round, name, i, g[max(i-80, 0):min(i+80, len(g))], w[max(i-80, 0):min(i+80, len(w))])
			}
		}
	}
	noFilesLeft(t, tmp)
}

// referenceJUnit is the file as JunitSuites, every text in it (what writeJUnit
// wrote before it streamed them): encoding/xml writes it (WriteJUnitDoc).
func referenceJUnit(results []*Result) JunitSuites {
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
			out := referenceFindingsText(r.Doc.Findings, k, totals[k])
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

// referenceFindingsText lists a kind's findings, one per line, with fmt.
func referenceFindingsText(fs []analyzer.Finding, k analyzer.Kind, t gate.KindTotal) string {
	if t.Findings == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d finding(s), total %d\n", t.Findings, t.Total)
	for i := range fs {
		if f := &fs[i]; f.Kind == k {
			fmt.Fprintf(&b, "%s → %s #%d%s  frames %s\n    %s\n", analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, analyzer.PlaceText(f.VLAN, f.Tunnel), FramesText(f.Frames), f.Message)
		}
	}
	return b.String()
}

// TestXMLSafe: xmlSafe gives what replacing every rune XML cannot hold does
// (xmlSafeSlow, below), on table cases and on random bytes, and returns text that
// holds none as it is.
func TestXMLSafe(t *testing.T) {
	cases := []string{"", "plain", "tab\tnew\nline\rcr", "a\x00b", "\x1f", "\x7f", "é → ✓", "bad \xff utf-8", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xed\xa0\x80", "end\xe2\x86"}
	rng := rand.New(rand.NewPCG(3, 5))
	alphabet := []byte("ab \t\n\r\x00\x01\x7f\xc3\xa9\xe2\x86\x92\xef\xbf\xbd\xbe\xff\x80")
	for range 5000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	if got := xmlSafe("a\x1b[31mb\tc\n\xff\u00e9"); got != "a\uFFFD[31mb\tc\n\uFFFDé" {
		t.Errorf("xmlSafe: %q", got)
	}
	for _, s := range cases {
		got, want := xmlSafe(s), xmlSafeSlow(s)
		if got != want {
			t.Fatalf("xmlSafe(%q) = %q, want %q", s, got, want)
		}
		if xmlSafeAlready(s) && got != s {
			t.Fatalf("xmlSafe(%q) changed text it says needs no change", s)
		}
	}
	if !xmlSafeAlready("findings → fine\n\ttabbed") || xmlSafeAlready("nul\x00") || xmlSafeAlready("\xff") {
		t.Error("xmlSafeAlready misjudges plain text, a NUL or invalid UTF-8")
	}
}

func xmlSafeSlow(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != utf8.RuneError && r != 0xFFFE && r != 0xFFFF) {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

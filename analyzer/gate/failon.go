package gate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/finack/finack/analyzer"
)

// Rule is one term of --fail-on: "KIND" (fail on any finding of the kind),
// "KIND>N" (fail when the kind's total exceeds N), "any" or "any>N" (the same for
// every kind). A kind may be narrowed to the findings of one cause, outcome or
// verdict, "KIND:VALUE", or to all the others, "KIND:!VALUE"
// (fin_retransmit:!fin_on_ack leaves out FreeBSD/macOS FIN copies), threshold
// after it: "KIND:!VALUE>N".
type Rule struct {
	term string        // as given, for messages
	kind analyzer.Kind // "" = any kind
	// qual: only the findings whose cause, outcome or verdict is qual, or with
	// notQual all the others ("" = every finding of the kind).
	qual    string
	notQual bool
	// threshold applies when hasThreshold: the run fails when the kind's total is
	// above it. Without one, a single finding fails the run, even one whose count is 0.
	threshold    uint64
	hasThreshold bool
}

// ParseFailOn parses the --fail-on terms (pflag has already split on commas).
func ParseFailOn(terms []string) ([]Rule, error) {
	var rules []Rule
	for _, term := range terms {
		term = strings.TrimSpace(term)
		r := Rule{term: term}
		name := term
		if i := strings.IndexByte(term, '>'); i >= 0 {
			name = strings.TrimSpace(term[:i])
			n, err := strconv.ParseUint(strings.TrimSpace(term[i+1:]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--fail-on: %q: the threshold after > must be a whole number (e.g. fin_retransmit>3)", term)
			}
			r.threshold, r.hasThreshold = n, true
		}
		if i := strings.IndexByte(name, ':'); i >= 0 {
			r.qual = strings.TrimSpace(name[i+1:])
			name = strings.TrimSpace(name[:i])
			r.qual, r.notQual = strings.CutPrefix(r.qual, "!")
			if name == "any" || r.qual == "" || !knownQual(r.qual) {
				return nil, fmt.Errorf("--fail-on: %q: after KIND: comes a cause, outcome or verdict of that kind, ! before it to leave it out (e.g. fin_retransmit:!fin_on_ack; want one of %s)", term, strings.Join(qualValues, ", "))
			}
		}
		if name != "any" {
			if !knownKind(name) {
				return nil, fmt.Errorf("--fail-on: unknown finding kind %q (want any or one of %s)", name, KindList())
			}
			r.kind = analyzer.Kind(name)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// qualValues lists what KIND:VALUE may name: the causes, outcomes and verdicts.
var qualValues = func() []string {
	var v []string
	for _, c := range analyzer.Causes {
		v = append(v, string(c))
	}
	for _, o := range analyzer.Outcomes {
		v = append(v, string(o))
	}
	for _, x := range analyzer.Verdicts {
		v = append(v, string(x))
	}
	return v
}()

func knownQual(q string) bool {
	for _, v := range qualValues {
		if v == q {
			return true
		}
	}
	return false
}

// KindTotal is what a finding kind amounts to in one capture.
type KindTotal struct {
	Findings int    // findings of the kind
	Total    uint64 // sum of count over them; a finding without a count counts 1
	// By: the same, per cause, outcome and verdict of the findings (nil when none).
	By map[string]KindTotal
}

// Add counts one finding of the kind.
func (t *KindTotal) Add(f *analyzer.Finding) {
	n := uint64(1) // a finding without a count counts 1
	if f.Count != nil {
		n = *f.Count
	}
	t.add(n, f.Cause, f.Outcome, f.Verdict)
}

// add counts one finding of the kind that counts for n, with its cause, outcome
// and verdict.
func (t *KindTotal) add(n uint64, cause analyzer.Cause, outcome analyzer.Outcome, verdict analyzer.Verdict) {
	t.Findings++
	t.Total += n
	for _, q := range [3]string{string(cause), string(outcome), string(verdict)} {
		if q == "" {
			continue
		}
		if t.By == nil {
			t.By = map[string]KindTotal{}
		}
		b := t.By[q]
		b.Findings++
		b.Total += n
		t.By[q] = b
	}
}

// selected is the part of the kind's total a rule looks at.
func (r Rule) selected(t KindTotal) KindTotal {
	if r.qual == "" {
		return KindTotal{Findings: t.Findings, Total: t.Total}
	}
	b := t.By[r.qual]
	if r.notQual {
		return KindTotal{Findings: t.Findings - b.Findings, Total: t.Total - b.Total}
	}
	return KindTotal{Findings: b.Findings, Total: b.Total}
}

// KindTotals sums the findings of each kind; every kind is present.
func KindTotals(findings []analyzer.Finding) map[analyzer.Kind]KindTotal {
	m := analyzer.KindCounts[KindTotal]()
	AddFindings(m, findings)
	return m
}

// totalsOf is KindTotals of what a comparison keeps of the findings.
func totalsOf(findings []*Finding) map[analyzer.Kind]KindTotal {
	m := analyzer.KindCounts[KindTotal]()
	for _, f := range findings {
		t := m[f.Kind]
		t.add(f.value(), f.Cause, f.Outcome, f.Verdict)
		m[f.Kind] = t
	}
	return m
}

// AddFindings adds each finding of fs to its kind's total in m (made by
// analyzer.KindCounts, or KindTotals): the totals of a run whose findings are not
// kept, summed as the analysis hands them out.
func AddFindings(m map[analyzer.Kind]KindTotal, fs []analyzer.Finding) {
	for i := range fs {
		f := &fs[i]
		t := m[f.Kind]
		t.Add(f)
		m[f.Kind] = t
	}
}

// MergeTotals sums the totals of several parts of one run (the workers'), each
// made by analyzer.KindCounts; every kind is present.
func MergeTotals(parts []map[analyzer.Kind]KindTotal) map[analyzer.Kind]KindTotal {
	m := analyzer.KindCounts[KindTotal]()
	for _, p := range parts {
		for k, t := range p {
			s := m[k]
			s.Findings += t.Findings
			s.Total += t.Total
			for q, b := range t.By {
				if s.By == nil {
					s.By = map[string]KindTotal{}
				}
				sb := s.By[q]
				sb.Findings += b.Findings
				sb.Total += b.Total
				s.By[q] = sb
			}
			m[k] = s
		}
	}
	return m
}

// Violation is a --fail-on rule that selected a kind.
type Violation struct {
	rule Rule
	Kind analyzer.Kind
	got  KindTotal
}

func (v Violation) String() string {
	if v.rule.hasThreshold {
		return fmt.Sprintf("%s total %d > %d (--fail-on %s)", v.Kind, v.got.Total, v.rule.threshold, v.rule.term)
	}
	return fmt.Sprintf("%s: %d finding(s) (--fail-on %s)", v.Kind, v.got.Findings, v.rule.term)
}

// Failures returns, in rule order then kind order, every (rule, kind) that fails.
func Failures(rules []Rule, totals map[analyzer.Kind]KindTotal) []Violation {
	var out []Violation
	for _, r := range rules {
		kinds := analyzer.Kinds
		if r.kind != "" {
			kinds = []analyzer.Kind{r.kind}
		}
		for _, k := range kinds {
			t := r.selected(totals[k])
			if (r.hasThreshold && t.Total > r.threshold) || (!r.hasThreshold && t.Findings > 0) {
				out = append(out, Violation{r, k, t})
			}
		}
	}
	return out
}

// FailedKinds is the set of kinds some rule selected.
func FailedKinds(vs []Violation) map[analyzer.Kind][]Violation {
	m := map[analyzer.Kind][]Violation{}
	for _, v := range vs {
		m[v.Kind] = append(m[v.Kind], v)
	}
	return m
}

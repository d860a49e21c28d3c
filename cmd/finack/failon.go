package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/finack/finack/analyzer"
)

// failRule is one term of --fail-on: "KIND" (fail on any finding of the kind),
// "KIND>N" (fail when the kind's total exceeds N), "any" or "any>N" (the same for
// every kind).
type failRule struct {
	term string        // as given, for messages
	kind analyzer.Kind // "" = any kind
	// threshold applies when hasThreshold: the run fails when the kind's total is
	// above it. Without one, a single finding fails the run, even one whose count is 0.
	threshold    uint64
	hasThreshold bool
}

// parseFailOn parses the --fail-on terms (pflag has already split on commas).
func parseFailOn(terms []string) ([]failRule, error) {
	var rules []failRule
	for _, term := range terms {
		term = strings.TrimSpace(term)
		r := failRule{term: term}
		name := term
		if i := strings.IndexByte(term, '>'); i >= 0 {
			name = strings.TrimSpace(term[:i])
			n, err := strconv.ParseUint(strings.TrimSpace(term[i+1:]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("--fail-on: %q: the threshold after > must be a whole number (e.g. fin_retransmit>3)", term)
			}
			r.threshold, r.hasThreshold = n, true
		}
		if name != "any" {
			if !knownKind(name) {
				return nil, fmt.Errorf("--fail-on: unknown finding kind %q (want any or one of %s)", name, kindList())
			}
			r.kind = analyzer.Kind(name)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// kindTotal is what a finding kind amounts to in one capture.
type kindTotal struct {
	Findings int    // findings of the kind
	Total    uint64 // sum of count over them; a finding without a count counts 1
}

// kindTotals sums the findings of each kind; every kind is present.
func kindTotals(findings []analyzer.Finding) map[analyzer.Kind]kindTotal {
	m := make(map[analyzer.Kind]kindTotal, len(analyzer.Kinds))
	for _, k := range analyzer.Kinds {
		m[k] = kindTotal{}
	}
	for i := range findings {
		f := &findings[i]
		t := m[f.Kind]
		t.Findings++
		if f.Count != nil {
			t.Total += *f.Count
		} else {
			t.Total++
		}
		m[f.Kind] = t
	}
	return m
}

// violation is a --fail-on rule that selected a kind.
type violation struct {
	rule failRule
	kind analyzer.Kind
	got  kindTotal
}

func (v violation) String() string {
	if v.rule.hasThreshold {
		return fmt.Sprintf("%s total %d > %d (--fail-on %s)", v.kind, v.got.Total, v.rule.threshold, v.rule.term)
	}
	return fmt.Sprintf("%s: %d finding(s) (--fail-on %s)", v.kind, v.got.Findings, v.rule.term)
}

// failures returns, in rule order then kind order, every (rule, kind) that fails.
func failures(rules []failRule, totals map[analyzer.Kind]kindTotal) []violation {
	var out []violation
	for _, r := range rules {
		kinds := analyzer.Kinds
		if r.kind != "" {
			kinds = []analyzer.Kind{r.kind}
		}
		for _, k := range kinds {
			t := totals[k]
			if (r.hasThreshold && t.Total > r.threshold) || (!r.hasThreshold && t.Findings > 0) {
				out = append(out, violation{r, k, t})
			}
		}
	}
	return out
}

// failedKinds is the set of kinds some rule selected.
func failedKinds(vs []violation) map[analyzer.Kind][]violation {
	m := map[analyzer.Kind][]violation{}
	for _, v := range vs {
		m[v.kind] = append(m[v.kind], v)
	}
	return m
}

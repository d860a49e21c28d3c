// Package gate decides whether a run passes a CI check: --fail-on rules (a finding
// kind occurred, or its total passed a bound) and the comparison with a saved
// report (baseline), within per-kind tolerances. It reads findings only, not the
// report's document, so package report can show its verdicts.
package gate

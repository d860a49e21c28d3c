// Package report is what finack prints about a capture: the Document (summary,
// findings, connections) and its writers (JSON, NDJSON, text, TSV, JUnit XML), the
// Recorder that takes the analysis's records (an analyzer.Sink), encodes them as
// they are printed and sorts them on disk, the
// --states view, the --separate report of several captures, and the evidence of
// the connections with findings (the --export file and the --ladder diagrams).
// Options are what a run was asked for; Result is one capture's document with the
// verdicts of package gate.
package report

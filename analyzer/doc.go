// Package analyzer turns what package reassembly saw into what a person asks about a
// capture's closes: the close shape and active closer of every incarnation, who holds
// TIME_WAIT and until when, and the findings defined in docs/findings.md (missing final
// ACK, first FIN never acknowledged, FIN retransmits, reuse within 2MSL). One rule,
// one file. Everything is decided on capture time, so a capture always gives the same
// report.
package analyzer

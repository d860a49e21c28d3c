// Package pipeline runs the analysis of a capture: files are read and decoded, the
// segments shared out among tracker workers by 4-tuple, each incarnation analysed
// once nothing can change it, the reports merged (ReadCapture, TrackAll). LiveRun is
// the live engine: one tracker on an interface's packets, findings printed as
// provisional while their connection is tracked and as final once it is done, the
// report at the stop.
package pipeline

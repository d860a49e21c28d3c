package pipeline

import (
	"github.com/finack/finack/capture/synth"
	"testing"
)

// pcapDir holds the committed captures the tests read.
const pcapDir = "../../testdata/pcaps"

// version is the build version the tests give the metrics server.
const version = "dev"

// committedCaptures lists the captures in pcapDir, each as the paths that make it up:
// one file, or the pieces of a rotated set (NAME.pcap0, NAME.pcap1, ...) in order.
// Its report is the first path's NAME.expected.json.
func committedCaptures(t testing.TB) [][]string {
	t.Helper()
	sets, err := synth.CaptureSets(pcapDir)
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

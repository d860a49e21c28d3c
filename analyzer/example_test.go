package analyzer_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// Analyze decides what each finished incarnation's close was and what went wrong
// in it. In this capture, recorded from Linux between two network namespaces,
// nftables dropped the client's final ACK three times: the server sent its FIN four
// times before one got through.
func ExampleAnalyze() {
	r, err := capture.Open([]string{"../testdata/pcaps/final-ack-dropped.pcap"}, capture.Options{})
	if err != nil {
		log.Fatal(err)
	}
	t := reassembly.NewTracker(reassembly.Config{TimeWait: reassembly.DefaultTimeWait})
	var seg capture.Segment
	var last reassembly.Instant
	for {
		err := r.Next(&seg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		t.Add(&seg)
		last = reassembly.InstantOf(seg.Time)
	}
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
	t.Finish(last)

	rep := analyzer.Analyze(t.Incarnations(), analyzer.Config{TimeWait: reassembly.DefaultTimeWait})
	for _, c := range rep.Connections {
		fmt.Printf("%s → %s #%d: close %s, active closer %s, TIME_WAIT held by %s\n",
			c.Client, c.Server, c.Incarnation, c.Close, c.ActiveCloser, c.TimeWaitHolder)
	}
	for _, f := range rep.Findings {
		fmt.Printf("%s: %s's FIN, count %d, frames %v", f.Kind, f.Sender, *f.Count, f.Frames)
		if f.Outcome != "" {
			fmt.Printf(", outcome %s", f.Outcome)
		}
		if f.Cause != "" {
			fmt.Printf(", cause %s", f.Cause)
		}
		fmt.Println()
	}
	// Output:
	// 10.77.0.1:42910 → 10.77.0.2:7077 #1: close four_way, active closer client, TIME_WAIT held by client
	// missing_final_ack: server's FIN, count 3, frames [10 11 12 13 14], outcome recovered
	// fin_retransmit: server's FIN, count 3, frames [10 11 12 13], cause fin_or_ack_lost
}

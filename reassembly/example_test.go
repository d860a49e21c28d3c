package reassembly_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// A Tracker takes the segments of a capture in order and splits each 4-tuple into
// incarnations. In this capture, recorded from Linux between two network
// namespaces, a client connects three times from the same port, a second apart; the
// server closes first each time and so holds the 4-tuple in TIME_WAIT when the next
// SYN arrives: one 4-tuple, three incarnations, the later two reuses within
// TIME_WAIT. Without Config.Done the tracker keeps every incarnation until Finish.
func ExampleTracker() {
	r, err := capture.Open([]string{"../testdata/pcaps/reuse-server-timewait.pcap"}, capture.Options{})
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
	for _, inc := range t.Incarnations() {
		c, s := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
		fmt.Printf("%v → %v #%d: frames %d-%d, first FIN frame %d (server) %d (client), reuse %v, ended: %v\n",
			c.Endpoint, s.Endpoint, inc.Index, inc.First.Frame, inc.Last.Frame,
			s.FirstFin().Frame, c.FirstFin().Frame, inc.Reuse != nil, inc.End)
	}
	// Output:
	// 10.77.0.1:40000 → 10.77.0.2:7077 #1: frames 1-10, first FIN frame 8 (server) 9 (client), reuse false, ended: replaced
	// 10.77.0.1:40000 → 10.77.0.2:7077 #2: frames 11-20, first FIN frame 18 (server) 19 (client), reuse true, ended: replaced
	// 10.77.0.1:40000 → 10.77.0.2:7077 #3: frames 21-30, first FIN frame 28 (server) 29 (client), reuse true, ended: capture_end
}

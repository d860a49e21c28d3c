package capture_test

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/finack/finack/capture"
)

// Open reads a capture file (pcap, pcapng or snoop, gzip or not) and Next hands out
// its TCP segments one at a time, into a Segment the caller reuses: frame numbers
// are the ones Wireshark shows. This capture holds one connection whose server sent
// its FIN four times (frames 10 to 13) because its final ACK was dropped.
func ExampleOpen() {
	r, err := capture.Open([]string{"../testdata/pcaps/final-ack-dropped.pcap"}, capture.Options{})
	if err != nil {
		log.Fatal(err)
	}
	var seg capture.Segment
	for {
		err := r.Next(&seg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Fatal(err) // a damaged file: every segment before the damage came first
		}
		if seg.Flags.Has(capture.FIN) || seg.Flags.Has(capture.SYN) {
			fmt.Printf("frame %2d  %v → %v  %s\n", seg.Frame, seg.Src, seg.Dst, seg.Flags)
		}
	}
	st := r.Stats()
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("packets:", st.Packets)
	// Output:
	// frame  1  10.77.0.1:42910 → 10.77.0.2:7077  S
	// frame  2  10.77.0.2:7077 → 10.77.0.1:42910  S.
	// frame  8  10.77.0.1:42910 → 10.77.0.2:7077  F.
	// frame 10  10.77.0.2:7077 → 10.77.0.1:42910  F.
	// frame 11  10.77.0.2:7077 → 10.77.0.1:42910  F.
	// frame 12  10.77.0.2:7077 → 10.77.0.1:42910  F.
	// frame 13  10.77.0.2:7077 → 10.77.0.1:42910  F.
	// packets: 14
}

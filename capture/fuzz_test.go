package capture_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

func TestMain(m *testing.M) {
	capture.LetParserPanic(true) // a gopacket panic must fail the tests, not become "undecodable"
	os.Exit(m.Run())
}

// readBytes reads a whole capture from memory through a temporary file and
// returns the number of frames; it must never panic or loop.
func readBytes(t *testing.T, data []byte) {
	path := filepath.Join(t.TempDir(), "fuzz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		return
	}
	defer r.Close()
	var seg capture.Segment
	for i := 0; i < 1<<20; i++ {
		if err := r.Next(&seg); err != nil {
			st := r.Stats()
			var sum uint64
			for _, n := range st.Skipped {
				sum += n
			}
			if sum+st.Segments != st.Packets {
				t.Fatalf("stats do not add up: %+v", st)
			}
			return
		}
	}
	t.Fatal("no end after 2^20 segments")
}

// FuzzFile feeds whole files (pcap, pcapng, gzip, garbage) to the reader.
func FuzzFile(f *testing.F) {
	files, err := synth.Files()
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { readBytes(t, data) })
}

var fuzzLinks = []layers.LinkType{1, 113, 276, 0, 108, 101, 228, 229, 242, 12}

// FuzzFrame feeds one arbitrary frame, on a link type chosen by the first byte,
// to the decoder (inside a well-formed pcap file, so every byte hits decoding).
func FuzzFrame(f *testing.F) {
	for _, c := range decodeCases() {
		for j, l := range fuzzLinks {
			if l == c.link {
				f.Add(append([]byte{byte(j)}, c.frame...))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		link := fuzzLinks[int(data[0])%len(fuzzLinks)]
		var b bytes.Buffer
		w, _ := synth.NewPcapWriter(&b, link, synth.PcapOptions{})
		w.WriteFrame(synth.Epoch, data[1:])
		readBytes(t, b.Bytes())
	})
}

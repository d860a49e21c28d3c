package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// moduleRoot finds the directory holding go.mod, starting from the test's
// working directory (the package directory).
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// genDir writes the generated captures to a fresh temporary directory.
func genDir(t testing.TB) string {
	t.Helper()
	files, err := synth.Files()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads every segment; err is the error that ended the reading (nil for
// a clean io.EOF).
func readAll(t testing.TB, paths []string, opt capture.Options) ([]capture.Segment, capture.Stats, error) {
	t.Helper()
	r, err := capture.Open(paths, opt)
	if err != nil {
		return nil, capture.Stats{}, err
	}
	defer synth.CheckClose(t, r)
	capture.LetParserPanic(r)
	var segs []capture.Segment
	for {
		var s capture.Segment
		err := r.Next(&s)
		if errors.Is(err, io.EOF) && !isReadError(err) {
			return segs, r.Stats(), nil
		}
		if err != nil {
			return segs, r.Stats(), err
		}
		segs = append(segs, s)
	}
}

func isReadError(err error) bool {
	var re *capture.ReadError
	return errors.As(err, &re)
}

// pcapOf returns a pcap file (µs, little endian) with the given frames.
func pcapOf(t testing.TB, link layers.LinkType, frames ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := synth.NewPcapWriter(&b, link, synth.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WriteFrame(synth.Epoch.Add(time.Duration(i)*time.Microsecond), f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// fmtSeg prints every field: Segment embeds Flags, so %v alone prints only "S.".
func fmtSeg(s capture.Segment) string {
	return fmt.Sprintf("frame=%d time=%s if=%d vlan=%v %v>%v flags=%v seq=%d ack=%d win=%d len=%d ts=%v/%d/%d ipid=%d ttl=%d trunc=%v",
		s.Frame, s.Time.Format(time.RFC3339Nano), s.Interface, s.VLAN, s.Src, s.Dst, s.Flags, s.Seq, s.Ack, s.Window,
		s.PayloadLen, s.HasTS, s.TSval, s.TSecr, s.IPID, s.TTL, s.Truncated)
}

// TestReadBuffersReused: with Options.ReuseBuffers the read buffers of closed files
// go to the next files opened (a --separate run's thousands of captures), never
// while one is still read:
// a reader half read while others open, read and close keeps reading its own file,
// and each reader reads what one reading its file alone reads (plain and gzip).
func TestReadBuffersReused(t *testing.T) {
	// files[1] and files[4] (pcap, pcapng), read half while the others open and
	// close, take several reads into their buffers (30,000 packets of about 220
	// bytes: 6.6 MB); files[4] is read on while files[0] takes the buffer files[1]
	// gave back.
	var big bytes.Buffer
	if _, err := synth.WriteBig(&big, synth.BigOptions{Seed: 3, Packets: 30000, Concurrency: 50, Clients: 20, Servers: 4}); err != nil {
		t.Fatal(err)
	}
	files := []string{"../testdata/pcaps/final-ack-dropped.pcap", writeTemp(t, "big.pcap", big.Bytes()), "../testdata/pcaps/client-close.pcap"}
	many, err := os.ReadFile("../testdata/pcaps/many-connections.pcap")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, writeTemp(t, "many.pcap.gz", synth.Gzip(many)), writeTemp(t, "big.pcapng", pcapToNg(t, big.Bytes())),
		"../testdata/pcaps/gen-mixed-interfaces.pcapng")
	want := map[string][]capture.Segment{}
	for _, f := range files {
		segs, _, err := readAll(t, []string{f}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want[f] = segs
	}
	open := func(f string) *capture.Reader {
		r, err := capture.Open([]string{f}, capture.Options{ReuseBuffers: true})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	read := func(r *capture.Reader, n int) []capture.Segment {
		var out []capture.Segment
		for n < 0 || len(out) < n {
			var s capture.Segment
			if err := r.Next(&s); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	for round := range 3 {
		// a and b half read, others opened, read and closed in between.
		a, b := open(files[1]), open(files[4])
		gotA, gotB := read(a, 10000), read(b, 10000)
		for i := range 4 {
			f := files[(i+round)%len(files)]
			r := open(f)
			if got := read(r, -1); !reflect.DeepEqual(got, want[f]) {
				t.Fatalf("round %d: %s read while others are open: %d segments, differs from reading it alone", round, f, len(got))
			}
			synth.CheckClose(t, r)
		}
		gotA = append(gotA, read(a, -1)...)
		synth.CheckClose(t, a)
		c := open(files[0]) // (a's buffer, given back)
		gotB = append(gotB, read(b, -1)...)
		gotC := read(c, -1)
		synth.CheckClose(t, b)
		synth.CheckClose(t, c)
		for _, x := range []struct {
			f   string
			got []capture.Segment
		}{{files[1], gotA}, {files[4], gotB}, {files[0], gotC}} {
			if !reflect.DeepEqual(x.got, want[x.f]) {
				t.Fatalf("round %d: %s: %d segments, differs from reading it alone", round, x.f, len(x.got))
			}
		}
	}
}

// pcapToNg rewrites a pcap file (Ethernet) as pcapng.
func pcapToNg(t *testing.T, pcap []byte) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadCount: with Options.Count N a capture ends after its first N frames that
// pass the filter (every frame without one), as tcpdump -c: the segments are the
// first N a whole read gives, read no further than the Nth (frame numbers, the
// count of frames read), on pcap, pcapng, gzip and merged files, with and without
// a filter that passes TCP segments only.
func TestReadCount(t *testing.T) {
	many, err := os.ReadFile("../testdata/pcaps/many-connections.pcap")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]string{
		{"../testdata/pcaps/many-connections.pcap"},
		{writeTemp(t, "many.pcap.gz", synth.Gzip(many))},
		{writeTemp(t, "many.pcapng", pcapToNg(t, many))},
		{"../testdata/pcaps/final-ack-dropped.pcap", "../testdata/pcaps/client-close.pcap"},
	}
	// Frames of a link type finack does not decode count too (no filter rejects
	// them): the capture ends at the third.
	frames := [][]byte{{1}, {2}, {3}, {4}, {5}}
	other := writeTemp(t, "user0.pcap", pcapOf(t, layers.LinkType(147), frames...))
	if _, st, err := readAll(t, []string{other}, capture.Options{Count: 3}); err != nil || st.Packets != 3 || st.Skipped[capture.UnsupportedLinkType] != 3 {
		t.Errorf("-c 3 of 5 frames of an unsupported link type: %d read, %d skipped (%v)", st.Packets, st.Skipped[capture.UnsupportedLinkType], err)
	}
	for _, in := range inputs {
		for _, filter := range []string{"", "tcp[tcpflags] & (tcp-fin|tcp-syn) != 0"} {
			opt := capture.Options{Filter: filter, Compile: bpf.Compile}
			all, allStats, err := readAll(t, in, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{1, 7, len(all) - 1, len(all), len(all) + 5} {
				opt.Count = uint64(n)
				got, st, err := readAll(t, in, opt)
				if err != nil {
					t.Fatal(err)
				}
				want, packets := all, allStats.Packets
				if n <= len(all) {
					want, packets = all[:n], all[n-1].Frame // (what follows the Nth is not read)
				}
				if !reflect.DeepEqual(got, want) || st.Packets != packets {
					t.Errorf("%v, filter %q, -c %d: %d segments, %d frames read; want %d, %d", in, filter, n, len(got), st.Packets, len(want), packets)
				}
			}
		}
	}
}

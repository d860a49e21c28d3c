package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
	"github.com/finack/finack/capture/synth"
)

// readSerial reads paths with Next: every segment, then the error that ended the
// reading and the Stats.
func readSerial(t *testing.T, paths []string, opt capture.Options) string {
	r, err := capture.Open(paths, opt)
	if err != nil {
		return "open: " + err.Error()
	}
	defer closeReader(t, r)
	capture.LetParserPanic(r)
	var b strings.Builder
	var seg capture.Segment
	for {
		if err := r.Next(&seg); err != nil {
			fmt.Fprintf(&b, "end %v\n", err)
			break
		}
		fmt.Fprintf(&b, "%s\n", allFields(seg))
	}
	fmt.Fprintf(&b, "%+v", r.Stats())
	return b.String()
}

// allFields prints every field of a Segment by name (its String method shows the
// flags only).
func allFields(seg capture.Segment) string {
	v := reflect.ValueOf(seg)
	var b strings.Builder
	for i := range v.NumField() {
		fmt.Fprintf(&b, "%s=%v ", v.Type().Field(i).Name, v.Field(i).Interface())
	}
	return b.String()
}

// readFramed reads paths as readSerial does, through ReadFrames (runs of at most max
// records, or maxBytes) and two FrameDecoders taking the runs in turn.
func readFramed(t *testing.T, paths []string, opt capture.Options, max, maxBytes int) string {
	r, err := capture.Open(paths, opt)
	if err != nil {
		return "open: " + err.Error()
	}
	defer closeReader(t, r)
	capture.LetParserPanic(r)
	decs := []*capture.FrameDecoder{r.NewFrameDecoder(), r.NewFrameDecoder()}
	var b strings.Builder
	var seg capture.Segment
	var f capture.Frames
	for k := 0; ; k++ {
		err := r.ReadFrames(&f, max, maxBytes)
		if f.Len() > max {
			t.Fatalf("%v: %d records in a run of at most %d", paths, f.Len(), max)
		}
		d := decs[k%len(decs)]
		for i := range f.Len() {
			if d.Decode(&f, i, &seg) {
				fmt.Fprintf(&b, "%s\n", allFields(seg))
			}
		}
		if err != nil {
			fmt.Fprintf(&b, "end %v\n", err)
			break
		}
		if f.Len() == 0 {
			t.Fatalf("%v: ReadFrames returned no record and no error", paths)
		}
	}
	for _, d := range decs {
		r.AddDecoded(d)
	}
	fmt.Fprintf(&b, "%+v", r.Stats())
	return b.String()
}

func closeReader(t *testing.T, r *capture.Reader) {
	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestFramesAgree: reading through ReadFrames and FrameDecoders gives what Next gives
// (segments, the error that ends the reading, Stats), in runs of a few records and of
// a few hundred bytes as well as whole batches, for every committed capture (the
// rotated sets merged), the test inputs and the public corpus when present, damaged
// copies of the small ones (bytes changed, files cut), and with a filter.
func TestFramesAgree(t *testing.T) {
	sets, err := synth.CaptureSets("../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	files := capture.FilesUnder(t, "testdata", "../../shared/pcaps/public")
	for _, f := range files {
		sets = append(sets, []string{f})
	}
	tmp := filepath.Join(t.TempDir(), "in")
	rnd := rand.New(rand.NewPCG(5, 6))
	runs := [][2]int{{3, 1 << 20}, {1024, 1 << 20}, {1024, 300}}
	compared, segments := 0, 0
	check := func(name string, paths []string, opt capture.Options) {
		t.Helper()
		want := readSerial(t, paths, opt)
		for _, run := range runs {
			if got := readFramed(t, paths, opt, run[0], run[1]); got != want {
				t.Fatalf("%s (runs of %d records, %d bytes): ReadFrames and Next differ:\n%s\n----\n%s", name, run[0], run[1], got, want)
			}
		}
		compared++
		segments += strings.Count(want, "\n")
	}
	for _, paths := range sets {
		if st, err := os.Stat(paths[0]); err != nil || st.Size() > 8<<20 {
			continue
		}
		check(strings.Join(paths, "+"), paths, capture.Options{})
		data, err := os.ReadFile(paths[0])
		if err != nil || len(paths) > 1 || len(data) > 1<<20 || len(data) < 32 {
			continue
		}
		for i := range 4 {
			d := damaged(rnd, data, i, 4096)
			if err := os.WriteFile(tmp, d, 0o644); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("%s variant %d", paths[0], i), []string{tmp}, capture.Options{})
		}
	}
	filtered := 0
	for _, paths := range sets[:min(len(sets), 20)] {
		opt := capture.Options{Filter: "tcp and (port 80 or port 443 or port 7077)", Compile: bpf.Compile}
		if r, err := capture.Open(paths, opt); errors.Is(err, capture.ErrNoLibpcap) {
			break // (built without cgo: no filters)
		} else if err == nil {
			closeReader(t, r)
		}
		check(strings.Join(paths, "+")+" filtered", paths, opt)
		filtered++
	}
	if compared < 50 || segments == 0 {
		t.Fatalf("%d readings compared, %d segments: too few to say anything", compared, segments)
	}
	t.Logf("%d readings compared (%d with a filter), %d segments", compared, filtered, segments)
}

// readParts reads paths as readSerial does, in parts of size bytes (Parts), each read
// by a PartReader in runs of at most 5 segments and sequenced, then by Next from
// where a run says Sequential; "" when the input cannot be read in parts. inParts
// is the number of segments read in parts, all the number read.
func readParts(t *testing.T, paths []string, opt capture.Options, size int64) (got string, inParts, all int) {
	r, err := capture.Open(paths, opt)
	if err != nil {
		return "", 0, 0
	}
	defer closeReader(t, r)
	capture.LetParserPanic(r)
	parts, ok := r.Parts(size)
	if !ok {
		return "", 0, 0
	}
	pr, err := r.NewPartReader()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var out capture.PartRecords
	segs := make([]capture.Segment, 5)
	end := func(err error) (string, int, int) {
		fmt.Fprintf(&b, "end %v\n%+v", err, r.Stats())
		return b.String(), inParts, all
	}
	for i, part := range parts {
		pr.Begin(part, i == 0)
		for {
			out.Sequential, out.Err = true, io.ErrNoProgress // (as a reused run may hold them: Read sets both)
			n := pr.Read(&out, segs)
			m, ok, err := r.Sequence(&out, segs)
			if !ok {
				pr.Begin(r.Again(part), true)
				continue
			}
			if m != n {
				t.Fatalf("%v: Sequence counted %d segments, Read %d", paths, m, n)
			}
			for _, seg := range segs[:n] {
				fmt.Fprintf(&b, "%s\n", allFields(seg))
			}
			inParts += n
			all += n
			if err != nil {
				return end(err)
			}
			if out.Sequential { // (pcapng: Next reads on)
				var seg capture.Segment
				for {
					if err := r.Next(&seg); err != nil {
						return end(err)
					}
					fmt.Fprintf(&b, "%s\n", allFields(seg))
					all++
				}
			}
			if out.Done {
				break
			}
		}
	}
	t.Fatalf("%v: every part read and no end", paths)
	return "", 0, 0
}

// TestPartsAgree: reading a pcap or pcapng file in parts (PartReader, Sequence) gives
// what Next gives, for parts of every size (tiny ones make scanning guess wrong, and
// the part read again), on every pcap and pcapng file of TestFramesAgree's and
// damaged copies, and with a filter. pcapng files are read in parts up to a block a
// PartReader leaves to Next: most of them should be read in parts nearly to the end.
func TestPartsAgree(t *testing.T) {
	sets, err := synth.CaptureSets("../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range capture.FilesUnder(t, "testdata", "../../shared/pcaps/public") {
		sets = append(sets, []string{f})
	}
	tmp := filepath.Join(t.TempDir(), "in")
	rnd := rand.New(rand.NewPCG(7, 8))
	compared, ngCompared, ngInParts, afterSection := 0, 0, 0, 0
	check := func(name string, path string, opt capture.Options) {
		t.Helper()
		want := readSerial(t, []string{path}, opt)
		head, _ := os.ReadFile(path)
		ng := bytes.HasPrefix(head, []byte{0x0a, 0x0d, 0x0d, 0x0a})
		for _, size := range []int64{40, 333, 4096, 1 << 16} {
			got, inParts, all := readParts(t, []string{path}, opt, size)
			if got == "" {
				continue
			}
			if got != want {
				t.Fatalf("%s in parts of %d bytes: differs from Next:\n%s\n----\n%s", name, size, got, want)
			}
			compared++
			if ng {
				ngCompared++
				if all >= 10 && inParts*10 >= all*9 {
					ngInParts++
				}
			}
		}
	}
	for _, paths := range sets {
		data, err := os.ReadFile(paths[0])
		if err != nil || len(paths) > 1 || len(data) > 2<<20 || len(data) < 64 {
			continue
		}
		check(paths[0], paths[0], capture.Options{})
		if data[0] == 0x1f { // (gzip: not read in parts)
			continue
		}
		for i := range 4 {
			d := damaged(rnd, data, i, len(data))
			if err := os.WriteFile(tmp, d, 0o644); err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("%s variant %d", paths[0], i), tmp, capture.Options{})
		}
		if bytes.HasPrefix(data, []byte{0x0a, 0x0d, 0x0d, 0x0a}) && len(data) >= 12 {
			// A section before the file's: its first packet follows a second
			// section header (read in parts all the same).
			if err := os.WriteFile(tmp, append(sectionBefore(data), data...), 0o644); err != nil {
				t.Fatal(err)
			}
			check(paths[0]+" after a section", tmp, capture.Options{})
			if got, _, _ := readParts(t, []string{tmp}, capture.Options{}, 40); got != "" {
				afterSection++
			}
		}
		if r, err := capture.Open(paths, capture.Options{Filter: "tcp port 7077 or port 80", Compile: bpf.Compile}); err == nil {
			closeReader(t, r)
			check(paths[0]+" filtered", paths[0], capture.Options{Filter: "tcp port 7077 or port 80", Compile: bpf.Compile})
		}
	}
	if afterSection < 4 {
		t.Errorf("%d pcapng files read in parts after a section with no packets: too few", afterSection)
	}
	if compared < 100 || ngCompared < 50 || ngInParts < 20 {
		t.Fatalf("%d readings in parts compared (%d pcapng, %d of them with 9 segments in 10 read in parts): too few",
			compared, ngCompared, ngInParts)
	}
	t.Logf("%d readings in parts compared with Next's (%d pcapng, %d of them with 9 segments in 10 read in parts; %d pcapng files read in parts after a section)",
		compared, ngCompared, ngInParts, afterSection)
}

// sectionBefore returns a pcapng section with no packets, in the byte order of the
// file data (a section header, one Ethernet interface), to put before data.
func sectionBefore(data []byte) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(data[8:12]) == 0x1a2b3c4d {
		bo = binary.BigEndian
	}
	var b []byte
	b = bo.AppendUint32(b, 0x0a0d0d0a) // section header block
	b = bo.AppendUint32(b, 28)
	b = bo.AppendUint32(b, 0x1a2b3c4d)
	b = bo.AppendUint16(b, 1) // version 1.0
	b = bo.AppendUint16(b, 0)
	b = bo.AppendUint64(b, ^uint64(0)) // section length unknown
	b = bo.AppendUint32(b, 28)
	b = bo.AppendUint32(b, 1) // interface description block
	b = bo.AppendUint32(b, 20)
	b = bo.AppendUint16(b, 1) // LINKTYPE_ETHERNET
	b = bo.AppendUint16(b, 0)
	b = bo.AppendUint32(b, 0) // snap length: none
	b = bo.AppendUint32(b, 20)
	return b
}

// damaged returns a copy of a capture file's bytes (data), damaged after its 24-byte
// header: for even i cut short, for odd i with up to three bits flipped in the first
// within bytes after the header.
func damaged(rnd *rand.Rand, data []byte, i, within int) []byte {
	d := append([]byte(nil), data...)
	if i%2 == 0 {
		return d[:24+rnd.IntN(len(d)-24)]
	}
	for k := rnd.IntN(3) + 1; k > 0; k-- {
		d[24+rnd.IntN(min(len(d)-24, within))] ^= byte(1 << rnd.IntN(8))
	}
	return d
}

// FuzzParts: any file read in parts of any size, and through ReadFrames, gives what
// Next gives.
func FuzzParts(f *testing.F) {
	for i, b := range fuzzSeedFiles(f) {
		f.Add(b, uint16(40+i*97))
	}
	f.Fuzz(func(t *testing.T, data []byte, size uint16) {
		path := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want := readSerial(t, []string{path}, capture.Options{})
		if got := readFramed(t, []string{path}, capture.Options{}, 3, 1<<20); got != want {
			t.Fatalf("ReadFrames and Next differ:\n%s\n----\n%s", got, want)
		}
		if got, _, _ := readParts(t, []string{path}, capture.Options{}, 16+int64(size%8192)); got != "" && got != want {
			t.Fatalf("in parts of %d bytes, differs from Next:\n%s\n----\n%s", 16+size%8192, got, want)
		}
	})
}

package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fuzzDir != "" {
		if err := os.RemoveAll(fuzzDir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the fuzz input directory:", err)
		}
	}
	os.Exit(code)
}

// fuzzDir holds the one file the fuzz targets write each input to (a fuzzing
// process runs its inputs one at a time): a directory per input would cost more
// than the read.
var fuzzDir string

func fuzzPath(t *testing.T) string {
	if fuzzDir == "" {
		d, err := os.MkdirTemp("", "finack-fuzz-")
		if err != nil {
			t.Fatal(err)
		}
		fuzzDir = d
	}
	return filepath.Join(fuzzDir, "input")
}

// fuzzRead is what one read of a fuzzed file gave.
type fuzzRead struct {
	segs  []capture.Segment
	stats capture.Stats
	err   error // nil at a clean end, else the *ReadError
}

// readBytes reads a whole capture from memory through a temporary file and checks
// what must hold for any input: Open fails with an error naming the file, or Next
// returns segments and ends with io.EOF or a *ReadError (never another error, never
// a panic, never a loop); every frame is a segment or counted under one skip
// reason; frame numbers ascend; times lie in capture.TimeRange and First/Last
// bound the good ones; a ReadError names the file and the frame after the last one
// read, at an offset inside the (decompressed) input; memory stays within a bound
// set by the input's size, not by lengths read from it.
func readBytes(t *testing.T, data []byte) fuzzRead {
	t.Helper()
	path := fuzzPath(t)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := readPath(t, path)
	runtime.ReadMemStats(&after)
	// 1 MiB buffers (two for gzip) and the reader's structures, then what the
	// input holds: gzip can inflate about 1,030 times.
	if grown, bound := after.TotalAlloc-before.TotalAlloc, uint64(16<<20+1100*len(data)); grown > bound {
		t.Fatalf("reading a %d-byte input allocated %d bytes (bound %d)", len(data), grown, bound)
	}
	if got.err != nil {
		var re *capture.ReadError
		if !errors.As(got.err, &re) {
			if got.stats.Packets != 0 || len(got.segs) != 0 { // an Open error
				t.Fatalf("non-ReadError %v after %d packets", got.err, got.stats.Packets)
			}
			if !strings.Contains(got.err.Error(), path) {
				t.Fatalf("Open error does not name the file: %v", got.err)
			}
			return got
		}
		if re.File != path || !strings.HasPrefix(re.Error(), path+": frame ") || re.Frame != got.stats.Packets+1 {
			t.Fatalf("ReadError %q (frame %d) after %d packets", re, re.Frame, got.stats.Packets)
		}
		if gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b; re.Offset < 0 || (!gz && re.Offset > int64(len(data))) {
			t.Fatalf("ReadError offset %d in a %d-byte file", re.Offset, len(data))
		}
	}
	st := got.stats
	var sum uint64
	for _, n := range st.Skipped {
		sum += n
	}
	if sum+st.Segments != st.Packets || st.Segments != uint64(len(got.segs)) {
		t.Fatalf("stats do not add up: %+v, %d segments returned", st, len(got.segs))
	}
	first, last := capture.TimeRange()
	if st.Packets > st.BadTimestamps && (st.First.Before(first) || !st.Last.Before(last) || st.Last.Before(st.First)) {
		t.Fatalf("time span %v to %v", st.First, st.Last)
	}
	for i, s := range got.segs {
		if s.Frame == 0 || s.Frame > st.Packets || (i > 0 && s.Frame <= got.segs[i-1].Frame) {
			t.Fatalf("segment %d: frame %d (of %d)", i, s.Frame, st.Packets)
		}
		if s.Time.Before(first) || !s.Time.Before(last) || s.Time.Location() != time.UTC {
			t.Fatalf("segment %d: time %v", i, s.Time)
		}
		// One family at both ends: an IPv4 packet's 4-byte addresses, an IPv6
		// packet's 16-byte ones (IPv4-mapped included).
		if !s.Src.IsValid() || !s.Dst.IsValid() || s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
			t.Fatalf("segment %d: endpoints %v > %v", i, s.Src, s.Dst)
		}
		if s.PayloadLen > 65535+uint32(len(data)) {
			t.Fatalf("segment %d: payload %d in a %d-byte input", i, s.PayloadLen, len(data))
		}
	}
	return got
}

func readPath(t *testing.T, path string) fuzzRead {
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		return fuzzRead{err: err}
	}
	defer synth.CheckClose(t, r)
	capture.LetParserPanic(r) // a gopacket panic must fail the test, not become "undecodable"
	var got fuzzRead
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("no end after 2^20 segments")
		}
		var seg capture.Segment
		err := r.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			if again := r.Next(&seg); again != err {
				t.Fatalf("error not sticky: %v, then %v", err, again)
			}
			got.err = err
			break
		}
		got.segs = append(got.segs, seg)
	}
	got.stats = r.Stats()
	return got
}

// fuzzSeedFiles returns the generated captures and the committed ones small enough
// to fuzz from (testdata/pcaps), plus damaged versions of a few.
func fuzzSeedFiles(f *testing.F) [][]byte {
	files, err := synth.AllFiles()
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, file := range files {
		out = append(out, file.Data)
	}
	dir := filepath.Join(moduleRoot(f), "testdata", "pcaps")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.Contains(n, ".expected.") || strings.HasSuffix(n, ".txt") || strings.HasSuffix(n, ".md") || strings.HasPrefix(n, "gen-") {
			continue // gen-* are the generated files above
		}
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil && len(b) <= 32<<10 {
			out = append(out, b)
		}
	}
	ng := files[0].Data
	for _, file := range files {
		if strings.HasSuffix(file.Name, ".pcapng") {
			ng = file.Data
		}
	}
	out = append(out, ng[:len(ng)-7], files[0].Data[:len(files[0].Data)-7], synth.Gzip(ng)[:60])
	return out
}

// FuzzFile feeds whole files (pcap, pcapng, snoop, gzip, garbage) to the reader.
func FuzzFile(f *testing.F) {
	for _, b := range fuzzSeedFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) { readBytes(t, data) })
}

// FuzzGzip compresses an arbitrary capture and cuts the compressed stream: the
// reader gives a prefix of what the whole stream gives, and a stream cut short
// never reads as a clean end (a cut gzip file must not pass for a short capture).
// The whole stream reads exactly as the uncompressed file does.
func FuzzGzip(f *testing.F) {
	for _, b := range fuzzSeedFiles(f) {
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			continue
		}
		f.Add(b, uint16(len(b)/2))
	}
	f.Fuzz(func(t *testing.T, plain []byte, cut uint16) {
		if len(plain) >= 2 && plain[0] == 0x1f && plain[1] == 0x8b {
			return // gzip inside gzip: only one layer is undone
		}
		gz := synth.Gzip(plain)
		whole := readBytes(t, gz)
		flat := readBytes(t, plain)
		if !reflect.DeepEqual(whole.segs, flat.segs) || !reflect.DeepEqual(whole.stats, flat.stats) || !sameReadError(whole.err, flat.err) {
			t.Fatalf("gzip-compressed: %d segments, %v; uncompressed: %d segments, %v", len(whole.segs), whole.err, len(flat.segs), flat.err)
		}
		n := int(cut) % len(gz)
		part := readBytes(t, gz[:n])
		if part.err == nil {
			t.Fatalf("gzip stream cut at %d of %d bytes read as a clean end (%d packets)", n, len(gz), part.stats.Packets)
		}
		if len(part.segs) > len(whole.segs) || (len(part.segs) > 0 && !reflect.DeepEqual(part.segs, whole.segs[:len(part.segs)])) {
			t.Fatalf("cut stream: %d segments, not a prefix of the whole stream's %d", len(part.segs), len(whole.segs))
		}
	})
}

// sameReadError: both nil, both errors from Open, or ReadErrors at the same frame
// and offset for the same cause (the files differ).
func sameReadError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var ra, rb *capture.ReadError
	if errors.As(a, &ra) != errors.As(b, &rb) {
		return false
	}
	return ra == nil || (ra.Frame == rb.Frame && ra.Offset == rb.Offset && ra.Err.Error() == rb.Err.Error())
}

var fuzzLinks = []layers.LinkType{1, 113, 276, 0, 108, 101, 228, 229, 242, 12, 14}

// FuzzFrame feeds one arbitrary frame, on a link type chosen by the first byte,
// to the decoder (inside a well-formed pcap file, so every byte hits decoding):
// exactly one frame is read, without error, as a segment or a skip; and the fast
// decoder (fastdecode.go) gives what gopacket's path gives.
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
		w, err := synth.NewPcapWriter(&b, link, synth.PcapOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrame(synth.Epoch, data[1:]); err != nil {
			t.Fatal(err)
		}
		got := readBytes(t, b.Bytes())
		if got.err != nil || got.stats.Packets != 1 {
			t.Fatalf("one well-formed record: %d packets, %v", got.stats.Packets, got.err)
		}
		if diff := capture.DecodeBothWays(link, data[1:]); diff != "" {
			t.Fatalf("the two decoders differ on link type %d: %s", link, diff)
		}
	})
}

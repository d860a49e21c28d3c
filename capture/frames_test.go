package capture_test

import (
	"errors"
	"fmt"
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

// TestFramesAgree: reading through ReadFrames and FrameDecoders gives what Next
// gives (segments, the error that ends the reading, Stats), in runs of every size,
// for every committed capture (the rotated sets merged), the test inputs and the
// public corpus when present, damaged copies of the small ones (bytes changed,
// files cut), and with a filter.
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
			d := append([]byte(nil), data...)
			if i%2 == 0 {
				d = d[:24+rnd.IntN(len(d)-24)]
			} else {
				for k := rnd.IntN(3) + 1; k > 0; k-- {
					d[24+rnd.IntN(min(len(d)-24, 4096))] ^= byte(1 << rnd.IntN(8))
				}
			}
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

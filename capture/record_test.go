package capture_test

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

// TestRecord checks that Record gives back the frame behind each segment: written
// alone into a pcap of its link type and read again, it decodes to the same
// segment, with the same timestamp. The mixed-interface pcapng covers several link
// types in one file, the rotated pair a merge of two files.
func TestRecord(t *testing.T) {
	dir := genDir(t)
	for _, files := range [][]string{
		{"gen-mixed-interfaces.pcapng"},
		{"gen-ethernet-vlan-qinq.pcap"},
		{"gen-rotated.pcap0", "gen-rotated.pcap1"},
		{"gen-gzip.pcapng.gz"},
	} {
		t.Run(files[0], func(t *testing.T) {
			var paths []string
			for _, f := range files {
				paths = append(paths, filepath.Join(dir, f))
			}
			r, err := capture.Open(paths, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer synth.CheckClose(t, r)
			capture.LetParserPanic(r)
			n := 0
			for {
				var seg capture.Segment
				err := r.Next(&seg)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				rec, ok := r.Record()
				if !ok {
					t.Fatalf("frame %d: no record", seg.Frame)
				}
				if len(rec.Data) != rec.Info.CaptureLength || !rec.Info.Timestamp.Equal(seg.Time) {
					t.Fatalf("frame %d: record %d bytes (capture length %d), time %v; segment time %v",
						seg.Frame, len(rec.Data), rec.Info.CaptureLength, rec.Info.Timestamp, seg.Time)
				}
				var b bytes.Buffer
				w, err := synth.NewPcapWriter(&b, rec.Link, synth.PcapOptions{Nanosecond: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WriteRecord(rec.Info.Timestamp, rec.Data, uint32(rec.Info.Length)); err != nil {
					t.Fatal(err)
				}
				again, _, err := readAll(t, []string{writeTemp(t, "one.pcap", b.Bytes())}, capture.Options{})
				if err != nil || len(again) != 1 {
					t.Fatalf("frame %d: re-reading its record: %d segments, %v", seg.Frame, len(again), err)
				}
				got := again[0]
				got.Frame, got.Interface = seg.Frame, seg.Interface
				if fmtSeg(got) != fmtSeg(seg) {
					t.Fatalf("frame %d: record decodes to\n %s\nwant\n %s", seg.Frame, fmtSeg(got), fmtSeg(seg))
				}
				n++
			}
			if n == 0 {
				t.Fatal("no segments")
			}
			if _, ok := r.Record(); ok {
				t.Error("Record after io.EOF: ok")
			}
		})
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	dir := genDir(t)
	r, err := capture.Open([]string{filepath.Join(dir, "gen-ethernet-vlan-qinq.pcap")}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	var seg capture.Segment
	if err := r.Next(&seg); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() { r.Record() }); a != 0 {
		t.Errorf("Record allocates %v times", a)
	}
}

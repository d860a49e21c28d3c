package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

// gzipCutAfter compresses data[:n] and flushes it without ending the stream: what
// a gzip file cut short holds when its decompressed bytes end exactly at n.
func gzipCutAfter(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data[:n]); err != nil {
		t.Fatal(err)
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(b.Bytes()) // no final block, no trailer
}

// TestGzipCutAtRecordBoundary: a gzip stream cut short whose decompressed bytes end
// exactly between two records (or pcapng blocks) is damage, not a shorter capture.
// Found by FuzzGzip (testdata/fuzz/FuzzGzip/5f6596c96efb4b8b): pcapgo's pcapng reader
// takes any error at a block boundary for the end of the file.
func TestGzipCutAtRecordBoundary(t *testing.T) {
	ps := connPackets()
	pc := pcapBytes(t, 1, synth.PcapOptions{}, ps)
	ng := ngBytes(t, ps, synth.Interface{Link: 1})
	pcOffs := recordOffsets(pc)
	var ngOffs []int // block boundaries: after the section header and interface
	for off := 0; off+8 <= len(ng); off += int(binary.LittleEndian.Uint32(ng[off+4:])) {
		ngOffs = append(ngOffs, off)
	}
	for _, tc := range []struct {
		name    string
		data    []byte
		cut     int
		packets uint64
		offset  int
	}{
		{"pcap after 4 records", pc, int(pcOffs[4]), 4, int(pcOffs[4])},
		{"pcap after the file header", pc, 24, 0, 24},
		{"pcapng after 4 packets", ng, ngOffs[2+4], 4, ngOffs[2+4]},
		// The offset is where the last good record ended: here the section header,
		// the interface block being read with the packet that never came.
		{"pcapng after the interface block", ng, ngOffs[2], 0, ngOffs[1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "cut.gz", gzipCutAfter(t, tc.data, tc.cut))
			segs, st, err := readAll(t, []string{path}, capture.Options{})
			var re *capture.ReadError
			if !errors.As(err, &re) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("want a ReadError for the cut stream, got %v after %d packets", err, st.Packets)
			}
			if st.Packets != tc.packets || len(segs) != int(tc.packets) || re.Frame != tc.packets+1 || re.Offset != int64(tc.offset) {
				t.Errorf("%d packets, error at frame %d offset %d; want %d packets, frame %d, offset %d",
					st.Packets, re.Frame, re.Offset, tc.packets, tc.packets+1, tc.offset)
			}
		})
	}
}

// TestTimestampRange: timestamps a Reader hands out stay within TimeRange, where
// the analysis's timers cannot overflow. A record dated outside keeps the time of
// the record before it, or the Unix epoch when it is the first (not year 1, whose
// Unix nanoseconds are undefined); it moves neither First nor Last.
// Found by FuzzAnalyze (analyzer/testdata/fuzz/FuzzAnalyze/3ecdba126c8769ac): a close
// dated in April 2262 put TIME_WAIT's end past what int64 nanoseconds hold.
func TestTimestampRange(t *testing.T) {
	first, last := capture.TimeRange()
	ps := connPackets()
	// Capture formats date from 1970 (unsigned), so only the late edge and
	// garbage can be written; the early edge is the same comparison.
	times := []time.Time{
		time.Date(2262, 4, 11, 23, 47, 0, 0, time.UTC), // bad, and the first: the epoch
		ps[1].Time,
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), // bad: keeps ps[1]'s
		time.Unix(1, 0),        // good: the earliest
		last.Add(-time.Second), // good: the latest
		last,                   // bad
		time.Unix(1<<40, 0),    // bad (year 36812)
	}
	for i, ts := range times {
		ps[i].Time = ts
	}
	var b bytes.Buffer
	w, err := synth.NewNgWriter(&b, synth.NgOptions{}, synth.Interface{Link: layers.LinkTypeEthernet, Nanosecond: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	segs, st, err := readAll(t, []string{writeTemp(t, "times.pcapng", b.Bytes())}, capture.Options{})
	if err != nil || len(segs) != len(ps) {
		t.Fatalf("%d segments, %v", len(segs), err)
	}
	want := []time.Time{time.Unix(0, 0), ps[1].Time, ps[1].Time, time.Unix(1, 0), last.Add(-time.Second), last.Add(-time.Second), last.Add(-time.Second)}
	for i, w := range want {
		if !segs[i].Time.Equal(w) || segs[i].Time.Before(first) || !segs[i].Time.Before(last) {
			t.Errorf("frame %d: time %v, want %v", i+1, segs[i].Time, w)
		}
	}
	if st.BadTimestamps != 4 || !st.First.Equal(time.Unix(1, 0)) || !st.Last.Equal(last.Add(-time.Second)) {
		t.Errorf("bad timestamps %d (want 4), first %v, last %v", st.BadTimestamps, st.First, st.Last)
	}
}

// TestStepsBack: steps back of the capture clock larger than StepBackMin are counted,
// with the largest and the frame after it; small reorderings are not.
func TestStepsBack(t *testing.T) {
	ps := connPackets()
	base := ps[0].Time
	offsets := []time.Duration{0, time.Millisecond, 500 * time.Microsecond, // 0.5 ms back: a reordering
		time.Hour, 10 * time.Minute, // 50 min back (frame 5)
		11 * time.Minute, 9 * time.Minute} // 2 min back (frame 7)
	for i, off := range offsets {
		ps[i].Time = base.Add(off)
	}
	var b bytes.Buffer
	w, err := synth.NewPcapWriter(&b, layers.LinkTypeEthernet, synth.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps[:len(offsets)] {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "steps.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	capture.LetParserPanic(r)
	var s capture.Segment
	for r.Next(&s) == nil {
	}
	st := r.Stats()
	if st.StepsBack != 2 || st.LargestStepBack != 50*time.Minute || st.LargestStepBackFrame != 5 {
		t.Errorf("steps back %d, largest %v at frame %d; want 2, 50m0s at frame 5", st.StepsBack, st.LargestStepBack, st.LargestStepBackFrame)
	}
}

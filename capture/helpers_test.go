package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
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

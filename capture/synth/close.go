package synth

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// CheckClose closes c, something a test has finished reading (a capture, a file, a
// listener, a response body), and fails the test without stopping it if that
// fails: nothing the test checked depends on the outcome, but a Close that fails
// there means a descriptor closed twice or never open. Writes, and the Close that
// ends them, are checked where they happen instead.
func CheckClose(tb testing.TB, c io.Closer) {
	tb.Helper()
	if err := c.Close(); err != nil {
		tb.Errorf("close %T: %v", c, err)
	}
}

// EachSegment reads files as one capture and calls fn for each TCP segment, in
// order (fn must not keep the segment: it is reused); it returns the capture's last
// timestamp, for a tracker's Finish. An error reading fails the test.
func EachSegment(tb testing.TB, files []string, fn func(*capture.Segment)) time.Time {
	tb.Helper()
	r, err := capture.Open(files, capture.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer CheckClose(tb, r)
	var seg capture.Segment
	for {
		if err := r.Next(&seg); err == io.EOF {
			break
		} else if err != nil {
			tb.Fatal(err)
		}
		fn(&seg)
	}
	return r.Stats().Last
}

// WriteBigFile writes WriteBig's capture of opt to big.pcap in a new temporary
// directory of tb and returns its path.
func WriteBigFile(tb testing.TB, opt BigOptions) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "big.pcap")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := WriteBig(f, opt); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// WriteLinkFile writes to path one client-closed connection (11 frames) as raw IPv4
// packets in frames of link type link: link 101 (LINKTYPE_RAW) is read, a link
// type finack does not decode (147, USER0) is not.
func WriteLinkFile(tb testing.TB, path string, link layers.LinkType) {
	tb.Helper()
	c := NewConn(netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.10:80"), 1, 2, Epoch)
	var b bytes.Buffer
	w, err := NewPcapWriter(&b, link, PcapOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range c.Full(10, 20, true) {
		if err := w.WriteFrame(p.Time, Encode(101, p)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

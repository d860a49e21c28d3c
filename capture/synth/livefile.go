package synth

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/finack/finack/capture"
)

// FileSource feeds a capture file to a live run as if it came from an interface:
// the kernel received every packet read, nothing was dropped.
type FileSource struct{ R *capture.Reader }

func (f FileSource) Next(s *capture.Segment) error { return f.R.Next(s) } // io.EOF ends the run, as -c does
func (f FileSource) Stats() capture.Stats          { return f.R.Stats() }
func (f FileSource) KernelStats() (capture.KernelStats, error) {
	return capture.KernelStats{Received: f.R.Stats().Packets}, nil
}
func (f FileSource) Flush() error     { return nil }
func (f FileSource) Close() error     { return nil }
func (f FileSource) LinkName() string { return "EN10MB (Ethernet)" }
func (f FileSource) SnapLen() int     { return capture.DefaultSnapLen }

// HTTPGet fetches url and returns its body; a failure fails the test.
func HTTPGet(tb testing.TB, url string) string {
	tb.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer CheckClose(tb, resp.Body)
	b, err := io.ReadAll(bufio.NewReader(resp.Body))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

package synth

import (
	"io"
	"testing"
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

package capture

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// TestAheadReader: what an aheadReader reads is r's bytes, then r's error, sticky,
// whatever the lengths (none, within a buffer, across several) and however r and the
// caller cut the reads.
func TestAheadReader(t *testing.T) {
	errCut := errors.New("cut")
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 1000, aheadSize - 1, aheadSize, aheadSize + 1, 3*aheadSize + 7, 9 * aheadSize} {
		for _, end := range []error{io.EOF, errCut} {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(rnd.Uint32())
			}
			var src io.Reader = bytes.NewReader(data)
			if end != io.EOF {
				src = io.MultiReader(src, iotest.ErrReader(end))
			}
			a := newAheadReader(iotest.HalfReader(src)) // (r's reads come short)
			var got []byte
			var err error
			for err == nil {
				p := make([]byte, 1+rnd.IntN(3*aheadSize/2))
				var m int
				m, err = a.Read(p)
				got = append(got, p[:m]...)
			}
			if !bytes.Equal(got, data) || err != end {
				t.Fatalf("%d bytes ending %v: read %d bytes (equal: %v), then %v", n, end, len(got), bytes.Equal(got, data), err)
			}
			if m, err := a.Read(make([]byte, 10)); m != 0 || err != end {
				t.Fatalf("%d bytes ending %v: read again: %d, %v", n, end, m, err)
			}
			a.stop()
		}
	}
}

// TestAheadReaderStop: stop ends the reading goroutine (it closes full) while it
// waits for a free buffer, the reader having taken none: it filled at most the
// buffers it had.
func TestAheadReaderStop(t *testing.T) {
	a := newAheadReader(bytes.NewReader(make([]byte, 100*aheadSize)))
	a.stop()
	filled := 0
	for range a.full {
		filled++
	}
	if filled > aheadBuffers {
		t.Fatalf("%d buffers filled, %d to fill", filled, aheadBuffers)
	}
	if m, err := a.Read(make([]byte, 1)); m != 0 || err != io.ErrClosedPipe {
		t.Fatalf("read after stop, its buffers taken: %d, %v", m, err)
	}
}

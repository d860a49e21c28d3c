package spill

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// TestSpool: a Spool gives back what was written to it, in memory or past its
// bound in a file, text after text (Reset), and leaves no file behind.
func TestSpool(t *testing.T) {
	for _, memory := range []int{1, 10, 100, 0} {
		dir := t.TempDir()
		s := Spool{Memory: memory, Dir: dir}
		for text := range 4 {
			var want bytes.Buffer
			for i := range 3 + 10*text {
				b := []byte(fmt.Sprintf("text %d line %d\n", text, i))
				want.Write(b)
				if err := s.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			var got bytes.Buffer
			if err := s.CopyTo(&got); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("memory %d, text %d: read back %q, want %q", memory, text, got.String(), want.String())
			}
			s.Reset()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("memory %d: files left behind: %v", memory, entries)
		}
	}
}

package report

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestMultiLineWriters: indentWriter and namingWriter give what splitting the whole
// text into lines and prefixing each gives, however the text is cut into writes.
func TestMultiLineWriters(t *testing.T) {
	texts := []string{"{}\n", "{\n  \"a\": 1\n}\n", "{\"a\":1}\n{\"b\":[1,2]}\n", "no newline at the end", "{x}\n\n{y}\n", "{line}\n\n"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, text := range texts {
		wantIndent := "    " + strings.Join(strings.Split(strings.TrimSuffix(text, "\n"), "\n"), "\n    ")
		var wantNaming strings.Builder
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if line != "" {
				wantNaming.WriteString("{N," + line[1:] + "\n")
			}
		}
		for round := range 50 {
			var ib, nb bytes.Buffer
			bi, bn := bufio.NewWriter(&ib), bufio.NewWriter(&nb)
			iw, nw := &indentWriter{w: bi, prefix: "    "}, &namingWriter{w: bn, prefix: "{N,"}
			bi.WriteString(iw.prefix)
			noBlank := !strings.Contains(text, "\n\n")
			for rest := text; rest != ""; {
				n := min(1+rng.IntN(4), len(rest))
				if round == 0 {
					n = len(rest) // one write
				}
				if _, err := iw.Write([]byte(rest[:n])); err != nil {
					t.Fatal(err)
				}
				if noBlank {
					if _, err := nw.Write([]byte(rest[:n])); err != nil {
						t.Fatal(err)
					}
				}
				rest = rest[n:]
			}
			if nw.mid {
				bn.WriteByte('\n')
			}
			if err := bi.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := bn.Flush(); err != nil {
				t.Fatal(err)
			}
			if ib.String() != wantIndent {
				t.Fatalf("indentWriter(%q): %q, want %q", text, ib.String(), wantIndent)
			}
			if noBlank && nb.String() != wantNaming.String() {
				t.Fatalf("namingWriter(%q): %q, want %q", text, nb.String(), wantNaming.String())
			}
		}
	}
}

package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestControlEscapes: DEL and the C1 controls leave appendJSONString (the strings of
// the records) and EscapeControls (what encoding/json writes) as \u escapes,
// everything else as encoding/json writes it, and the JSON reads back the same.
func TestControlEscapes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain ascii é ü ✓", "plain ascii é ü ✓"},
		{"del\x7f", `del\u007f`},
		{"csi\u009b[2Jnel\u0085", `csi\u009b[2Jnel\u0085`},
		{"\u0080\u009f\u00a0\u00c2", `\u0080\u009f` + "\u00a0\u00c2"},
		{"bad \x85 \xc2 byte", `bad \ufffd \ufffd byte`}, // invalid UTF-8: encoding/json's \ufffd
		{"a long plain run\x7fthen DEL in a word", `a long plain run\u007fthen DEL in a word`},
		{"0123456\x7f01234567\u009b", `0123456\u007f01234567\u009b`},
		{"quote\" back\\ tab\t nl\n \u2028", `quote\" back\\ tab\t nl\n \u2028`},
	} {
		ref, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		// Every position of the string in the 8-byte words plainWords reads.
		for pad := 0; pad < 8; pad++ {
			p := string(bytes.Repeat([]byte{'p'}, pad))
			want := `"` + p + tc.want + `"`
			if got := string(appendJSONString(nil, p+tc.in)); got != want {
				t.Errorf("appendJSONString(%q): %s, want %s", p+tc.in, got, want)
			}
		}
		if got := string(EscapeControls(ref)); got != `"`+tc.want+`"` {
			t.Errorf("EscapeControls(%s): %s, want \"%s\"", ref, got, tc.want)
		}
		got := appendJSONString(nil, tc.in)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != string(bytes.ToValidUTF8([]byte(tc.in), []byte("\ufffd"))) {
			t.Errorf("%q: reads back as %q (%v)", tc.in, back, err)
		}
	}
}

// TestJSONEncoderEscapes: the encoding/json Encoder of the reports escapes DEL and
// C1 and leaves HTML characters alone.
func TestJSONEncoderEscapes(t *testing.T) {
	var buf bytes.Buffer
	if err := NewJSONEncoder(&buf).Encode(map[string]string{"n": "<x\x7f\u009b&>"}); err != nil {
		t.Fatal(err)
	}
	if want := `{"n":"<x\u007f\u009b&>"}` + "\n"; buf.String() != want {
		t.Errorf("%s, want %s", buf.String(), want)
	}
}

// TestPlainWords: plainWords stops at the first run of 8 bytes that holds a byte
// appendJSONString does not copy as it is, or before the last short run, as a test of
// each byte decides; for each byte value at every place of strings around 16 bytes
// long and from every start, and for random strings of such bytes.
func TestPlainWords(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' && c < 0x7f }
	want := func(s string, i int) int {
		for ; i+8 <= len(s); i += 8 {
			for _, c := range []byte(s[i : i+8]) {
				if !plain(c) {
					return i
				}
			}
		}
		return i
	}
	check := func(s string) {
		t.Helper()
		for i := 0; i <= len(s); i++ {
			if got, w := plainWords(s, i), want(s, i); got != w {
				t.Fatalf("plainWords(%q, %d) = %d, want %d", s, i, got, w)
			}
		}
	}
	for c := range 256 {
		for _, n := range []int{8, 15, 16, 17, 24, 33} {
			for at := range n {
				b := bytes.Repeat([]byte{'p'}, n)
				b[at] = byte(c)
				check(string(b))
			}
		}
	}
	// Random strings, mostly plain, of bytes next to the limits (borrows and carries
	// between the bytes of a word).
	edge := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7e, 0x7f, 0x80, 0xfe, 0xff, 'a'}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, rng.IntN(48))
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
			if rng.IntN(8) == 0 {
				b[i] = edge[rng.IntN(len(edge))]
			}
		}
		check(string(b))
	}
}

// TestAppendJSONStringRandom: appendJSONString writes what the reports' encoding/json
// Encoder writes, for random strings of every length up to 40 with bytes next to
// the limits of plainWords's word tests and of UTF-8 (the last word read again, the
// tail byte by byte).
func TestAppendJSONStringRandom(t *testing.T) {
	edge := []string{"\x00", "\x1f", " ", "!", `"`, "#", "[", `\`, "]", "~", "\x7f", "\x80", "\xc2", "\xff", "é", "µ", "\u0085", "\u2028", "✓"}
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	enc := NewJSONEncoder(&buf)
	for range 50000 {
		var b []byte
		for n := rng.IntN(41); len(b) < n; {
			if rng.IntN(10) == 0 {
				b = append(b, edge[rng.IntN(len(edge))]...)
			} else {
				b = append(b, 'a'+byte(rng.IntN(26)))
			}
		}
		buf.Reset()
		if err := enc.Encode(string(b)); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := appendJSONString(nil, string(b)); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", b, got, want)
		}
	}
}

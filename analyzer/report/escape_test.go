package report

import (
	"bytes"
	"encoding/json"
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

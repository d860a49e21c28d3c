package report

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestControlEscaper: DEL and the C1 controls leave as \u escapes however the text is
// cut into writes, everything else unchanged, and the JSON reads back the same.
func TestControlEscaper(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain ascii é ü ✓", "plain ascii é ü ✓"},
		{"del\x7f", `del\u007f`},
		{"csi\u009b[2Jnel\u0085", `csi\u009b[2Jnel\u0085`},
		{"\u0080\u009f\u00a0\u00c2", `\u0080\u009f` + "\u00a0\u00c2"},
		{"bad \x85 \xc2 byte", `bad \ufffd \ufffd byte`}, // invalid UTF-8: encoding/json's \ufffd
	} {
		enc, err := json.Marshal(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut <= len(enc); cut++ {
			var out bytes.Buffer
			e := &ControlEscaper{W: &out}
			e.Write(enc[:cut])
			e.Write(enc[cut:])
			if err := e.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != `"`+tc.want+`"` {
				t.Errorf("%q cut at %d: %s, want \"%s\"", tc.in, cut, got, tc.want)
				break
			}
			var back string
			if err := json.Unmarshal(out.Bytes(), &back); err != nil || back != string(bytes.ToValidUTF8([]byte(tc.in), []byte("\ufffd"))) {
				t.Errorf("%q: reads back as %q (%v)", tc.in, back, err)
			}
		}
	}
}

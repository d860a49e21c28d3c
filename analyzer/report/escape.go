package report

import (
	"bytes"
	"encoding/json"
	"io"
)

// The characters encoding/json leaves raw that a terminal may act on, DEL (0x7f)
// and the C1 controls U+0080 to U+009F (C1 CSI is U+009B), are escaped in every
// JSON report, so that a name from a capture (a file, an interface, a comment)
// cannot send a control sequence when the report is printed: as \u007f and \u0080
// to \u009f, which read back as the same characters. appendJSONString, which writes
// the strings of the records, escapes them itself; what encoding/json writes (the
// summary and the other parts of a report it encodes) goes through EscapeControls.
// Invalid UTF-8 is written as \ufffd by both (each bad byte), so a raw C1 byte of
// another encoding is never written either.

// EscapeControls returns the JSON text b with DEL and the C1 controls escaped: b
// itself when it has none. b is whole values (in JSON text these characters can
// only be inside strings).
func EscapeControls(b []byte) []byte {
	if bytes.IndexByte(b, 0x7f) < 0 && bytes.IndexByte(b, 0xc2) < 0 {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			out = append(out, '\\', 'u', '0', '0', hex[b[i+1]>>4], hex[b[i+1]&0xf])
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

// controlWriter passes each write, a whole JSON value of a json.Encoder, through
// EscapeControls.
type controlWriter struct{ w io.Writer }

func (c controlWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(EscapeControls(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// NewJSONEncoder returns an encoding/json Encoder writing to w as the reports
// do: HTML characters as they are, DEL and the C1 controls escaped (EscapeControls;
// an Encoder writes each value in one write).
func NewJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(controlWriter{w})
	enc.SetEscapeHTML(false)
	return enc
}

package report

import (
	"bytes"
	"io"
)

// ControlEscaper writes JSON text through to W with the characters encoding/json
// leaves raw escaped: DEL (0x7f) as \u007f and the C1 controls U+0080 to U+009F
// as \u0080 to \u009f, so that a name from a capture (a file, an interface, a
// comment) cannot send a terminal control sequence (C1 CSI is U+009B) when the
// report is printed. In JSON text these can only be inside strings, where the
// escapes read back as the same characters. Invalid UTF-8 reaches it already as
// \ufffd (encoding/json and appendJSONString replace each bad byte), so a raw C1
// byte of another encoding is never written either. A C1 character split between
// two writes is held until the next one (Flush writes a byte left held).
type ControlEscaper struct {
	W    io.Writer
	held bool // the last write ended in 0xC2, the first byte of a C1 character
	buf  []byte
}

func (e *ControlEscaper) Write(p []byte) (int, error) {
	if !e.held && bytes.IndexByte(p, 0x7f) < 0 && bytes.IndexByte(p, 0xc2) < 0 {
		return e.W.Write(p)
	}
	b := e.buf[:0]
	const hex = "0123456789abcdef"
	i := 0
	if e.held {
		e.held = false
		if len(p) > 0 && p[0] >= 0x80 && p[0] <= 0x9f {
			b = append(b, '\\', 'u', '0', '0', hex[p[0]>>4], hex[p[0]&0xf])
			i = 1
		} else {
			b = append(b, 0xc2)
		}
	}
	for ; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0x7f:
			b = append(b, `\u007f`...)
		case c == 0xc2 && i+1 == len(p):
			e.held = true
		case c == 0xc2 && p[i+1] >= 0x80 && p[i+1] <= 0x9f:
			b = append(b, '\\', 'u', '0', '0', hex[p[i+1]>>4], hex[p[i+1]&0xf])
			i++
		default:
			b = append(b, c)
		}
	}
	e.buf = b
	if _, err := e.W.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a byte held at the end of the last write.
func (e *ControlEscaper) Flush() error {
	if !e.held {
		return nil
	}
	e.held = false
	_, err := e.W.Write([]byte{0xc2})
	return err
}

package gate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// jsonScanner reads a saved report for readSaved: the document's structure token
// by token, the values the checks keep (the summary, each finding, the error)
// whole, each decoded by encoding/json, and the values they do not (connection
// records, incidents: most of a report's bytes) read past without being decoded or
// kept, checked as they go. encoding/json's Decoder reads past a value by scanning
// it twice (once to find its end, once to decode it into a json.RawMessage); skip
// scans it once, the bytes of a string eight at a time, and an array or object
// that is all in the buffer (a record's line) in one pass over the slice
// (scanValue).
//
// It accepts exactly the JSON encoding/json does, at any nesting up to its limit
// of 10,000 arrays and objects counted from the document's top (FuzzReadSaved
// compares readSaved with json.Unmarshal of the whole document).
type jsonScanner struct {
	r     io.Reader
	buf   []byte // buf[pos:end] is read and not yet consumed
	pos   int
	end   int
	err   error // what ended reading r (io.EOF at its end)
	depth int   // arrays and objects open, from the document's top
	// keep: where the value rawValue is reading starts in buf (its bytes stay
	// there as more is read); -1 when none is.
	keep int
}

// jsonMaxDepth is encoding/json's limit on nesting.
const jsonMaxDepth = 10000

// jsonScanBuffer: the read buffer's first size (a var, for the tests); it grows
// to hold the largest value kept whole.
var jsonScanBuffer = 256 << 10

func newJSONScanner(r io.Reader) *jsonScanner {
	return &jsonScanner{r: r, buf: make([]byte, jsonScanBuffer), keep: -1}
}

// errJSONEnd: the document ended inside a value.
var errJSONEnd = errors.New("unexpected end of JSON input")

// fill reads more of r: false when r ended (s.err set) and nothing came. What was
// consumed is dropped first, but the value being kept (s.keep).
func (s *jsonScanner) fill() bool {
	if s.err != nil {
		return false
	}
	from := s.pos
	if s.keep >= 0 {
		from = s.keep
		s.keep = 0
	}
	if from > 0 {
		s.end = copy(s.buf, s.buf[from:s.end])
		s.pos -= from
	}
	if s.end == len(s.buf) {
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			s.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.err = io.ErrNoProgress
	return false
}

// readErr is the error for input that ended (or failed) where more was needed.
func (s *jsonScanner) readErr() error {
	if s.err == nil || s.err == io.EOF {
		return errJSONEnd
	}
	return s.err
}

// peek skips white space and returns the next byte without consuming it; false
// at the end of the input.
func (s *jsonScanner) peek() (byte, bool) {
	for {
		for s.pos < s.end {
			switch c := s.buf[s.pos]; c {
			case ' ':
				// A report's indentation: the spaces of eight bytes at once.
				if s.pos+8 <= s.end {
					s.pos += bits.TrailingZeros64(binary.LittleEndian.Uint64(s.buf[s.pos:])^(ones*' ')) >> 3
					continue
				}
				s.pos++
			case '\t', '\n', '\r':
				s.pos++
			default:
				return c, true
			}
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// expect consumes the byte c, the next after white space.
func (s *jsonScanner) expect(c byte) error {
	got, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	if got != c {
		return fmt.Errorf("%q expected, found %q", c, got)
	}
	s.pos++
	return nil
}

// open consumes '[' or '{' (the caller peeked it), counting the nesting.
func (s *jsonScanner) open() error {
	s.pos++
	if s.depth++; s.depth > jsonMaxDepth {
		return errors.New("exceeded max depth")
	}
	return nil
}

// more reports whether the array or object being read has another element,
// consuming the ',' before it (first: none is expected before the first), or
// its closing bracket when it has no more.
func (s *jsonScanner) more(first bool, closing byte) (bool, error) {
	c, ok := s.peek()
	if !ok {
		return false, s.readErr()
	}
	if c == closing {
		s.pos++
		s.depth--
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		return false, fmt.Errorf("',' or %q expected, found %q", closing, c)
	}
	s.pos++
	return true, nil
}

// readObject reads an object, handing each key (decoded as encoding/json decodes
// it) to field, which reads its value.
func (s *jsonScanner) readObject(field func(key string) error) error {
	if c, ok := s.peek(); !ok {
		return s.readErr()
	} else if c != '{' {
		return fmt.Errorf("'{' expected, found %q", c)
	}
	if err := s.open(); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := s.more(first, '}')
		if err != nil || !more {
			return err
		}
		if c, ok := s.peek(); !ok || c != '"' {
			return fmt.Errorf("a key expected")
		}
		raw, err := s.rawValue()
		if err != nil {
			return err
		}
		var key string
		if err := json.Unmarshal(raw, &key); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
	}
}

// readArray reads an array, calling elem to read each element, or null.
func (s *jsonScanner) readArray(elem func() error) (null bool, err error) {
	c, ok := s.peek()
	if !ok {
		return false, s.readErr()
	}
	if c == 'n' {
		return true, s.skip()
	}
	if c != '[' {
		return false, fmt.Errorf("an array expected, found %q", c)
	}
	if err := s.open(); err != nil {
		return false, err
	}
	for first := true; ; first = false {
		more, err := s.more(first, ']')
		if err != nil || !more {
			return false, err
		}
		if err := elem(); err != nil {
			return false, err
		}
	}
}

// decode reads the next value whole into v, as encoding/json's Decoder.Decode
// does.
func (s *jsonScanner) decode(v any) error {
	raw, err := s.rawValue()
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// rawValue reads the next value and returns its bytes (valid until the next call).
func (s *jsonScanner) rawValue() ([]byte, error) {
	if _, ok := s.peek(); !ok {
		return nil, s.readErr()
	}
	s.keep = s.pos
	err := s.value()
	start := s.keep
	s.keep = -1
	if err != nil {
		return nil, err
	}
	return s.buf[start:s.pos], nil
}

// skip reads past the next value, keeping none of it.
func (s *jsonScanner) skip() error { return s.value() }

// value reads one value.
func (s *jsonScanner) value() error {
	c, ok := s.peek()
	if !ok {
		return s.readErr()
	}
	if c == '{' || c == '[' {
		// A report's records: most of its bytes, each a line read whole into the
		// buffer. Read in the buffer at once when it is there and well formed; from
		// anywhere else (cut by the buffer's end, nested deeper, or not valid) the
		// value is read again below, which gives the error.
		if n, ok := scanValue(s.buf[s.pos:s.end], jsonMaxDepth-s.depth); ok {
			s.pos += n
			return nil
		}
	}
	switch {
	case c == '"':
		return s.str()
	case c == '[' || c == '{':
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		if err := s.open(); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := s.more(first, closing)
			if err != nil || !more {
				return err
			}
			if closing == '}' {
				if c, ok := s.peek(); !ok || c != '"' {
					if !ok {
						return s.readErr()
					}
					return fmt.Errorf("a key expected, found %q", c)
				}
				if err := s.str(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.value(); err != nil {
				return err
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return fmt.Errorf("invalid character %q looking for a value", c)
}

// next returns the byte at s.pos, reading more when needed; false at the end of
// the input.
func (s *jsonScanner) next() (byte, bool) {
	if s.pos < s.end || s.fill() {
		return s.buf[s.pos], true
	}
	return 0, false
}

// str reads a string (s.pos at its quote): what encoding/json accepts in one,
// bytes below 0x20 refused, escapes checked; invalid UTF-8 allowed (it decodes
// it as U+FFFD).
func (s *jsonScanner) str() error {
	s.pos++
	for {
		s.pos = plainRun(s.buf[:s.end], s.pos)
		c, ok := s.next()
		if !ok {
			return s.readErr()
		}
		s.pos++
		switch {
		case c == '"':
			return nil
		case c < 0x20:
			return fmt.Errorf("invalid character %q in string literal", c)
		case c == '\\':
			e, ok := s.next()
			if !ok {
				return s.readErr()
			}
			s.pos++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					h, ok := s.next()
					if !ok {
						return s.readErr()
					}
					s.pos++
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return fmt.Errorf("invalid character %q in \\u hexadecimal character escape", h)
					}
				}
			default:
				return fmt.Errorf("invalid character %q in string escape code", e)
			}
		}
	}
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScanner) number() error {
	c, _ := s.next()
	if c == '-' {
		s.pos++
		if c, ok := s.next(); !ok || c < '0' || c > '9' {
			if !ok {
				return s.readErr()
			}
			return fmt.Errorf("invalid character %q in numeric literal", c)
		}
	}
	digits := func() int {
		n := 0
		for {
			c, ok := s.next()
			if !ok || c < '0' || c > '9' {
				return n
			}
			s.pos++
			n++
		}
	}
	if c, _ := s.next(); c == '0' {
		s.pos++
	} else {
		digits()
	}
	if c, ok := s.next(); ok && c == '.' {
		s.pos++
		if digits() == 0 {
			return s.numberErr()
		}
	}
	if c, ok := s.next(); ok && (c == 'e' || c == 'E') {
		s.pos++
		if c, ok := s.next(); ok && (c == '+' || c == '-') {
			s.pos++
		}
		if digits() == 0 {
			return s.numberErr()
		}
	}
	return nil
}

// numberErr is the error for a number cut short: at the end of the input, or at
// a byte that cannot continue it.
func (s *jsonScanner) numberErr() error {
	c, ok := s.next()
	if !ok {
		return s.readErr()
	}
	return fmt.Errorf("invalid character %q in numeric literal", c)
}

// literal reads true, false or null.
func (s *jsonScanner) literal(word string) error {
	for i := range len(word) {
		c, ok := s.next()
		if !ok {
			return s.readErr()
		}
		if c != word[i] {
			return fmt.Errorf("invalid character %q in literal %s", c, word)
		}
		s.pos++
	}
	return nil
}

// atEnd reports whether nothing but white space is left.
func (s *jsonScanner) atEnd() error {
	if _, ok := s.peek(); ok {
		return errors.New("data after the report")
	}
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return nil
}

// scanValue reads the array or object at the start of b, all of it in b, as value
// does (what encoding/json accepts, nested at most room deep), and returns its
// length; false when it is not all in b, is nested more than room or 64 deep, or is
// not valid: value then reads it again, a byte at a time, for the error. It reads
// the slice only: no refill, no error built, no call for each token.
func scanValue(b []byte, room int) (n int, ok bool) {
	var objects uint64 // bit d: the container at depth d+1 is an object
	depth, i := 0, skipSpace(b, 0)
	if i == len(b) || b[i] != '{' && b[i] != '[' {
		return 0, false
	}
	for {
		// A value at i (after white space).
		if i = skipSpace(b, i); i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth >= 64 || depth >= room {
				return 0, false
			}
			objects &^= 1 << depth
			if c == '{' {
				objects |= 1 << depth
			}
			depth++
			if i = skipSpace(b, i+1); i >= len(b) {
				return 0, false
			}
			if b[i] == c+2 { // '}' and ']' are two past '{' and '['
				depth--
				i++
				break
			}
			if c == '{' {
				if i, ok = scanKey(b, i); !ok {
					return 0, false
				}
			}
			continue // its first element
		case c == '"':
			if i, ok = scanString(b, i); !ok {
				return 0, false
			}
		case c == '-' || c >= '0' && c <= '9':
			if i, ok = scanNumber(b, i); !ok {
				return 0, false
			}
		case c == 't':
			if i, ok = scanWord(b, i, "true"); !ok {
				return 0, false
			}
		case c == 'f':
			if i, ok = scanWord(b, i, "false"); !ok {
				return 0, false
			}
		case c == 'n':
			if i, ok = scanWord(b, i, "null"); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
		// After a value: the next element, or the closing of its container.
		for {
			if depth == 0 {
				return i, true
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, false
			}
			object := objects>>(depth-1)&1 == 1
			c := b[i]
			if c == ',' {
				if object {
					if i, ok = scanKey(b, skipSpace(b, i+1)); !ok {
						return 0, false
					}
				} else {
					i++
				}
				break
			}
			if object && c == '}' || !object && c == ']' {
				depth--
				i++
				continue
			}
			return 0, false
		}
	}
}

// skipSpace returns where the white space from b[i] ends.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanKey reads an object's key at b[i] and the ':' after it, returning where its
// value may start.
func scanKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, ok := scanString(b, i)
	if !ok {
		return 0, false
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

// scanString reads a string at b[i] (its quote) as str does, returning where it
// ends.
func scanString(b []byte, i int) (int, bool) {
	i++
	for {
		if i = plainRun(b, i); i >= len(b) {
			return 0, false
		}
		c := b[i]
		i++
		switch {
		case c == '"':
			return i, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			if i >= len(b) {
				return 0, false
			}
			e := b[i]
			i++
			switch e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 > len(b) {
					return 0, false
				}
				for _, h := range b[i : i+4] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return 0, false
					}
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
}

// scanNumber reads a number at b[i] as number does, returning where it ends: a
// byte that cannot continue it must follow in b (at b's end, more may come).
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) (int, int) {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return i, n
	}
	if b[i] == '-' {
		i++
	}
	var n int
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == '0':
		i++
	default:
		if i, n = digits(i); n == 0 {
			return 0, false
		}
	}
	if i < len(b) && b[i] == '.' {
		if i, n = digits(i + 1); n == 0 {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, n = digits(i); n == 0 {
			return 0, false
		}
	}
	return i, i < len(b)
}

// scanWord reads the literal word at b[i].
func scanWord(b []byte, i int, word string) (int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return 0, false
	}
	return i + len(word), true
}

// plainRun returns where the run of bytes a string holds as they are (none below
// 0x20, no '"' or '\\') that starts at b[i] ends, read eight bytes at a time: at
// the first byte that is not plain, or where fewer than eight are left.
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		quote, backslash := x^(ones*'"'), x^(ones*'\\')
		if m := ((x-ones*0x20)&^x | (quote-ones)&^quote | (backslash-ones)&^backslash) & high; m != 0 {
			// The lowest byte marked is the first that is not plain (a byte above
			// it may be marked by the borrow, never one below).
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

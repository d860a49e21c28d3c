package report

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"
)

// The records of a report (analyzer.Connection, analyzer.Finding, Incident) are
// encoded by hand: encoding/json's reflection was about a tenth of the run time of a
// large capture's -o json. The output is byte for byte what encoding/json writes with
// SetEscapeHTML(false), passed through EscapeControls (jsonrec_test.go compares the
// two on random records and fuzzed values): the same field order, omitempty rules,
// float and time formats and string escaping. A value encoding/json refuses (a NaN or infinite float, a time
// outside the years 0-9999 or with a zone offset of 24 hours or more) is handed to
// encoding/json, so that the error is its error too.
//
// A field added to either type, or to the types they hold, must be added here: the
// randomized test fills every field and fails until it is.

// appendConnectionJSON appends c as encoding/json encodes it (no newline): an item
// of the connections array of -o json.
func appendConnectionJSON(dst []byte, c *analyzer.Connection) ([]byte, error) {
	b, ok := appendConnectionFields(append(dst, '{'), c)
	if !ok {
		return appendJSONReference(dst, c, false)
	}
	return append(b, '}'), nil
}

// appendFindingJSON appends f as encoding/json encodes it (no newline).
func appendFindingJSON(dst []byte, f *analyzer.Finding) ([]byte, error) {
	b, ok := appendFindingFields(append(dst, '{'), f)
	if !ok {
		return appendJSONReference(dst, f, false)
	}
	return append(b, '}'), nil
}

// appendConnectionNDJSON appends the line of c in -o ndjson (ndjsonConnection, with
// its newline).
func appendConnectionNDJSON(dst []byte, c *analyzer.Connection) ([]byte, error) {
	b, ok := appendConnectionFields(append(dst, `{"type":"connection",`...), c)
	if !ok {
		return appendJSONReference(dst, ndjsonConnection(c), true)
	}
	return append(b, '}', '\n'), nil
}

// appendFindingNDJSON appends the line of f in -o ndjson (ndjsonFinding).
func appendFindingNDJSON(dst []byte, f *analyzer.Finding) ([]byte, error) {
	b, ok := appendFindingFields(append(dst, `{"type":"finding",`...), f)
	if !ok {
		return appendJSONReference(dst, ndjsonFinding(f), true)
	}
	return append(b, '}', '\n'), nil
}

// appendJSONReference encodes v with encoding/json, for the values the appenders
// leave to it (those it reports an error for).
func appendJSONReference(dst []byte, v any, newline bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	b := EscapeControls(buf.Bytes())
	if !newline {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	return append(dst, b...), nil
}

// appendConnectionFields appends the members of c, without braces. ok is false when
// a value is one encoding/json refuses.
func appendConnectionFields(b []byte, c *analyzer.Connection) (_ []byte, ok bool) {
	ok = true
	b = append(b, `"client":`...)
	b = appendJSONEndpoint(b, c.Client)
	b = append(b, `,"server":`...)
	b = appendJSONEndpoint(b, c.Server)
	b = append(b, `,"roles_known":`...)
	b = strconv.AppendBool(b, c.RolesKnown)
	b = appendJSONVLAN(b, `,"vlan":[`, c.VLAN)
	b = appendJSONVLAN(b, `,"server_vlan":[`, c.ServerVLAN)
	b = appendJSONTunnel(b, c.Tunnel)
	b = append(b, `,"incarnation":`...)
	b = analyzer.AppendInt(b, int64(c.Incarnation))
	b = append(b, `,"first_frame":`...)
	b = analyzer.AppendUint(b, c.FirstFrame)
	b = append(b, `,"last_frame":`...)
	b = analyzer.AppendUint(b, c.LastFrame)
	b = append(b, `,"start":`...)
	b, ok = appendJSONTime(b, c.Start, ok)
	b = append(b, `,"end":`...)
	b, ok = appendJSONTime(b, c.End, ok)
	b = append(b, `,"packets":`...)
	b = analyzer.AppendUint(b, c.Packets)
	b = append(b, `,"close":`...)
	b = appendJSONString(b, string(c.Close))
	b = append(b, `,"active_closer":`...)
	b = appendJSONString(b, c.ActiveCloser)
	b = append(b, `,"time_wait_holder":`...)
	b = appendJSONString(b, c.TimeWaitHolder)
	if c.TimeWaitUntil != "" {
		b = append(b, `,"time_wait_until":`...)
		b = appendJSONString(b, c.TimeWaitUntil)
	}
	b = append(b, `,"history":`...)
	b = appendJSONString(b, c.History)
	b = append(b, `,"fin":{`...)
	sep := false
	if c.FIN.Client != nil {
		b = append(b, `"client":`...)
		b, ok = appendFinAckJSON(b, c.FIN.Client, ok)
		sep = true
	}
	if c.FIN.Server != nil {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"server":`...)
		b, ok = appendFinAckJSON(b, c.FIN.Server, ok)
	}
	b = append(b, `},"fins":`...)
	b = appendPairJSON(b, c.FINs)
	b = append(b, `,"rsts":`...)
	b = appendPairJSON(b, c.RSTs)
	if c.ResetBy != "" {
		b = append(b, `,"reset_by":`...)
		b = appendJSONString(b, c.ResetBy)
	}
	if c.IdleBeforeEndMS != nil {
		b = append(b, `,"idle_before_end_ms":`...)
		b, ok = appendJSONFloat(b, *c.IdleBeforeEndMS, ok)
	}
	if c.Reused {
		b = append(b, `,"reused":true`...)
	}
	if c.Dropped != "" {
		b = append(b, `,"dropped":`...)
		b = appendJSONString(b, c.Dropped)
	}
	return b, ok
}

func appendFinAckJSON(b []byte, f *analyzer.FinAck, ok bool) ([]byte, bool) {
	b = append(b, `{"frame":`...)
	b = analyzer.AppendUint(b, f.Frame)
	if f.AckedBy != 0 {
		b = append(b, `,"acked_by":`...)
		b = analyzer.AppendUint(b, f.AckedBy)
	}
	if f.AckedAfterMS != nil {
		b = append(b, `,"acked_after_ms":`...)
		b, ok = appendJSONFloat(b, *f.AckedAfterMS, ok)
	}
	return append(b, '}'), ok
}

func appendPairJSON(b []byte, p analyzer.Pair) []byte {
	b = append(b, `{"client":`...)
	b = analyzer.AppendUint(b, uint64(p.Client))
	b = append(b, `,"server":`...)
	b = analyzer.AppendUint(b, uint64(p.Server))
	return append(b, '}')
}

// appendJSONVLAN appends a member of tags (`,"vlan":[...]`; member is its start)
// when there are tags (omitempty).
func appendJSONVLAN(b []byte, member string, vlan []uint16) []byte {
	if len(vlan) == 0 {
		return b
	}
	return append(appendTags(append(b, member...), vlan, ','), ']')
}

// appendTags appends the tags in decimal, sep between them.
func appendTags(b []byte, vlan []uint16, sep byte) []byte {
	for i, v := range vlan {
		if i > 0 {
			b = append(b, sep)
		}
		b = analyzer.AppendUint(b, uint64(v))
	}
	return b
}

// appendJSONTunnel appends the member `,"tunnel":"..."` when there is one (omitempty).
func appendJSONTunnel(b []byte, tunnel string) []byte {
	if tunnel == "" {
		return b
	}
	b = append(b, `,"tunnel":`...)
	return appendJSONString(b, tunnel)
}

// appendFindingFields appends the members of f, without braces.
func appendFindingFields(b []byte, f *analyzer.Finding) (_ []byte, ok bool) {
	ok = true
	b = append(b, `"kind":`...)
	b = appendJSONString(b, string(f.Kind))
	b = append(b, `,"client":`...)
	b = appendJSONEndpoint(b, f.Client)
	b = append(b, `,"server":`...)
	b = appendJSONEndpoint(b, f.Server)
	b = appendJSONVLAN(b, `,"vlan":[`, f.VLAN)
	b = appendJSONVLAN(b, `,"server_vlan":[`, f.ServerVLAN)
	b = appendJSONTunnel(b, f.Tunnel)
	b = append(b, `,"incarnation":`...)
	b = analyzer.AppendInt(b, int64(f.Incarnation))
	b = appendJSONUints(append(b, `,"frames":`...), f.Frames) // no omitempty
	b = append(b, `,"time":`...)
	b, ok = appendJSONTime(b, f.Time, ok)
	if f.Count != nil {
		b = append(b, `,"count":`...)
		b = analyzer.AppendUint(b, *f.Count)
	}
	if f.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = appendJSONString(b, string(f.Outcome))
	}
	if f.Verdict != "" {
		b = append(b, `,"verdict":`...)
		b = appendJSONString(b, string(f.Verdict))
	}
	if f.Sender != "" {
		b = append(b, `,"sender":`...)
		b = appendJSONString(b, f.Sender)
	}
	if f.Cause != "" {
		b = append(b, `,"cause":`...)
		b = appendJSONString(b, string(f.Cause))
	}
	if len(f.IntervalsMS) > 0 {
		b = append(b, `,"intervals_ms":[`...)
		for i, x := range f.IntervalsMS {
			if i > 0 {
				b = append(b, ',')
			}
			b, ok = appendJSONFloat(b, x, ok)
		}
		b = append(b, ']')
	}
	if f.DurationMS != nil {
		b = append(b, `,"duration_ms":`...)
		b, ok = appendJSONFloat(b, *f.DurationMS, ok)
	}
	if f.TimeWaitHolder != "" {
		b = append(b, `,"time_wait_holder":`...)
		b = appendJSONString(b, f.TimeWaitHolder)
	}
	if len(f.NATEvidence) > 0 {
		b = append(b, `,"nat_evidence":[`...)
		for i, s := range f.NATEvidence {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	if f.AckAfterTap {
		b = append(b, `,"ack_lost_after_tap":true`...)
	}
	b = append(b, `,"message":`...)
	b = appendJSONString(b, f.Message)
	return b, ok
}

// appendJSONFloat appends f as encoding/json's floatEncoder (64 bits) does: like
// ES6's number to string conversion. A NaN or an infinity clears ok.
func appendJSONFloat(b []byte, f float64, ok bool) ([]byte, bool) {
	if b, done := appendMillis(b, f); done {
		return b, ok
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, ok
}

// appendMillis appends f as appendJSONFloat does when f is a whole number of
// thousandths, from 0.001 to 2^30/1000 either way: what finack writes, milliseconds
// rounded to the microsecond (analyzer's roundMS). done is false for any other value.
// strconv's shortest formatting was about a fifth of encoding a connection.
//
// For such an f, the shortest decimal that reads back as f is n/1000, n the
// thousandths (f is the float64 nearest to n/1000): any other decimal with as few
// digits is at least 0.0001 away, and f's neighbours are less than 1e-9 away. So
// the digits are n's, the point 3 from the right, trailing zeros dropped; and
// encoding/json writes f in the 'f' format (1e-6 <= |f| < 1e21).
func appendMillis(b []byte, f float64) (_ []byte, done bool) {
	abs := math.Abs(f)
	n := math.Round(abs * 1000)
	if !(n >= 1 && n < 1<<30) || n/1000 != abs { // NaN fails every comparison
		return b, false
	}
	if f < 0 {
		b = append(b, '-')
	}
	u := uint64(n)
	b = analyzer.AppendUint(b, u/1000)
	if frac := u % 1000; frac != 0 {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b, true
}

// appendJSONTime appends t as time.Time's MarshalJSON does: quoted RFC 3339 with
// nanoseconds. A time it refuses (year outside [0,9999], zone hour outside [0,23])
// clears ok.
func appendJSONTime(b []byte, t time.Time, ok bool) ([]byte, bool) {
	if b, done := appendUTC(b, t); done {
		return b, ok
	}
	b = append(b, '"')
	n0 := len(b)
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The checks of time.Time.appendStrictRFC3339.
	num2 := func(b []byte) byte { return 10*(b[0]-'0') + (b[1] - '0') }
	switch {
	case b[n0+len("9999")] != '-':
		ok = false
	case b[len(b)-1] != 'Z':
		c := b[len(b)-len("Z07:00")]
		if ('0' <= c && c <= '9') || num2(b[len(b)-len("07:00"):]) >= 24 {
			ok = false
		}
	}
	return append(b, '"'), ok
}

// appendUTC appends t quoted as appendJSONTime does, when t is in UTC (every time
// of a report) and of the years 0-9999 (analyzer.AppendTime); done is false
// otherwise. time.Time's formatting, general, was over a quarter of encoding a
// connection.
func appendUTC(b []byte, t time.Time) (_ []byte, done bool) {
	n := len(b)
	if b, done = analyzer.AppendTime(append(b, '"'), t); !done {
		return b[:n], false
	}
	return append(b, '"'), true
}

// plainWords skips, from s[i], the runs of 8 bytes that appendJSONString copies as
// they are (none below 0x20, no DEL, none from 0x80, no '"' and no '\\'). It returns where
// the first run that is not, or the last short one, starts.
//
// A word x is tested at once (notPlain): x itself has a high bit in each byte from
// 0x80. Where there is none, each other term sets a high bit in the lowest byte
// that matches (and maybe in bytes above it, by a borrow), never below it: x-0x20
// for a byte below 0x20, (x^c)-1 for a byte equal to c, x+1 (no carry) for DEL.
// Whether some byte matches is all that is asked. Two words a turn: half the loop's
// tests and jumps.
func plainWords(s string, i int) int {
	for ; i+16 <= len(s); i += 16 {
		if notPlain(word(s, i))|notPlain(word(s, i+8)) != 0 {
			if notPlain(word(s, i)) == 0 {
				i += 8
			}
			return i
		}
	}
	if i+8 <= len(s) && notPlain(word(s, i)) == 0 {
		i += 8
	}
	return i
}

// word returns the 8 bytes of s at i, little endian (one load).
func word(s string, i int) uint64 {
	w := s[i : i+8]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// notPlain is not 0 when a byte of x is one appendJSONString does not copy as it is
// (see plainWords).
func notPlain(x uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\') // 0 where a byte is one
	return (x | (x - ones*0x20) | (quote - ones) | (backslash - ones) | (x + ones)) & high
}

// appendJSONUints appends ns as encoding/json writes a []uint64: null for nil, []
// for empty.
func appendJSONUints(b []byte, ns []uint64) []byte {
	if ns == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = analyzer.AppendUint(b, n)
	}
	return append(b, ']')
}

// appendJSONEndpoint appends an endpoint as a JSON string (analyzer.AppendEndpoint's
// text: digits, dots, colons and brackets, nothing to escape; a zone, which could
// hold anything, goes through appendJSONString).
func appendJSONEndpoint(dst []byte, ap netip.AddrPort) []byte {
	if ap.Addr().Zone() != "" {
		return appendJSONString(dst, analyzer.EndpointString(ap))
	}
	dst = analyzer.AppendEndpoint(append(dst, '"'), ap)
	return append(dst, '"')
}

// jsonPlain[c]: appendJSONString copies byte c as it is (see plainWords).
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s quoted as encoding/json's appendString does with HTML
// escaping off: \" and \\, \b \f \n \r \t, other control characters as \u00XX,
// U+2028 and U+2029 escaped, each byte of invalid UTF-8 as \ufffd; and DEL and
// the C1 controls as \u007f and \u0080 to \u009f, as EscapeControls does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	// Plain words first (most of a report's strings are plain), and the short run
	// left by the string's last 8 bytes at once; then byte by byte up to the next
	// byte to escape: plainWords again only after one, not at every byte of a
	// string's tail (a call each, most of the cost of the short strings of a
	// record: "client", "server").
	i := plainWords(s, 0)
	if n := len(s); n-i < 8 && n >= 8 && notPlain(word(s, n-8)) == 0 {
		i = n // the short run left is plain: the string's last 8 bytes are
	}
	for i < len(s) {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			i = plainWords(s, i)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + size
		case r >= 0x80 && r <= 0x9f: // C1
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xF])
			start = i + size
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			start = i + size
		}
		i = plainWords(s, i+size)
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

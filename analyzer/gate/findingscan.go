package gate

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strings"

	"github.com/finack/finack/analyzer"
)

// decodeSavedFinding decodes raw, one JSON value whose syntax the scanner checked,
// into f as json.Unmarshal does, for a finding as finack writes it: an object
// without white space, its keys the fields' names as written, its strings free of
// escapes and of bytes past ASCII, its numbers whole. Anything else (another form,
// a type encoding/json would refuse, a null where a field is) gives false, f
// undefined: json.Unmarshal decodes that one, with its errors. (encoding/json checks
// a value and then decodes it, through reflection: two passes, and a report holds
// tens of thousands of findings.) TestDecodeSavedFinding and FuzzDecodeSavedFinding
// compare the two.
func decodeSavedFinding(raw []byte, f *savedFinding, intern map[string]string) bool {
	p := findingScan{b: raw, intern: intern}
	if !p.byte('{') {
		return false
	}
	if p.byte('}') {
		return p.i == len(p.b)
	}
	for {
		key, ok := p.plain()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(key) {
		case "kind":
			s, ok := p.str()
			if !ok {
				return false
			}
			f.Kind = analyzer.Kind(s)
		case "client", "server":
			s, ok := p.plain()
			if !ok {
				return false
			}
			ap := &f.Client
			if key[0] == 's' {
				ap = &f.Server
			}
			if ap.UnmarshalText(s) != nil {
				return false
			}
		case "vlan", "server_vlan":
			v, ok := p.uints(math.MaxUint16)
			if !ok {
				return false
			}
			tags := make([]uint16, len(v))
			for i, x := range v {
				tags[i] = uint16(x)
			}
			if key[0] == 'v' {
				f.VLAN = tags
			} else {
				f.ServerVLAN = tags
			}
		case "tunnel":
			s, ok := p.str()
			if !ok {
				return false
			}
			f.Tunnel = s
		case "incarnation":
			n, ok := p.int()
			if !ok {
				return false
			}
			f.Incarnation = n
		case "frames":
			v, ok := p.uints(math.MaxUint64)
			if !ok {
				return false
			}
			f.Frames = append([]uint64{}, v...)
		case "count":
			n, ok := p.uint(math.MaxUint64)
			if !ok {
				return false
			}
			f.Count = &n
		case "outcome", "verdict", "sender", "cause":
			s, ok := p.str()
			if !ok {
				return false
			}
			switch key[0] {
			case 'o':
				f.Outcome = analyzer.Outcome(s)
			case 'v':
				f.Verdict = analyzer.Verdict(s)
			case 's':
				f.Sender = s
			default:
				f.Cause = analyzer.Cause(s)
			}
		case "time", "intervals_ms", "duration_ms", "time_wait_holder", "nat_evidence", "ack_lost_after_tap", "message":
			// The other keys finack writes (analyzer.Finding's): read past.
			if !p.skip() {
				return false
			}
		default:
			// A key encoding/json would match to a field whatever its case is
			// that field's.
			for _, name := range savedFindingKeys {
				if strings.EqualFold(string(key), name) {
					return false
				}
			}
			if !p.skip() {
				return false
			}
		}
		if p.byte(',') {
			continue
		}
		return p.byte('}') && p.i == len(p.b)
	}
}

// ones and high: a byte of each, and each byte's high bit, for the tests of eight
// bytes at a time.
const ones, high = 0x0101010101010101, 0x8080808080808080

// savedFindingKeys are the JSON names of savedFinding's fields.
var savedFindingKeys = [...]string{"kind", "client", "server", "vlan", "server_vlan", "tunnel", "incarnation",
	"frames", "count", "outcome", "verdict", "sender", "cause"}

// findingScan reads a finding's bytes for decodeSavedFinding.
type findingScan struct {
	b      []byte
	i      int
	nums   [8]uint64 // uints' room for short arrays
	intern map[string]string
}

// byte consumes c when it comes next.
func (p *findingScan) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// plain reads a string of plain ASCII (no escape) and returns its bytes.
func (p *findingScan) plain() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// str is plain as a string, the same string for the same bytes (the kinds,
// verdicts and outcomes a report repeats) while the intern table has room.
func (p *findingScan) str() (string, bool) {
	b, ok := p.plain()
	if !ok {
		return "", false
	}
	if s, ok := p.intern[string(b)]; ok {
		return s, true
	}
	s := string(b)
	if len(p.intern) < 1024 {
		p.intern[s] = s
	}
	return s, true
}

// uint reads a whole number of at most limit.
func (p *findingScan) uint(limit uint64) (uint64, bool) {
	start := p.i
	var n uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
		p.i++
	}
	if p.i == start || p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	return n, true
}

// int reads a whole number that fits an int.
func (p *findingScan) int() (int, bool) {
	neg := p.byte('-')
	n, ok := p.uint(math.MaxInt)
	if !ok {
		return 0, false
	}
	if neg {
		return -int(n), true
	}
	return int(n), true
}

// uints reads an array of whole numbers of at most limit (not null), in memory
// that is p's until the next call.
func (p *findingScan) uints(limit uint64) ([]uint64, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := p.nums[:0]
	if p.byte(']') {
		return out, true
	}
	for {
		n, ok := p.uint(limit)
		if !ok {
			return nil, false
		}
		out = append(out, n)
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// skip reads past a value (its syntax checked): a string, number or literal, or an
// array or object, whatever it holds; p.i is then at the ',' or '}' after it.
func (p *findingScan) skip() bool {
	depth := 0
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			for {
				// Eight bytes at a time up to the first '"' or '\\' (the
				// lowest byte marked: see jsonScanner.str).
				for p.i+8 <= len(p.b) {
					x := binary.LittleEndian.Uint64(p.b[p.i:])
					quote, backslash := x^(ones*'"'), x^(ones*'\\')
					if m := ((quote-ones)&^quote | (backslash-ones)&^backslash) & high; m != 0 {
						p.i += bits.TrailingZeros64(m) >> 3
						break
					}
					p.i += 8
				}
				if p.i >= len(p.b) {
					return false
				}
				if p.b[p.i] == '"' {
					p.i++
					break
				}
				p.i++
				if p.b[p.i-1] == '\\' {
					p.i++ // (the escaped byte)
				}
			}
		case c == '[' || c == '{':
			depth++
			p.i++
		case c == ']' || c == '}':
			if depth == 0 {
				return true
			}
			depth--
			p.i++
		case c == ',' && depth == 0:
			return true
		default:
			p.i++
		}
	}
	return false
}

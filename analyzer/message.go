package analyzer

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The messages of findings are written with appendf, not fmt.Sprintf: fmt boxed
// every argument in an interface (an allocation for each number and string) and each
// part of a message was a string of its own, which made most of the cost of analysing
// a finding. appendf takes the same format strings, %s and %d only, with typed
// arguments (str, num, dur, endpoint), and writes a message in one buffer, copied then to the
// analysis's arena (arena.go): no allocation of its own.

// arg is an argument of appendf: a string (str), an integer (num), a duration
// (dur, written by appendMS) or an endpoint (endpoint, written by AppendEndpoint).
type arg struct {
	kind argKind
	s    string
	i    int64 // a negative integer, or a duration in ns
	u    uint64
	ep   netip.AddrPort
}

type argKind uint8

const (
	argString argKind = iota
	argInt
	argUint
	argDuration
	argEndpoint
)

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

func str(s string) arg { return arg{kind: argString, s: s} }

func num[T integer](n T) arg {
	if n < 0 {
		return arg{kind: argInt, i: int64(n)}
	}
	return arg{kind: argUint, u: uint64(n)}
}

func dur(d time.Duration) arg { return arg{kind: argDuration, i: int64(d)} }

func endpoint(ap netip.AddrPort) arg { return arg{kind: argEndpoint, ep: ap} }

// appendf appends format with each verb (%s, %d) replaced by the next argument, as
// fmt.Appendf writes a string with %s and an integer with %d. The verb's letter is
// not checked: each argument is written as what it is.
func appendf(b []byte, format string, args ...arg) []byte {
	for {
		i := strings.IndexByte(format, '%')
		if i < 0 || i+1 >= len(format) || len(args) == 0 {
			return append(b, format...)
		}
		b = append(b, format[:i]...)
		format = format[i+2:]
		switch a := &args[0]; a.kind { // a pointer: an arg is 72 bytes
		case argString:
			b = append(b, a.s...)
		case argInt:
			b = AppendInt(b, a.i)
		case argUint:
			b = AppendUint(b, a.u)
		case argDuration:
			b = appendMS(b, time.Duration(a.i))
		case argEndpoint:
			b = AppendEndpoint(b, a.ep)
		}
		args = args[1:]
	}
}

// appendMS renders a duration for messages: "1.234s", "201ms", "850µs" (what fmt's
// "%.3fs", "%.1fms" and "%dµs" wrote).
func appendMS(b []byte, d time.Duration) []byte {
	switch {
	case d >= time.Second:
		return append(strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64), 's')
	case d >= time.Millisecond:
		return append(strconv.AppendFloat(b, float64(d)/1e6, 'f', 1, 64), "ms"...)
	default:
		return append(strconv.AppendInt(b, d.Microseconds(), 10), "µs"...)
	}
}

package analyzer

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"
)

// AppendUint appends u in decimal, as strconv.AppendUint(b, u, 10) does, writing the
// digits in place, two at a time (digits2): strconv's formats them in a buffer of its
// own and copies them (a call to memmove per number, a dozen numbers a record).
func AppendUint(b []byte, u uint64) []byte {
	if u < 10 {
		return append(b, byte('0'+u))
	}
	// The number of digits: log10 from the bit length (1233/4096 ~ log10(2)), one
	// too many when u is below that power of ten.
	n := bits.Len64(u) * 1233 >> 12
	if u >= pow10[n] {
		n++
	}
	l := len(b)
	if cap(b)-l < n {
		b = slices.Grow(b, n)
	}
	b = b[:l+n]
	i := l + n
	for u >= 100 {
		q := u / 100
		i -= 2
		binary.LittleEndian.PutUint16(b[i:], digits2[(u-q*100)&127])
		u = q
	}
	if u >= 10 {
		binary.LittleEndian.PutUint16(b[l:], digits2[u&127])
	} else {
		b[l] = byte('0' + u)
	}
	return b
}

// AppendInt appends i in decimal, as strconv.AppendInt(b, i, 10) does.
func AppendInt(b []byte, i int64) []byte {
	if i < 0 {
		return strconv.AppendInt(b, i, 10)
	}
	return AppendUint(b, uint64(i))
}

// pow10[n] is 10^n.
var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// digits2[n] holds the two digits of n (0 to 99) as they are written, the first in
// the low byte: one 16-bit store writes both. 128 entries: an index masked with 127
// needs no bounds check.
var digits2 = func() (t [128]uint16) {
	for i := range 100 {
		t[i] = uint16('0'+i/10) | uint16('0'+i%10)<<8
	}
	return t
}()

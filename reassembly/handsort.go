package reassembly

import (
	"math/bits"
	"unsafe"
)

// byFirst is what the tracker sorts to hand incarnations out: entries led by their
// key (a first frame, or handKey), by the tens of thousands (Finish sorts one for
// every incarnation held). A comparison sort would compare them through a func
// value at every step: sortByFirst is a radix sort instead.
type byFirst interface {
	handOrder | packedFinal | finished
}

// Each byFirst type leads with its key (sortByFirst reads it there): an offset
// other than 0 is a constant index out of range of this array.
var _ = [1]struct{}{}[unsafe.Offsetof(handOrder{}.first)+unsafe.Offsetof(packedFinal{}.first)+unsafe.Offsetof(finished{}.first)]

// firstOf is the key of an entry: its first field.
func firstOf[T byFirst](e *T) uint64 { return *(*uint64)(unsafe.Pointer(e)) }

// radixBits: the bits of the key each pass of sortByFirst sorts on (2,048
// counters: 16 KB, in the first level of the cache).
const radixBits = 11

// sortByFirst sorts x by key, ascending, equal keys in their order in x (stable).
// It passes over the bits in which keys differ from the least, radixBits at a
// time: two passes for the frame numbers of a capture of up to 4 million packets.
// tmp is scratch, grown to len(x) when shorter, and returned for the next call
// (keepScratch: it holds copies of entries, pointers among them, until cleared).
// Short slices are sorted by insertion.
func sortByFirst[T byFirst](x, tmp []T) []T {
	n := len(x)
	if n < 2 {
		return tmp
	}
	lo, hi := firstOf(&x[0]), firstOf(&x[0])
	sorted := true
	for i := 1; i < n; i++ {
		k := firstOf(&x[i])
		if k < firstOf(&x[i-1]) {
			sorted = false
		}
		lo, hi = min(lo, k), max(hi, k)
	}
	if sorted {
		return tmp
	}
	if n <= 32 {
		for i := 1; i < n; i++ {
			for j := i; j > 0 && firstOf(&x[j]) < firstOf(&x[j-1]); j-- {
				x[j], x[j-1] = x[j-1], x[j]
			}
		}
		return tmp
	}
	if cap(tmp) < n {
		tmp = make([]T, n)
	}
	tmp = tmp[:n]
	src, dst := x, tmp
	var count [1 << radixBits]int
	for shift := uint(0); shift < uint(bits.Len64(hi-lo)); shift += radixBits {
		clear(count[:])
		for i := range src {
			count[((firstOf(&src[i])-lo)>>shift)&(1<<radixBits-1)]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i := range src {
			d := ((firstOf(&src[i]) - lo) >> shift) & (1<<radixBits - 1)
			dst[count[d]] = src[i]
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &x[0] {
		copy(x, src)
	}
	return tmp
}

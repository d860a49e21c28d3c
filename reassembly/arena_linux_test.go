//go:build linux

package reassembly

import (
	"encoding/binary"
	"os"
	"testing"
	"unsafe"
)

// pagesWrittenIn reports how many of the pages of b are mapped to memory of the
// process's own (present and exclusively mapped: not the shared zero page), from
// /proc/self/pagemap, and how many pages b spans.
func pagesWrittenIn(t *testing.T, b []byte) (own, pages int) {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no page map to read: %v", err)
	}
	defer func() { _ = f.Close() }() // (read only)
	const page = 4096
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b))) / page
	end := (uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b)) + page - 1) / page
	entries := make([]byte, 8*(end-start))
	if _, err := f.ReadAt(entries, int64(start*8)); err != nil {
		t.Fatalf("reading the page map: %v", err)
	}
	for i := 0; i < len(entries); i += 8 {
		e := binary.LittleEndian.Uint64(entries[i:])
		if e&(1<<63) != 0 && e&(1<<56) != 0 { // present, exclusively mapped
			own++
		}
	}
	return own, int(end - start)
}

// TestArenaChunksWrittenIn: a chunk the arena maps has every page written in when
// its first slot is carved (memory's writeIn), none left to the zero page.
func TestArenaChunksWrittenIn(t *testing.T) {
	a := &arena{}
	defer a.release()
	for len(a.chunks) < 5 { // the first four chunks are on the heap
		a.carve(int(flowClass))
	}
	c := a.chunks[4]
	if len(c) <= smallMemory {
		t.Fatalf("fifth chunk of %d bytes: not a mapped one", len(c))
	}
	if own, pages := pagesWrittenIn(t, c); own != pages {
		t.Errorf("a chunk just mapped: %d of its %d pages written in", own, pages)
	}
}

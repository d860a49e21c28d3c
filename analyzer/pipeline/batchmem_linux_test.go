//go:build linux

package pipeline

import (
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// TestBatchMemWrittenIn: a new batch's memory has every page written in as it is
// made (batchMems), none left to the zero page for the reader's first writes. Its
// pages are read from /proc/self/pagemap: present and exclusively mapped.
func TestBatchMemWrittenIn(t *testing.T) {
	m := batchMems.New().(*batchMem)
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no page map to read: %v", err)
	}
	defer func() { _ = f.Close() }() // (read only)
	const page = 4096
	p := uintptr(unsafe.Pointer(m))
	// The pages wholly inside the batch: those at its ends may be shared with
	// other objects.
	first, end := (p+page-1)/page, (p+unsafe.Sizeof(*m))/page
	entries := make([]byte, 8*(end-first))
	if _, err := f.ReadAt(entries, int64(first*8)); err != nil {
		t.Fatalf("reading the page map: %v", err)
	}
	own := 0
	for i := 0; i < len(entries); i += 8 {
		if e := binary.LittleEndian.Uint64(entries[i:]); e&(1<<63) != 0 && e&(1<<56) != 0 {
			own++
		}
	}
	if pages := int(end - first); own != pages {
		t.Errorf("a new batch: %d of its %d pages written in", own, pages)
	}
	runtime.KeepAlive(m)
}

//go:build unix

package reassembly

import "syscall"

// mapChunk maps n bytes of zeroed memory outside the Go heap; on failure it falls
// back to the heap.
//
// Where the system can (mapPopulate), the pages are written in as the chunk is
// mapped. Every chunk is soon written through (slots are carved from its start on,
// a table's slots spread over all of it), and a page faulted in by a read first (a
// table probed as it grows) maps the shared zero page: the write that follows
// copies it and flushes the page from the TLB of every core that runs the process,
// an interrupt to each.
func mapChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE|mapPopulate)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// unmapChunk gives back a chunk from mapChunk (one from the heap is left to the
// collector: Munmap refuses memory it did not map).
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }

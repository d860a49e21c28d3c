//go:build unix

package reassembly

import "syscall"

// mapChunk maps n bytes of zeroed memory outside the Go heap; on failure it falls
// back to the heap. populate: the pages are written in as they are mapped, where
// the system can (mapPopulate; see memory for why).
func mapChunk(n int, populate bool) []byte {
	flags := syscall.MAP_ANON | syscall.MAP_PRIVATE
	if populate {
		flags |= mapPopulate
	}
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, flags)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// unmapChunk gives back a chunk from mapChunk (one from the heap is left to the
// collector: Munmap refuses memory it did not map).
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }

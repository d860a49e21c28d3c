//go:build unix

package reassembly

import "syscall"

// mapChunk maps n bytes of zeroed memory outside the Go heap (pages take memory only
// once written); on failure it falls back to the heap.
func mapChunk(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// unmapChunk gives back a chunk from mapChunk (one from the heap is left to the
// collector: Munmap refuses memory it did not map).
func unmapChunk(b []byte) { _ = syscall.Munmap(b) }

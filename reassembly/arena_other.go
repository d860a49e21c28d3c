//go:build !unix

package reassembly

// mapChunk: without mmap, chunks are on the Go heap (the collector counts them).
func mapChunk(n int, _ bool) []byte { return make([]byte, n) }

func unmapChunk([]byte) {}

//go:build !linux

package reassembly

// inMemory: only Linux is asked which file systems are in memory (cold_linux.go).
func inMemory(string) bool { return false }

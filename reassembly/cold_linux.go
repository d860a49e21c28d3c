package reassembly

import "syscall"

// inMemory reports whether dir is on a file system kept in memory (tmpfs, ramfs:
// /tmp on many systems): a file there takes memory as the record did, so the cold
// store does not use it.
func inMemory(dir string) bool {
	const tmpfsMagic, ramfsMagic = 0x01021994, 0x858458f6
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return false // (creating the file will say what is wrong)
	}
	return st.Type == tmpfsMagic || st.Type == ramfsMagic
}

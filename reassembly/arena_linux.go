package reassembly

import "syscall"

// mapPopulate: mapChunk's pages are written in as they are mapped (see memory).
const mapPopulate = syscall.MAP_POPULATE

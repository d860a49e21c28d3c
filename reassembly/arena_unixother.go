//go:build unix && !linux

package reassembly

// mapPopulate: no such flag here; pages come in as they are first touched.
const mapPopulate = 0

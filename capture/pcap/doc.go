// Package pcap reads TCP segments from a network interface through libpcap (Open,
// Live), with libpcap's own drop counts, and lists the interfaces libpcap can
// capture on (Interfaces). Frames are decoded by capture.Decoder, as files are.
// It is one of the two packages that use cgo (capture/bpf is the other): in a
// build without cgo, Open and Interfaces return capture.ErrNoLibpcap.
package pcap

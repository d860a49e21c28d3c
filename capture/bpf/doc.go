// Package bpf compiles BPF filter expressions with libpcap, as tcpdump -r does, for
// capture.Options.Compile. It is one of the two packages that use cgo (capture/pcap
// is the other): in a build without cgo, Compile refuses every expression with
// capture.ErrNoLibpcap.
package bpf

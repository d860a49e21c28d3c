//go:build !cgo

package bpf

import (
	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// Compile refuses every expression in a build without cgo: compiling BPF needs
// libpcap.
func Compile(expr string, lt layers.LinkType, big bool) (capture.Matcher, error) {
	return nil, &capture.FilterError{Expr: expr, Err: capture.ErrNoLibpcap}
}

//go:build !cgo

package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// filter stands for a BPF filter in a build without cgo: compiling BPF needs
// libpcap, so newFilter refuses every expression and no filter is ever made.
type filter struct{}

func newFilter(expr string) (*filter, error) {
	return nil, &FilterError{Expr: expr, Err: ErrNoLibpcap}
}

func (f *filter) match(lt layers.LinkType, big bool, ci *gopacket.CaptureInfo, data []byte) (bool, error) {
	return false, ErrNoLibpcap
}

func (f *filter) prog(lt layers.LinkType, big bool) (struct{}, error) {
	return struct{}{}, &FilterError{Expr: "", Err: ErrNoLibpcap}
}

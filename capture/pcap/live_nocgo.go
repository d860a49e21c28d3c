//go:build !cgo

package pcap

import (
	"io"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// Without cgo there is no libpcap: Open and Interfaces return capture.ErrNoLibpcap,
// so no Live is ever made. Live keeps its method set so that callers build the same.

// Live is a live capture; in a build without cgo none can be opened.
type Live struct{}

// Open returns capture.ErrNoLibpcap: live capture needs libpcap.
func Open(opt Options) (*Live, error) { return nil, capture.ErrNoLibpcap }

// Interfaces returns capture.ErrNoLibpcap: listing devices needs libpcap.
func Interfaces() ([]Interface, error) { return nil, capture.ErrNoLibpcap }

func (l *Live) SetLimit(n uint64)               {}
func (l *Live) LinkName() string                { return "" }
func (l *Live) Name() string                    { return "" }
func (l *Live) LinkType() layers.LinkType       { return 0 }
func (l *Live) SnapLen() int                    { return 0 }
func (l *Live) SaveTo(w io.Writer) error        { return capture.ErrNoLibpcap }
func (l *Live) Flush() error                    { return nil }
func (l *Live) Next(seg *capture.Segment) error { return capture.ErrNoLibpcap }
func (l *Live) Record() (capture.Record, bool)  { return capture.Record{}, false }
func (l *Live) Stats() capture.Stats            { return capture.Stats{} }
func (l *Live) KernelStats() (capture.KernelStats, error) {
	return capture.KernelStats{}, capture.ErrNoLibpcap
}
func (l *Live) Close() error { return nil }

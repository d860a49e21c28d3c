//go:build !cgo

package capture

import (
	"io"

	"github.com/gopacket/gopacket/layers"
)

// Without cgo there is no libpcap: OpenLive and Interfaces return ErrNoLibpcap, so
// no Live is ever made. Live keeps its method set so that callers build the same.

// Live is a live capture; in a build without cgo none can be opened.
type Live struct{}

// OpenLive returns ErrNoLibpcap: live capture needs libpcap.
func OpenLive(opt LiveOptions) (*Live, error) { return nil, ErrNoLibpcap }

// Interfaces returns ErrNoLibpcap: listing devices needs libpcap.
func Interfaces() ([]Interface, error) { return nil, ErrNoLibpcap }

func (l *Live) SetLimit(n uint64)                 {}
func (l *Live) LinkName() string                  { return "" }
func (l *Live) Name() string                      { return "" }
func (l *Live) LinkType() layers.LinkType         { return 0 }
func (l *Live) SnapLen() int                      { return 0 }
func (l *Live) SaveTo(w io.Writer) error          { return ErrNoLibpcap }
func (l *Live) Flush() error                      { return nil }
func (l *Live) Next(seg *Segment) error           { return ErrNoLibpcap }
func (l *Live) Record() (Record, bool)            { return Record{}, false }
func (l *Live) Stats() Stats                      { return Stats{} }
func (l *Live) KernelStats() (KernelStats, error) { return KernelStats{}, ErrNoLibpcap }
func (l *Live) Close() error                      { return nil }

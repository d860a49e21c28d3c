package capture

import (
	"errors"
	"time"
)

// What a live source shares with the rest of finack, whether or not the build has
// libpcap (capture/pcap reads interfaces; the pipeline and metrics only see these).

// Snap lengths of a live capture. The analysis reads headers only: the link header
// (up to 22 bytes with a VLAN tag, 20 for SLL2), IPv4 with options (up to 60) or IPv6
// with a few extension headers, and TCP with every option (up to 60). MinSnapLen,
// also the default, keeps all of that. It matters for how many packets the kernel
// can hold while finack is busy: libpcap's ring packs each packet's captured bytes
// (at most the snap length) into blocks, so a 32 MiB buffer holds about 100,000
// packets at the default (more when they are shorter) but 500 of 64 KiB (a NIC that
// coalesces with GRO/LRO hands over packets that large). MaxSnapLen is libpcap's MAXIMUM_SNAPLEN, what tcpdump
// uses by default: whole packets, for -w.
const (
	MinSnapLen     = 256
	DefaultSnapLen = MinSnapLen
	MaxSnapLen     = 262144
)

// DefaultReadTimeout is how long a live source waits for a packet before returning
// ErrWait, so that a caller that reads in a loop can run its timers while the
// interface is quiet; and the longest a packet waits in the kernel's ring before it
// is delivered (libpcap hands packets over a block at a time).
const DefaultReadTimeout = 100 * time.Millisecond

// ErrWait is returned by a live source's Next when no TCP segment came within the
// read timeout (or only frames that are not segments did): call Next again. It is
// not an error of the capture; it lets a single-goroutine loop run its timers.
var ErrWait = errors.New("capture: no segment yet")

// KernelStats are libpcap's counts for a live capture (pcap_stats), accumulated over
// the run. On Linux: Received counts the packets that passed the kernel filter
// (dropped ones included), Dropped those the kernel dropped because the capture
// buffer was full, IfDropped those the interface itself dropped (not counted for
// "any").
type KernelStats struct {
	Received, Dropped, IfDropped uint64
}

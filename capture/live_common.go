package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Live capture: a network interface read through libpcap, handing out Segments as a
// file Reader does (same decoder, same link-type mapping, same frame numbering: every
// frame libpcap delivers counts), plus libpcap's own statistics (packets the kernel
// dropped) that a file cannot have.

// Snap lengths of a live capture. The analysis reads headers only: the link header
// (up to 22 bytes with a VLAN tag, 20 for SLL2), IPv4 with options (up to 60) or IPv6
// with a few extension headers, and TCP with every option (up to 60). MinSnapLen,
// also the default, keeps all of that. It matters for how many packets the kernel
// can hold while finack is busy: in immediate mode libpcap's ring has one fixed-size
// slot per packet, as large as the snap length (capped by the interface MTU on
// Ethernet, or 64 KiB when the NIC coalesces with GRO/LRO), so a 32 MiB buffer holds
// about 100,000 packets at 256 bytes but 500 at 64 KiB. MaxSnapLen is libpcap's
// MAXIMUM_SNAPLEN, what tcpdump uses by default: whole packets, for -w.
const (
	MinSnapLen     = 256
	DefaultSnapLen = MinSnapLen
	MaxSnapLen     = 262144
)

// DefaultReadTimeout is how long Next waits for a packet before returning ErrWait, so
// that a caller that reads in a loop can run its timers while the interface is quiet.
const DefaultReadTimeout = 100 * time.Millisecond

// LiveOptions configure OpenLive.
type LiveOptions struct {
	// IgnoreVLAN: as Options.IgnoreVLAN.
	IgnoreVLAN bool
	// Interface is the device name ("eth0"), or "any" for every interface (Linux
	// cooked capture, SLL2 when libpcap offers it).
	Interface string
	// Filter is a BPF expression as tcpdump takes it ("" = none). It runs in the
	// kernel: frames it rejects are never delivered, so they are not frames here.
	Filter string
	// SnapLen is the most bytes kept per frame (0: DefaultSnapLen; MinSnapLen to
	// MaxSnapLen).
	SnapLen int
	// NoPromisc leaves the interface out of promiscuous mode (tcpdump -p).
	NoPromisc bool
	// BufferSize is the kernel capture buffer in bytes (0: libpcap's default, 2 MiB on
	// Linux). A larger buffer absorbs longer bursts before the kernel drops packets.
	BufferSize int
	// ReadTimeout bounds how long Next blocks when no packet comes (0:
	// DefaultReadTimeout). Packets are delivered at once whatever it is (immediate
	// mode): it only paces a quiet loop.
	ReadTimeout time.Duration
}

// Errors of OpenLive, wrapped with the interface name (errors.Is tells them apart).
var (
	ErrNoInterface   = errors.New("no such interface")
	ErrPermission    = errors.New("permission denied")
	ErrInterfaceDown = errors.New("interface is down")
)

// FilterError is a BPF expression libpcap could not compile for the interface.
type FilterError struct {
	Expr string
	Err  error
}

func (e *FilterError) Error() string { return fmt.Sprintf("filter %q: %v", e.Expr, e.Err) }
func (e *FilterError) Unwrap() error { return e.Err }

// ErrWait is returned by Live.Next when no TCP segment came within the read timeout
// (or only frames that are not segments did): call Next again. It is not an error of
// the capture; it lets a single-goroutine loop run its timers.
var ErrWait = errors.New("capture: no segment yet")

// KernelStats are libpcap's counts for a live capture (pcap_stats), accumulated over
// the run. On Linux: Received counts the packets that passed the kernel filter
// (dropped ones included), Dropped those the kernel dropped because the capture
// buffer was full, IfDropped those the interface itself dropped (not counted for
// "any").
type KernelStats struct {
	Received, Dropped, IfDropped uint64
}

// Interface is one capture device as libpcap lists it.
type Interface struct {
	Name        string
	Description string
	// Flags as tcpdump -D prints them: "Up", "Running", "Loopback", "Wireless", ...
	Flags     []string
	Addresses []netip.Addr
}

// ErrNoLibpcap is what live capture (OpenLive, Interfaces) and BPF filters return
// in a build without cgo: both need libpcap.
var ErrNoLibpcap = errors.New("built without cgo (CGO_ENABLED=0): live capture and BPF filters need libpcap")

// liveStart decides how a live capture on link type lt is read: where decoding of
// its frames starts, and its first stats. A link type finack does not decode is
// captured all the same (-w saves it, the counts count it): its frames are skipped
// as unsupported_link_type, and the stats name it from the start, so the run warns
// at once and its report warns as a file's does (LinkTypeWarning) instead of
// showing 0 connections.
func liveStart(lt layers.LinkType) (start, Stats) {
	var st Stats
	s := linkStart(lt)
	if s == startUnsupported {
		st.UnsupportedLinkTypes = []uint16{uint16(lt)}
	}
	return s, st
}

// oneLine joins the lines of a libpcap message into one.
func oneLine(err error) error {
	s := strings.TrimSpace(err.Error())
	if !strings.ContainsAny(s, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(s), " "))
}

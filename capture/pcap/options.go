package pcap

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// Options configure Open.
type Options struct {
	// IgnoreVLAN: as capture.Options.IgnoreVLAN.
	IgnoreVLAN bool
	// Interface is the device name ("eth0"), or "any" for every interface (Linux
	// cooked capture, SLL2 when libpcap offers it).
	Interface string
	// Filter is a BPF expression as tcpdump takes it ("" = none). It runs in the
	// kernel: frames it rejects are never delivered, so they are not frames here.
	Filter string
	// SnapLen is the most bytes kept per frame (0: capture.DefaultSnapLen;
	// capture.MinSnapLen to capture.MaxSnapLen).
	SnapLen int
	// NoPromisc leaves the interface out of promiscuous mode (tcpdump -p).
	NoPromisc bool
	// BufferSize is the kernel capture buffer in bytes (0: libpcap's default, 2 MiB on
	// Linux). A larger buffer absorbs longer bursts before the kernel drops packets.
	BufferSize int
	// ReadTimeout bounds how long Next blocks when no packet comes (0:
	// capture.DefaultReadTimeout), and how long a packet may wait in the kernel's
	// ring before it is delivered (libpcap hands packets over a block at a time:
	// when one is full, or this long after it began).
	ReadTimeout time.Duration
}

// Errors of Open, wrapped with the interface name (errors.Is tells them apart). A
// filter libpcap cannot compile for the interface is a *capture.FilterError.
var (
	ErrNoInterface   = errors.New("no such interface")
	ErrPermission    = errors.New("permission denied")
	ErrInterfaceDown = errors.New("interface is down")
)

// linkSLL2 is DLT_LINUX_SLL2, which gopacket's layers do not name on every build.
const linkSLL2 layers.LinkType = 276

// errClosed is the sticky error of a Live after Close.
var errClosed = errors.New("capture: reader closed")

// Interface is one capture device as libpcap lists it.
type Interface struct {
	Name        string
	Description string
	// Flags as tcpdump -D prints them: "Up", "Running", "Loopback", "Wireless", ...
	Flags     []string
	Addresses []netip.Addr
}

// liveStart decides how a live capture on link type lt is read: its decoder, and
// its first stats. A link type finack does not decode is captured all the same (-w
// saves it, the counts count it): its frames are skipped as unsupported_link_type,
// and the stats name it from the start, so the run warns at once and its report
// warns as a file's does (capture.LinkTypeWarning) instead of showing 0
// connections.
func liveStart(lt layers.LinkType, ignoreVLAN bool) (*capture.Decoder, capture.Stats) {
	d := capture.NewDecoder(lt, ignoreVLAN)
	return d, d.Stats()
}

// oneLine joins the lines of a libpcap message into one.
func oneLine(err error) error {
	s := strings.TrimSpace(err.Error())
	if !strings.ContainsAny(s, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(s), " "))
}

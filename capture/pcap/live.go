//go:build cgo

package pcap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"github.com/gopacket/gopacket/pcapgo"
)

// Live reads TCP segments from a network interface. It is not safe for concurrent
// use: one goroutine calls Next, KernelStats and Close.
type Live struct {
	h       *pcap.Handle
	name    string
	link    layers.LinkType
	snaplen int
	dec     *capture.Decoder
	frame   uint64
	stats   capture.Stats
	err     error

	// raw pcap_stats values (unsigned 32-bit counters in libpcap: they wrap) and
	// their 64-bit accumulation.
	rawRecv, rawDrop, rawIfDrop uint32
	kstats                      capture.KernelStats
	closed                      bool
	limit                       uint64 // SetLimit: frames to deliver, 0 = no limit

	// -w: every delivered frame is also written here.
	save    *pcapgo.Writer
	saveBuf *bufio.Writer

	// the frame Next handed out last, for Record.
	cur capture.Record
	has bool
}

// Open opens an interface for capture: snap length, promiscuous mode, buffer
// size, delivery in blocks within a read timeout, and the filter in the kernel. Errors say
// what went wrong in a way a user can act on: ErrNoInterface, ErrPermission (capturing
// needs root or cap_net_raw,cap_net_admin), ErrInterfaceDown, *capture.FilterError.
func Open(opt Options) (*Live, error) {
	name := opt.Interface
	if name == "" {
		return nil, errors.New("capture: no interface given")
	}
	snap := opt.SnapLen
	if snap == 0 {
		snap = capture.DefaultSnapLen
	}
	if snap < capture.MinSnapLen || snap > capture.MaxSnapLen {
		return nil, fmt.Errorf("capture: snap length %d out of range (%d to %d)", snap, capture.MinSnapLen, capture.MaxSnapLen)
	}
	timeout := opt.ReadTimeout
	if timeout <= 0 {
		timeout = capture.DefaultReadTimeout
	}
	in, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, liveError(name, err)
	}
	defer in.CleanUp()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"snap length", in.SetSnapLen(snap)},
		{"promiscuous mode", in.SetPromisc(!opt.NoPromisc)},
		{"read timeout", in.SetTimeout(timeout)},
		// Not immediate mode: libpcap's ring (TPACKET_V3 on Linux) hands packets
		// over a block at a time, when one is full or the read timeout has
		// passed; immediate mode wakes the reader for every packet, a system call
		// and a switch each (docs/performance.md, the soak run). The delay, at
		// most the read timeout, is nothing to an analysis of closes and
		// TIME_WAIT; at the stop the run reads what the ring still holds.
		{"immediate mode", in.SetImmediateMode(false)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("interface %s: %s: %w", name, step.what, step.err)
		}
	}
	if opt.BufferSize > 0 {
		if err := in.SetBufferSize(opt.BufferSize); err != nil {
			return nil, fmt.Errorf("interface %s: buffer size: %w", name, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, liveError(name, err)
	}
	l := &Live{h: h, name: name, snaplen: h.SnapLen()}
	if h.LinkType() == layers.LinkTypeLinuxSLL {
		// "any" on Linux: libpcap defaults to SLL (v1); SLL2 also names the interface
		// and is what tcpdump -i any writes today. Both decode.
		if links, err := h.ListDataLinks(); err == nil {
			for _, d := range links {
				if d.Name == "LINUX_SLL2" {
					_ = h.SetLinkType(linkSLL2)
					break
				}
			}
		}
	}
	l.link = h.LinkType()
	l.dec, l.stats = liveStart(l.link, opt.IgnoreVLAN)
	if opt.Filter != "" {
		if err := h.SetBPFFilter(opt.Filter); err != nil {
			h.Close()
			return nil, &capture.FilterError{Expr: opt.Filter, Err: oneLine(err)}
		}
	}
	return l, nil
}

// liveError maps libpcap's activation errors to the package's.
func liveError(name string, err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "no such device"), strings.Contains(low, "doesn't exist"),
		strings.Contains(low, "no such interface"):
		return fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	case strings.Contains(low, "permission denied"), strings.Contains(low, "operation not permitted"),
		strings.Contains(low, "don't have permission"):
		return fmt.Errorf("interface %s: %w", name, ErrPermission)
	case strings.Contains(low, "not up"):
		return fmt.Errorf("interface %s: %w", name, ErrInterfaceDown)
	}
	return fmt.Errorf("interface %s: %w", name, oneLine(err))
}

// SetLimit makes Next return io.EOF once n frames have been delivered (tcpdump -c):
// frames of every kind count, as in a file's frame numbers. 0: no limit.
func (l *Live) SetLimit(n uint64) { l.limit = n }

// LinkName returns the link type as tcpdump names it: "EN10MB (Ethernet)".
func (l *Live) LinkName() string {
	name := pcap.DatalinkValToName(int(l.link))
	if d := pcap.DatalinkValToDescription(int(l.link)); d != "" {
		return name + " (" + d + ")"
	}
	return name
}

// Name returns the interface name.
func (l *Live) Name() string { return l.name }

// LinkType returns the link type of the frames (libpcap's DLT_ value).
func (l *Live) LinkType() layers.LinkType { return l.link }

// SnapLen returns the snap length in effect.
func (l *Live) SnapLen() int { return l.snaplen }

// SaveTo makes every frame delivered from now on also be written, as libpcap
// delivered it, to w as a pcap file (nanosecond timestamps; tcpdump -w). The file
// header is written at once. The writes are buffered: call Flush to push them out.
func (l *Live) SaveTo(w io.Writer) error {
	l.saveBuf = bufio.NewWriterSize(w, 256<<10)
	l.save = pcapgo.NewWriterNanos(l.saveBuf)
	if err := l.save.WriteFileHeader(uint32(l.snaplen), capture.SavefileLinkType(l.link)); err != nil {
		return err
	}
	return l.saveBuf.Flush()
}

// Flush writes out what SaveTo buffered.
func (l *Live) Flush() error {
	if l.saveBuf == nil {
		return nil
	}
	return l.saveBuf.Flush()
}

// Next fills seg with the next TCP segment. It returns ErrWait when none came
// within the read timeout, io.EOF when the limit (SetLimit) is reached, and any
// other error when the capture failed (the interface went away, or Close was
// called); errors other than ErrWait and io.EOF are sticky.
// Like capture.Reader.Next, it allocates nothing per packet.
func (l *Live) Next(seg *capture.Segment) error {
	l.has = false
	if l.err != nil {
		return l.err
	}
	// A bounded number of frames per call, so a flood of frames that are not
	// segments still gives the caller its turn.
	for range 64 {
		if l.limit > 0 && l.frame >= l.limit {
			return io.EOF
		}
		data, ci, err := l.h.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, pcap.NextErrorTimeoutExpired) {
				return capture.ErrWait
			}
			if err == io.EOF {
				l.err = errClosed
			} else {
				l.err = fmt.Errorf("capture stopped: %v", oneLine(l.h.Error()))
			}
			return l.err
		}
		l.frame++
		l.stats.Packets++
		if l.save != nil {
			if err := l.save.WritePacket(ci, data); err != nil {
				l.err = fmt.Errorf("writing the capture file: %w", err)
				return l.err
			}
		}
		ts := ci.Timestamp
		if ts.Before(minTime) || !ts.Before(maxTime) {
			l.stats.BadTimestamps++
			ts = l.stats.Last
			if ts.IsZero() {
				ts = time.Unix(0, 0)
			}
		} else {
			if l.stats.First.IsZero() || ts.Before(l.stats.First) {
				l.stats.First = ts
			}
			if ts.After(l.stats.Last) {
				l.stats.Last = ts
			}
		}
		why, ok := l.dec.Decode(data, seg)
		if !ok {
			l.stats.Skipped[why]++
			continue
		}
		seg.Frame = l.frame
		seg.Time = ts.UTC()
		seg.Interface = 0
		l.stats.Segments++
		l.cur = capture.Record{Data: data, Info: ci, Link: l.link}
		l.has = true
		return nil
	}
	return capture.ErrWait
}

// Record returns the frame behind the segment the last call to Next returned (its
// data is libpcap's buffer, valid until the next call).
func (l *Live) Record() (capture.Record, bool) { return l.cur, l.has }

// Stats returns the counts so far: frames delivered, segments, frames skipped by
// reason (never Filtered: the kernel filters), first and last timestamps.
func (l *Live) Stats() capture.Stats { return l.stats }

// KernelStats asks libpcap for its counts and returns them accumulated over the run
// (libpcap's counters are 32-bit and wrap; calls at least every few minutes keep the
// accumulation right at any packet rate a kernel delivers). After Close it returns
// the counts taken at Close.
func (l *Live) KernelStats() (capture.KernelStats, error) {
	if l.closed {
		return l.kstats, nil
	}
	s, err := l.h.Stats()
	if err != nil {
		return l.kstats, oneLine(err)
	}
	recv, drop, ifdrop := uint32(s.PacketsReceived), uint32(s.PacketsDropped), uint32(s.PacketsIfDropped)
	l.kstats.Received += uint64(recv - l.rawRecv)
	l.kstats.Dropped += uint64(drop - l.rawDrop)
	l.kstats.IfDropped += uint64(ifdrop - l.rawIfDrop)
	l.rawRecv, l.rawDrop, l.rawIfDrop = recv, drop, ifdrop
	return l.kstats, nil
}

// Close takes libpcap's final counts (libpcap cannot give them after closing), flushes
// the saved file and closes the interface. Later Next calls return an error.
func (l *Live) Close() error {
	if l.closed {
		return nil
	}
	_, err := l.KernelStats()
	if ferr := l.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	l.closed = true
	l.h.Close()
	if l.err == nil {
		l.err = errClosed
	}
	return err
}

// The timestamps a capture.Reader hands out; a frame dated outside takes the
// timestamp of the frame before it, as in a file.
var minTime, maxTime = capture.TimeRange()

// libpcap's PCAP_IF_ flags.
const (
	pcapIfLoopback   = 0x1
	pcapIfUp         = 0x2
	pcapIfRunning    = 0x4
	pcapIfWireless   = 0x8
	pcapIfConnStatus = 0x30
	pcapIfConnected  = 0x10
	pcapIfDisconn    = 0x20
)

// Interfaces lists the devices libpcap can capture on, in its order (tcpdump -D).
func Interfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, oneLine(err)
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		it := Interface{Name: d.Name, Description: d.Description}
		for _, f := range []struct {
			bit  uint32
			name string
		}{{pcapIfUp, "Up"}, {pcapIfRunning, "Running"}, {pcapIfWireless, "Wireless"}, {pcapIfLoopback, "Loopback"}} {
			if d.Flags&f.bit != 0 {
				it.Flags = append(it.Flags, f.name)
			}
		}
		if d.Flags&pcapIfLoopback == 0 {
			switch d.Flags & pcapIfConnStatus {
			case pcapIfConnected:
				it.Flags = append(it.Flags, "Connected")
			case pcapIfDisconn:
				it.Flags = append(it.Flags, "Disconnected")
			}
		}
		for _, a := range d.Addresses {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				it.Addresses = append(it.Addresses, ip.Unmap())
			}
		}
		out = append(out, it)
	}
	return out, nil
}

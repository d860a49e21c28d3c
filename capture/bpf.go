//go:build cgo

package capture

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// bpfSnaplen is the snap length filters are compiled for: libpcap's
// MAXIMUM_SNAPLEN, what tcpdump uses when reading a file.
const bpfSnaplen = 262144

// filter applies one BPF expression to frames of any link type, the way tcpdump
// -r FILE EXPR does: a BPF program is tied to a link type (offsets differ), so one
// program is compiled per link type, lazily, as pcapng interfaces reveal them.
// Programs are few, so a slice beats a map.
type filter struct {
	expr  string
	progs []linkProg
}

type linkProg struct {
	link layers.LinkType
	big  bool // byte order of the file the frames come from
	bpf  *pcap.BPF
}

// newFilter validates expr by compiling it for Ethernet, so a typo fails at Open
// even for a pcapng file whose link types are not known yet.
func newFilter(expr string) (*filter, error) {
	f := &filter{expr: expr}
	if _, err := f.prog(linkEthernet, false); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) prog(lt layers.LinkType, big bool) (*pcap.BPF, error) {
	for i := range f.progs {
		if f.progs[i].link == lt && f.progs[i].big == big {
			return f.progs[i].bpf, nil
		}
	}
	b, err := compileForFile(lt, big, f.expr)
	if err != nil {
		return nil, &FilterError{Expr: f.expr, Err: fmt.Errorf("for link type %s (%d): %w", lt, int(lt), err)}
	}
	f.progs = append(f.progs, linkProg{lt, big, b})
	return b, nil
}

// compileForFile compiles expr as libpcap does for tcpdump -r: against a savefile
// handle, not a "dead" one. The difference matters for BSD loopback (Null, Loop):
// for a savefile, "ip6" matches every AF_INET6 value of every OS (24, 28, 30) in
// the file's byte order; for a dead handle only this host's AF_INET6 (10 on
// Linux). So a 24-byte pcap header with the frames' link type and byte order is
// fed to pcap_fopen_offline through a pipe.
func compileForFile(lt layers.LinkType, big bool, expr string) (*pcap.BPF, error) {
	hdr := make([]byte, 24)
	var bo binary.ByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	file := lt
	if lt == linkRawDLT || lt == linkRawBSD { // savefiles say LINKTYPE_RAW
		file = linkRaw
	}
	bo.PutUint32(hdr[0:], 0xa1b2c3d4)
	bo.PutUint16(hdr[4:], 2)
	bo.PutUint16(hdr[6:], 4)
	bo.PutUint32(hdr[16:], bpfSnaplen)
	bo.PutUint32(hdr[20:], uint32(file))
	pr, pw, err := os.Pipe()
	if err != nil {
		return pcap.NewBPF(bpfDLT(lt), bpfSnaplen, expr)
	}
	defer pr.Close()
	_, err = pw.Write(hdr) // 24 bytes always fit in a pipe's buffer
	pw.Close()
	if err != nil {
		return pcap.NewBPF(bpfDLT(lt), bpfSnaplen, expr)
	}
	h, err := pcap.OpenOfflineFile(pr)
	if err != nil { // link type libpcap cannot read from a file: compile for the DLT
		return pcap.NewBPF(bpfDLT(lt), bpfSnaplen, expr)
	}
	defer h.Close()
	return h.NewBPF(expr)
}

// match reports whether the frame passes the filter. The filter sees the raw frame
// and its lengths, before any decoding, exactly as libpcap would.
func (f *filter) match(lt layers.LinkType, big bool, ci *gopacket.CaptureInfo, data []byte) (bool, error) {
	b, err := f.prog(lt, big)
	if err != nil {
		return false, err
	}
	return b.Matches(*ci, data), nil
}

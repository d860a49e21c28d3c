package capture

import (
	"fmt"

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
// Programs are few (one per link type), so a slice beats a map.
type filter struct {
	expr  string
	progs []linkProg
}

type linkProg struct {
	link layers.LinkType
	bpf  *pcap.BPF
}

// newFilter validates expr by compiling it for Ethernet, so a typo fails at Open
// even for a pcapng file whose link types are not known yet.
func newFilter(expr string) (*filter, error) {
	f := &filter{expr: expr}
	if _, err := f.prog(linkEthernet); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) prog(lt layers.LinkType) (*pcap.BPF, error) {
	for i := range f.progs {
		if f.progs[i].link == lt {
			return f.progs[i].bpf, nil
		}
	}
	b, err := pcap.NewBPF(bpfDLT(lt), bpfSnaplen, f.expr)
	if err != nil {
		return nil, fmt.Errorf("filter %q for link type %s (%d): %w", f.expr, lt, int(lt), err)
	}
	f.progs = append(f.progs, linkProg{lt, b})
	return b, nil
}

// match reports whether the frame passes the filter. The filter sees the raw frame
// and its lengths, before any decoding, exactly as libpcap would.
func (f *filter) match(lt layers.LinkType, ci *gopacket.CaptureInfo, data []byte) (bool, error) {
	b, err := f.prog(lt)
	if err != nil {
		return false, err
	}
	return b.Matches(*ci, data), nil
}

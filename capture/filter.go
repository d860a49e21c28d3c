package capture

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// A Matcher is a filter compiled for one link type: it tells whether a frame, as
// captured, passes.
type Matcher interface {
	Matches(ci gopacket.CaptureInfo, data []byte) bool
}

// A FilterCompiler compiles a filter expression for frames of link type lt (a
// LINKTYPE_ value as files store it) from a file of the given byte order.
// capture/bpf.Compile compiles BPF expressions with libpcap, as tcpdump -r does.
type FilterCompiler func(expr string, lt layers.LinkType, bigEndian bool) (Matcher, error)

// errNoCompiler is Open's error for a filter given without a compiler.
var errNoCompiler = errors.New("no filter compiler given (Options.Compile)")

// filter applies one expression to frames of any link type, the way tcpdump
// -r FILE EXPR does: a BPF program is tied to a link type (offsets differ), so one
// program is compiled per link type, lazily, as pcapng interfaces reveal them.
// Programs are few, so a slice beats a map.
type filter struct {
	expr    string
	compile FilterCompiler
	progs   []linkProg
}

type linkProg struct {
	link layers.LinkType
	big  bool // byte order of the file the frames come from
	m    Matcher
}

// newFilter validates expr by compiling it for Ethernet, so a typo fails at Open
// even for a pcapng file whose link types are not known yet.
func newFilter(expr string, compile FilterCompiler) (*filter, error) {
	if compile == nil {
		return nil, &FilterError{Expr: expr, Err: errNoCompiler}
	}
	f := &filter{expr: expr, compile: compile}
	if _, err := f.prog(linkEthernet, false); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) prog(lt layers.LinkType, big bool) (Matcher, error) {
	for i := range f.progs {
		if f.progs[i].link == lt && f.progs[i].big == big {
			return f.progs[i].m, nil
		}
	}
	m, err := f.compile(f.expr, lt, big)
	if err != nil {
		var fe *FilterError
		if errors.As(err, &fe) { // the compiler's own error says all
			return nil, err
		}
		return nil, &FilterError{Expr: f.expr, Err: fmt.Errorf("for link type %s (%d): %w", lt, int(lt), err)}
	}
	f.progs = append(f.progs, linkProg{lt, big, m})
	return m, nil
}

// match reports whether the frame passes the filter. The filter sees the raw frame
// and its lengths, before any decoding, exactly as libpcap would.
func (f *filter) match(lt layers.LinkType, big bool, ci *gopacket.CaptureInfo, data []byte) (bool, error) {
	m, err := f.prog(lt, big)
	if err != nil {
		return false, err
	}
	return m.Matches(*ci, data), nil
}

// FilterError is a filter expression that could not be compiled (for the
// interface, or for a link type of the file).
type FilterError struct {
	Expr string
	Err  error
}

func (e *FilterError) Error() string { return fmt.Sprintf("filter %q: %v", e.Expr, e.Err) }
func (e *FilterError) Unwrap() error { return e.Err }

// ErrNoLibpcap is what live capture (capture/pcap) and BPF filters (capture/bpf)
// return in a build without cgo: both need libpcap.
var ErrNoLibpcap = errors.New("built without cgo (CGO_ENABLED=0): live capture and BPF filters need libpcap")

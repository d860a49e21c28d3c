//go:build cgo

package bpf

import (
	"encoding/binary"
	"os"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// snaplen is the snap length filters are compiled for: libpcap's MAXIMUM_SNAPLEN,
// what tcpdump uses when reading a file.
const snaplen = 262144

// Compile compiles expr for frames of link type lt from a file of the given byte
// order (a capture.FilterCompiler).
//
// It compiles as libpcap does for tcpdump -r: against a savefile handle, not a
// "dead" one. The difference matters for BSD loopback (Null, Loop): for a savefile,
// "ip6" matches every AF_INET6 value of every OS (24, 28, 30) in the file's byte
// order; for a dead handle only this host's AF_INET6 (10 on Linux). So a 24-byte
// pcap header with the frames' link type and byte order is fed to
// pcap_fopen_offline through a pipe.
func Compile(expr string, lt layers.LinkType, big bool) (capture.Matcher, error) {
	hdr := make([]byte, 24)
	var bo binary.ByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	bo.PutUint32(hdr[0:], 0xa1b2c3d4)
	bo.PutUint16(hdr[4:], 2)
	bo.PutUint16(hdr[6:], 4)
	bo.PutUint32(hdr[16:], snaplen)
	bo.PutUint32(hdr[20:], uint32(capture.SavefileLinkType(lt)))
	pr, pw, err := os.Pipe()
	if err != nil {
		return compileDead(expr, lt)
	}
	defer func() { _ = pr.Close() }() // read-only

	_, err = pw.Write(hdr) // 24 bytes always fit in a pipe's buffer
	// Closing the write end cannot lose the header, in the pipe already: the
	// reader sees it, then EOF.
	_ = pw.Close()
	if err != nil {
		return compileDead(expr, lt)
	}
	h, err := pcap.OpenOfflineFile(pr)
	if err != nil { // link type libpcap cannot read from a file: compile for the DLT
		return compileDead(expr, lt)
	}
	defer h.Close()
	return nilIfErr(h.NewBPF(expr))
}

// compileDead compiles expr for a "dead" handle of lt's DLT_ value.
func compileDead(expr string, lt layers.LinkType) (capture.Matcher, error) {
	return nilIfErr(pcap.NewBPF(dlt(lt), snaplen, expr))
}

// nilIfErr keeps a failed compilation's nil *pcap.BPF from becoming a non-nil
// capture.Matcher.
func nilIfErr(b *pcap.BPF, err error) (capture.Matcher, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}

// dlt returns the DLT_ value libpcap's filter compiler wants for a file's link
// type: pcap_open_dead takes DLT_ values, and LINKTYPE_RAW (101) is DLT_RAW (12)
// there; 101 itself is rejected as unknown.
func dlt(lt layers.LinkType) layers.LinkType {
	switch lt {
	case 101, 14: // LINKTYPE_RAW, OpenBSD's DLT_RAW
		return 12 // DLT_RAW
	}
	return lt
}

package capture

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket/layers"
)

// Link types finack decodes. They are LINKTYPE_ values as pcap and pcapng files
// store them; where libpcap's DLT_ value differs (raw IP) both are accepted.
const (
	linkNull     layers.LinkType = 0   // BSD loopback, 4-byte AF in host byte order
	linkEthernet layers.LinkType = 1   // Ethernet II / 802.3, optional 802.1Q/QinQ tags
	linkRawDLT   layers.LinkType = 12  // DLT_RAW on most systems, seen in old files
	linkRawBSD   layers.LinkType = 14  // DLT_RAW on OpenBSD
	linkRaw      layers.LinkType = 101 // LINKTYPE_RAW: bare IPv4 or IPv6
	linkLoop     layers.LinkType = 108 // OpenBSD loopback, 4-byte AF in network byte order
	linkSLL      layers.LinkType = 113 // Linux cooked capture v1 (tcpdump -i any, old)
	linkNFLOG    layers.LinkType = 239 // Linux NFLOG (tcpdump -i nflog): a header and attributes, the IP packet in one
	linkIPoIB    layers.LinkType = 242 // IP over InfiniBand (pcap form: 44-byte header, EtherType at 40)
	linkIPv4     layers.LinkType = 228 // bare IPv4
	linkIPv6     layers.LinkType = 229 // bare IPv6
	linkSLL2     layers.LinkType = 276 // Linux cooked capture v2 (tcpdump -i any today)
)

// ReadableLinkTypes names the link types finack decodes, for messages.
const ReadableLinkTypes = "Ethernet (1), BSD loopback (0, 108), raw IP (12, 14, 101, 228, 229), Linux SLL (113), SLL2 (276), NFLOG (239), IP over InfiniBand (242)"

// LinkTypeName is "N (NAME)" for a link type gopacket names, "N" otherwise.
func LinkTypeName(lt uint16) string {
	name := layers.LinkType(lt).String()
	if name == "" || strings.HasPrefix(name, "UnknownLinkType") || strings.HasPrefix(name, "LinkType(") {
		return strconv.Itoa(int(lt))
	}
	return fmt.Sprintf("%d (%s)", lt, name)
}

// LinkTypeWarning is the one line that says which link types of st finack does
// not decode and how many frames that cost (a live capture on such a link type
// says so before its first frame, st.Skipped 0): a capture of only such frames
// would otherwise report 0 connections without saying why. "" when every link
// type is read.
func LinkTypeWarning(st Stats) string {
	if len(st.UnsupportedLinkTypes) == 0 {
		return ""
	}
	names := make([]string, len(st.UnsupportedLinkTypes))
	for i, lt := range st.UnsupportedLinkTypes {
		names[i] = LinkTypeName(lt)
	}
	if n := st.Skipped[UnsupportedLinkType]; n > 0 {
		return fmt.Sprintf("%d frames skipped: link type %s not decoded (finack reads %s)", n, strings.Join(names, ", "), ReadableLinkTypes)
	}
	return fmt.Sprintf("link type %s not decoded: its frames are skipped (finack reads %s)", strings.Join(names, ", "), ReadableLinkTypes)
}

// start is where decoding of a frame begins. LinkType.LayerType() is not enough
// for this: it knows neither SLL2 on every build nor that raw IP means "look at the
// version nibble", and it cannot say "unsupported" apart from "zero".
type start uint8

const (
	startUnsupported start = iota
	startEthernet
	startSLL
	startSLL2
	startLoopback // Null and Loop: gopacket's Loopback reads the AF in either byte order
	startRaw      // IPv4 or IPv6 by version nibble
	startIPv4
	startIPv6
	startIPoIB
	startNFLOG
	numStarts
)

func linkStart(lt layers.LinkType) start {
	switch lt {
	case linkEthernet:
		return startEthernet
	case linkSLL:
		return startSLL
	case linkSLL2:
		return startSLL2
	case linkNull, linkLoop:
		return startLoopback
	case linkRaw, linkRawDLT, linkRawBSD:
		return startRaw
	case linkIPv4:
		return startIPv4
	case linkIPv6:
		return startIPv6
	case linkIPoIB:
		return startIPoIB
	case linkNFLOG:
		return startNFLOG
	}
	return startUnsupported
}

// SavefileLinkType is the link type a pcap file says for frames of link type lt
// as libpcap delivers them: DLT_RAW's values (12, 14) are LINKTYPE_RAW (101) in
// files.
func SavefileLinkType(lt layers.LinkType) layers.LinkType {
	if lt == linkRawDLT || lt == linkRawBSD {
		return linkRaw
	}
	return lt
}

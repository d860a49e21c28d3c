// Package capture owns the input side of finack: it opens capture files (pcap in
// micro- and nanosecond resolution and either byte order, pcapng with mixed link
// types, Solaris snoop, any of them gzip-compressed, stdin); it maps link types to
// a first decoding layer, decodes each packet with gopacket's DecodingLayerParser
// into reused structs (Decoder, which capture/pcap also uses for live interfaces),
// applies a filter as tcpdump would (BPF compiled by capture/bpf), and hands out
// TCP segments as small values (Segment). The package itself needs no cgo: libpcap
// is used by capture/pcap (live capture) and capture/bpf (BPF compilation) only.
// Everything it cannot or will not turn into a Segment (non-TCP, IP fragments,
// undecodable frames) is counted by reason, so every frame is accounted for.
//
// Why it is shaped this way:
//
//   - Frame numbers are the ones Wireshark shows, because every number finack
//     reports must lead a user to a packet they can open. So every record counts
//     as a frame, filtered or not, decodable or not; several files are merged by
//     timestamp and numbered over the merged stream, as mergecap would produce
//     it. Ties keep file order (the earlier piece of a rotated capture was
//     written first; note that mergecap 4.0 puts the later file first on an
//     exact tie). A pcapng section of unknown version ends the capture with an
//     error, as in Wireshark, rather than being skipped, which would shift every
//     later frame number.
//   - The format comes from the magic number, never the file name: rotated and
//     downloaded captures are often misnamed (.cap, .dmp, .pcap that is pcapng,
//     gzip without .gz).
//   - Damage is data, not a crash: every segment before a damaged record is
//     returned, then a *ReadError saying file, frame and byte offset. Lengths
//     read from a file are never trusted to size an allocation (pcapgo grows
//     buffers only as bytes arrive), a gzip stream that ends early or fails its
//     checksum is never a clean end, and timestamps are kept within the years
//     1824 to 2115 (TimeRange), so no timer arithmetic downstream can overflow.
//     File names are shown through Printable in every message.
//   - The hot path allocates nothing and copies no packet: pcap records
//     (fastpcap.go) and pcapng enhanced packet blocks (fastpcapng.go) are sliced
//     out of a 1 MiB read buffer, pcapgo reading only file headers and the rarer
//     pcapng blocks; one set of layer structs shared by every parser, the common
//     frames and TCP decoded by hand (fastdecode.go). Only blocks pcapgo reads
//     still cost its copy, and for link types of 256 and above (Linux SLL2) a
//     2-byte allocation (it boxes the link type into an interface).
//   - Reading can use several cores, with the segments, frame numbers, counts
//     and errors of one Reader: a pcap or pcapng file on disk in parts, each read
//     by a PartReader and put in order by Sequence (parts.go); other input
//     through ReadFrames, decoded by FrameDecoders (frames.go). A gzip stream is
//     decompressed on a goroutine of its own (aheadReader): that takes about as
//     long as all the rest of reading.
//   - TCP is parsed here, not by gopacket: gopacket's TCP layer fails as a whole
//     when the snap length cuts the header or its options, and a cut header still
//     carries the ports, sequence numbers and flags the analysis needs.
//     PayloadLen comes from the IP length fields, so it is right for cut packets
//     and not inflated by Ethernet padding.
//   - Interface is the interface index inside the frame's own file (0 for pcap).
//     Rotated pieces of one capture share one interface table (tcpdump -C/-G,
//     dumpcap ring buffers), which is what mergecap assumes when it merges
//     identical interface tables; files from different capture points merged
//     together are not told apart by Interface.
//
// Beyond the link types listed in linktype.go, frames are decoded through
// 802.1Q/802.1ad/0x9100 tags (the outer two VLAN IDs are kept: they are part of
// a flow's identity), MPLS label stacks, PPPoE sessions, IPv6 extension headers
// and IP-in-IP. Tunnels that need a UDP port to be recognised (VXLAN, GENEVE) and
// GRE are not followed: their frames count as not_tcp. TCP headers quoted inside
// ICMP errors are not segments (tshark's "tcp" display filter matches them).
package capture

// Package capture owns the input side of finack: it opens capture files (pcap in
// micro- and nanosecond resolution and either byte order, pcapng with mixed link
// types, either of them gzip-compressed, stdin) and, later, live interfaces; it maps
// link types to a first decoding layer, decodes each packet with gopacket's
// DecodingLayerParser into reused structs, applies a BPF filter as tcpdump would, and
// hands out TCP segments as small values (Segment). Everything it cannot or will not
// turn into a Segment (non-TCP, IP fragments, undecodable frames) is counted by reason.
package capture

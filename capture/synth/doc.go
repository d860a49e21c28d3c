// Package synth builds captures byte by byte, deterministically, for tests and for
// cmd/finack-gen: packet bytes for a TCP segment (or a few non-TCP kinds) on every
// link type finack reads, with correct IP, TCP, UDP and ICMP checksums, and
// writers for pcap (micro- or nanosecond, either byte order, a snap length that
// really cuts) and pcapng (several interfaces with different link types).
//
// Nothing here reads the wall clock or a random source: the same calls give the
// same bytes, so generated files can be committed and checked for drift. It
// exists, rather than using gopacket's serializers, because tests need things a
// well-behaved serializer will not produce: cut headers, fragments, odd AF values,
// QinQ with the old 0x9100 TPID, records longer than the snap length.
package synth

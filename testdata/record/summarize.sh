#!/usr/bin/env bash
# summarize.sh: print what testdata/pcaps/README.md states about a capture, for
# checking the README against a (re-)recorded file.
#
#   testdata/record/summarize.sh testdata/pcaps/NAME.pcap [all]
#
# Prints tshark's TCP conversation table, the two counts the README quotes
# (tcp.analysis.reused_ports; tcp.analysis.retransmission && tcp.flags.fin==1),
# and one line per key frame: every SYN, FIN, RST and retransmission, and every
# segment without payload from the first FIN of its conversation on. With
# "all", every frame. seq/ack are raw (absolute) numbers.
set -euo pipefail
f=${1:?usage: summarize.sh FILE.pcap [all]}
command -v tshark >/dev/null || {
	echo "summarize.sh: tshark not found" >&2
	exit 1
}
ts() { tshark -o tcp.relative_sequence_numbers:FALSE "$@" 2>/dev/null; }

echo "### $(basename "$f") ($(stat -c %s "$f") bytes, $(ts -r "$f" | wc -l) frames)"
ts -r "$f" -q -z conv,tcp | sed -n '/^[0-9a-f:.\[]/p'
echo "reused_ports: $(ts -r "$f" -Y tcp.analysis.reused_ports | wc -l)"
echo "retransmitted FINs (tcp.analysis.retransmission && tcp.flags.fin==1): $(ts -r "$f" -Y 'tcp.analysis.retransmission && tcp.flags.fin==1' | wc -l)"
echo "frame  time(s)     src-port > dst-port  flags        seq        ack        len  tsval      tsecr      analysis"
ts -r "$f" -T fields -E separator=/t \
	-e frame.number -e frame.time_relative -e tcp.srcport -e tcp.dstport -e tcp.flags.str \
	-e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e tcp.options.timestamp.tsval -e tcp.options.timestamp.tsecr \
	-e _ws.expert.message -e tcp.stream -e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.reset -e tcp.analysis.flags |
	awk -F'\t' -v all="${2:-}" '{
		key = all == "all" || $13 == 1 || $15 == 1 || $16 != "" || (fin[$12] && $8 == 0)
		if ($14 == 1) { key = 1; fin[$12] = 1 }
		if (key) printf "%5s  %10.6f  %5s > %-5s  %-11s  %10s %10s %5s  %-10s %-10s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
	}'

#!/usr/bin/env bash
# bench.sh: finack against tshark and tcptrace on the same capture, in one run.
#
#   sudo testdata/record/bench.sh            # records 22,000 real connections (~219,000
#                                            # packets) between two namespaces, then times
#   testdata/record/bench.sh FILE.pcap       # times an existing capture (no root needed)
#
# For each tool: wall seconds, packets per second and peak RSS (/usr/bin/time), best of
# RUNS (default 3) runs. finack runs end to end (-o json, every finding on, output to
# /dev/null); tshark runs `-q -z conv,tcp`; tcptrace `-n`.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

file=${1:-}
if [ -z "$file" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "bench.sh: recording needs root (or give a capture file)" >&2; exit 2; }
	FINACK_PCAPS="$work" MANY_N=${MANY_N:-22000} "$REPO/testdata/record/record.sh" many-connections >&2
	file="$work/many-connections.pcap"
fi
command -v tshark >/dev/null || { echo "bench.sh: tshark missing (.ci/deps --test)" >&2; exit 2; }
(cd "$REPO" && go build -o "$work/finack" ./cmd/finack)
packets=$("$work/finack" -r "$file" -o json | sed -n 's/^    "packets": \([0-9]*\),/\1/p')

# best RUNS: prints "seconds maxrss_kb" of the fastest run.
best() {
	local best_s="" best_kb=""
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1 || true
		read -r s kb <"$work/t"
		if [ -z "$best_s" ] || awk -v a="$s" -v b="$best_s" 'BEGIN{exit !(a<b)}'; then
			best_s=$s best_kb=$kb
		fi
	done
	echo "$best_s $best_kb"
}

printf '%s: %s packets, %s\n' "$(basename "$file")" "$packets" "$(uname -srm), $(nproc) cores"
printf '%-26s %9s %14s %12s\n' tool seconds packets/s "peak RSS MB"
row() {
	local name=$1 s kb
	shift
	read -r s kb < <(best "$@")
	awk -v n="$name" -v s="$s" -v kb="$kb" -v p="$packets" \
		'BEGIN{pps = (s > 0) ? p/s : 0; printf "%-26s %9.2f %14.0f %12.1f\n", n, s, pps, kb/1024}'
}
row "finack -o json" "$work/finack" -r "$file" -o json
row "tshark -q -z conv,tcp" tshark -q -z conv,tcp -r "$file"
if command -v tcptrace >/dev/null; then
	row "tcptrace -n" tcptrace -n "$file"
fi

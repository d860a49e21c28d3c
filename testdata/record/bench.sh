#!/usr/bin/env bash
# bench.sh: finack against tshark, tcptrace and argus on the same capture, in one run.
#
#   sudo testdata/record/bench.sh            # records 22,000 real connections (~219,000
#                                            # packets) between two network namespaces,
#                                            # then times
#   sudo REAL=1 testdata/record/bench.sh     # records record.sh's many-reuse instead:
#                                            # 100,000 real connections (~1M packets),
#                                            # two thirds of them reusing a 4-tuple the
#                                            # server holds in TIME_WAIT
#   testdata/record/bench.sh FILE.pcap       # times an existing capture (no root needed)
#
# For each tool, the best of RUNS (default 3) runs, the tools taking turns run after
# run (benchlib.sh): wall seconds, CPU
# seconds (user + system), packets per wall second and per CPU second, peak RSS, and
# its CPU time over finack's. finack runs end to end (-o json, every finding on, output
# to /dev/null) with --workers at its default (the CPUs it may use) and with
# --workers 1; tshark runs `-q -z conv,tcp`; tcptrace `-n`; argus `-X -r FILE -w
# /dev/null` (argus waits about a second at the end of a file: compare its CPU time).
# Missing tools are installed when run as root (Debian).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/testdata/record/benchlib.sh"
RUNS=${RUNS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

file=${1:-}
if [ -z "$file" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "bench.sh: recording needs root (or give a capture file)" >&2; exit 2; }
	if [ "${REAL:-0}" = 1 ]; then
		FINACK_PCAPS="$work" "$REPO/testdata/record/record.sh" many-reuse >&2
		file="$work/many-reuse.pcap"
	else
		FINACK_PCAPS="$work" MANY_N=${MANY_N:-22000} "$REPO/testdata/record/record.sh" many-connections >&2
		file="$work/many-connections.pcap"
	fi
fi
bench_deps
bench_sink "$work"
(cd "$REPO" && go build -o "$work/finack" ./cmd/finack)
packets=$("$work/finack" -r "$file" -o json | sed -n 's/^    "packets": \([0-9]*\),/\1/p')

printf '%s: %s packets; %s, %s cores; best of %s\n' "$(basename "$file")" "$packets" "$(uname -srm)" "$(nproc)" "$RUNS"
bench_header
bench_add "finack -o json" "$work/finack" -r "$file" -o json
bench_add "  --workers 1" "$work/finack" --workers 1 -r "$file" -o json
bench_others "$file"
bench_run

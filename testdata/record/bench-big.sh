#!/usr/bin/env bash
# bench-big.sh: finack on large generated captures (capture/synth.WriteBig), against
# tshark, tcptrace and argus on the same file, and finack's peak memory on a 1M- and a
# 10M-connection capture of the same concurrency (generated to a pipe: no disk).
#
#   testdata/record/bench-big.sh                 # 2M packets for the speed table,
#                                                # then 1M and 10M connections
#   PACKETS=2000000 CONNS="1000000 10000000" CONCURRENCY=100 RUNS=3 testdata/record/bench-big.sh
#   FILE=/tmp/big2m.pcap CONNS= testdata/record/bench-big.sh  # a given file, speed only
#
# Speed: best of RUNS (benchlib.sh: the tools take turns, run after run) wall and CPU seconds (user + system), packets per
# wall and per CPU second, and peak RSS, for `finack -r FILE -o json` (every finding
# on; --workers at its default, the number of CPUs; with --workers 1; and with
# --workers 1 held to one core by taskset, the single-core figure), `tshark -q -z
# conv,tcp -r FILE`, `tcptrace -n FILE` and `argus -X -r FILE -w /dev/null`, each
# tool's CPU time over finack's. Missing tools are installed when run as root.
# Memory: `finack-gen -big N -o /dev/stdout | finack -r - -o json` (its records go
# through the external sort: the report is written from disk).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/testdata/record/benchlib.sh"
RUNS=${RUNS:-3}
PACKETS=${PACKETS:-2000000}
CONNS=${CONNS-"1000000 10000000"} # CONNS="" skips the memory part
CONCURRENCY=${CONCURRENCY:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench_deps
bench_sink "$work"
(cd "$REPO" && go build -o "$work/finack" ./cmd/finack && go build -o "$work/finack-gen" ./cmd/finack-gen)

file=${FILE:-$work/big.pcap}
[ -f "$file" ] || "$work/finack-gen" -big "$PACKETS" -o "$file" 2>/dev/null
packets=$("$work/finack" -r "$file" -o json | sed -n 's/^    "packets": \([0-9]*\),/\1/p')

printf '%s: %s packets; %s, %s cores; best of %s\n' "$(basename "$file")" "$packets" "$(uname -srm)" "$(nproc)" "$RUNS"
bench_header
bench_add "finack -r FILE -o json" "$work/finack" -r "$file" -o json
bench_add "  --workers 1" "$work/finack" --workers 1 -r "$file" -o json
onecore=0
if command -v taskset >/dev/null; then
	bench_add "  --workers 1, one core" taskset -c 0 "$work/finack" --workers 1 -r "$file" -o json
	onecore=1
fi
bench_others "$file"
bench_run
if [ "$onecore" = 1 ]; then
	awk -v a="${bench_wall[2]}" -v b="${bench_wall[0]}" 'BEGIN{printf "  default workers vs one core (wall): %.2f×\n", a/b}'
fi

echo
printf 'memory, concurrency %s (finack-gen -big ... | finack -r -):\n' "$CONCURRENCY"
printf '%12s %14s %9s %12s\n' connections packets seconds "peak RSS MB"
for n in $CONNS; do
	# About 12.8 packets per connection in WriteBig's mix.
	p=$((n * 128 / 10))
	"$work/finack-gen" -big $p -concurrency "$CONCURRENCY" -o /dev/stdout 2>/dev/null |
		/usr/bin/time -v -o "$work/t" "$work/finack" -r - -o json >"$work/out" 2>&1 || true
	s=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/t")
	kb=$(awk -F': ' '/Maximum resident set size/{print $2}' "$work/t")
	conns=$(sed -n 's/^    "connections": \([0-9]*\),/\1/p' "$work/out")
	printf '%12s %14s %9s %12.1f\n' "$conns" "$p" "$s" "$(awk -v kb="$kb" 'BEGIN{print kb/1024}')"
done

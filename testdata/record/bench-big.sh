#!/usr/bin/env bash
# bench-big.sh: finack on large generated captures (capture/synth.WriteBig), against
# tshark and tcptrace on the same file, and finack's peak memory on a 1M- and a
# 10M-connection capture of the same concurrency (generated to a pipe: no disk).
#
#   testdata/record/bench-big.sh                 # 2M packets for the speed table,
#                                                # then 1M and 10M connections
#   PACKETS=2000000 CONNS="1000000 10000000" CONCURRENCY=100 RUNS=3 testdata/record/bench-big.sh
#   FILE=/tmp/big2m.pcap CONNS= testdata/record/bench-big.sh  # a given file, speed only
#
# Speed: best of RUNS wall seconds, packets/s and peak RSS (/usr/bin/time -v) for
# `finack -r FILE -o json` (every finding on; --workers at its default, the number of
# CPUs; with --workers 1; and with --workers 1 held to one core by taskset, the
# single-core figure), `tshark -q -z conv,tcp -r FILE` and `tcptrace -n FILE`, and
# the ratios. Memory: `finack-gen -big N -o /dev/stdout | finack -r - -o json` (its
# records go through the external sort: the report is written from disk).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
PACKETS=${PACKETS:-2000000}
CONNS=${CONNS-"1000000 10000000"} # CONNS="" skips the memory part
CONCURRENCY=${CONCURRENCY:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$REPO" && go build -o "$work/finack" ./cmd/finack && go build -o "$work/finack-gen" ./cmd/finack-gen)

file=${FILE:-$work/big.pcap}
[ -f "$file" ] || "$work/finack-gen" -big "$PACKETS" -o "$file" 2>/dev/null
packets=$("$work/finack" -r "$file" -o json | sed -n 's/^    "packets": \([0-9]*\),/\1/p')

# best: "seconds maxrss_kb" of the fastest of RUNS runs.
best() {
	local best_s="" best_kb=""
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -v -o "$work/t" "$@" >/dev/null 2>&1 || true
		s=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/t")
		kb=$(awk -F': ' '/Maximum resident set size/{print $2}' "$work/t")
		if [ -z "$best_s" ] || awk -v a="$s" -v b="$best_s" 'BEGIN{exit !(a<b)}'; then
			best_s=$s best_kb=$kb
		fi
	done
	echo "$best_s $best_kb"
}

printf '%s: %s packets; %s, %s cores; best of %s\n' "$(basename "$file")" "$packets" "$(uname -srm)" "$(nproc)" "$RUNS"
printf '%-30s %9s %14s %12s %9s\n' tool seconds packets/s "peak RSS MB" "finack ×"
read -r fs fkb < <(best "$work/finack" -r "$file" -o json)
row() {
	awk -v n="$1" -v s="$2" -v kb="$3" -v p="$packets" -v f="$fs" \
		'BEGIN{pps = (s > 0) ? p/s : 0; printf "%-30s %9.2f %14.0f %12.1f %9.1f\n", n, s, pps, kb/1024, (f > 0) ? s/f : 0}'
}
row "finack -r FILE -o json" "$fs" "$fkb"
read -r s kb < <(best "$work/finack" --workers 1 -r "$file" -o json)
row "  --workers 1" "$s" "$kb"
if command -v taskset >/dev/null; then
	read -r s1 kb < <(best taskset -c 0 "$work/finack" --workers 1 -r "$file" -o json)
	row "  --workers 1, one core" "$s1" "$kb"
	awk -v a="$s1" -v b="$fs" 'BEGIN{printf "  default workers vs one core: %.2f×\n", a/b}'
fi
if command -v tshark >/dev/null; then
	read -r s kb < <(best tshark -q -z conv,tcp -r "$file")
	row "tshark -q -z conv,tcp" "$s" "$kb"
fi
if command -v tcptrace >/dev/null; then
	read -r s kb < <(best tcptrace -n "$file")
	row "tcptrace -n" "$s" "$kb"
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

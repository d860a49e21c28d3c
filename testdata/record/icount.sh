#!/usr/bin/env bash
# icount.sh: the instructions finack executes on a capture, counted by cachegrind, by
# area. A count of instructions is the same run after run, where CPU seconds on a
# shared or virtual machine vary by 10 to 20%: it shows a change of 2% that timing
# cannot, and where it went. It does not show memory stalls or system time (the
# cost of a cache miss, of a system call): check a change that moves memory with
# bench.sh as well.
#
#   testdata/record/icount.sh FILE              # the working tree
#   testdata/record/icount.sh FILE REV...       # and each git revision, to compare
#
# Each build runs `finack --workers 1 -q -r FILE -o json` under valgrind
# (--tool=cachegrind, GOMAXPROCS=1, so that the runtime's idle threads do not spin
# into the count). The collector's count is not a measure: it moves from run to run,
# and under valgrind (fifty times slower) the runtime's timed work (the scavenger)
# runs fifty times as often for the same work: compare the other areas.
# The areas follow the function's file: pack.go (packing, unpacking), the rest of
# package reassembly (tracking), capture and pipeline (reading, decoding, dealing
# out), analyzer (analysis), report (encoding, writing), spill (the external sort),
# the runtime. valgrind is installed when missing and run as root (Debian).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/testdata/record/benchlib.sh"
file=${1:?usage: icount.sh FILE [REV...]}
shift
if ! command -v valgrind >/dev/null; then
	[ "$(id -u)" -eq 0 ] || { echo "icount.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q valgrind >&2
fi
work=$(mktemp -d)
trap 'git -C "$REPO" worktree prune; rm -rf "$work"' EXIT

# build NAME REV: builds REV ("" for the working tree) as $work/NAME.
build() { bench_build "$REPO" "$work" "$1" "$2"; }

names=(tree)
build tree ""
i=0
for rev in "$@"; do
	i=$((i + 1))
	names+=("rev$i")
	build "rev$i" "$rev"
done
revs=("working tree" "$@")

summary=$("$work/tree" -r "$file" -o json)
packets=$(sed -n 's/^    "packets": \([0-9]*\),/\1/p' <<<"$summary")
conns=$(sed -n 's/^    "connections": \([0-9]*\),/\1/p' <<<"$summary")
printf '%s: %s packets, %s connections\n\n' "$(basename "$file")" "$packets" "$conns"

for k in "${!names[@]}"; do
	out="$work/${names[$k]}.cg"
	GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
		"$work/${names[$k]}" --workers 1 -q -r "$file" -o json >/dev/null 2>"$work/vg.err" ||
		{ cat "$work/vg.err" >&2; exit 1; }
	echo "## ${revs[$k]}"
	cg_annotate --threshold=0 --auto=no "$out" 2>/dev/null | awk -v packets="$packets" -v conns="$conns" '
	/^ *[0-9][0-9,]* +(\( *[0-9.]+%\) +)?[^ ]+:[^ ]/ {
		n = $1; gsub(",", "", n); fn = $NF; a = "other"
		if (fn ~ /reassembly\/pack\.go:/) a = "packing, unpacking (reassembly/pack.go)"
		else if (fn ~ /finack\/reassembly\.\(\*unpacker\)|finack\/reassembly\.\(\*packer\)|finack\/reassembly\.putUvarint/) a = "packing, unpacking (reassembly/pack.go)"
		else if (fn ~ /finack\/reassembly/) a = "tracking (reassembly, the rest)"
		else if (fn ~ /finack\/capture|gopacket|analyzer\/pipeline/) a = "reading, decoding, dealing out"
		else if (fn ~ /analyzer\/spill/) a = "external sort (spill)"
		else if (fn ~ /analyzer\/report/) a = "report: encoding, writing"
		else if (fn ~ /finack\/analyzer/) a = "analysis"
		else if (fn ~ /runtime\/mgc|mbitmap|mwbbuf|runtime\.(scan|markroot|gcDrain|greyobject|typePointers|wbBuf|tryDefer)/) a = "runtime: collector"
		else if (fn ~ /runtime|internal\/|syscall|os\.|bufio|bytes\.|strings\.|slices\.|sort\.|time\./) a = "runtime, standard library"
		sum[a] += n; total += n
	}
	END {
		printf "| area | instructions | share | per packet | per connection |\n|---|---|---|---|---|\n"
		for (a in sum) printf "| %s | %.0f | %.1f%% | %.0f | %.0f |\n", a, sum[a], 100 * sum[a] / total, sum[a] / packets, sum[a] / conns | "sort -t\"|\" -k3 -rn"
		close("sort -t\"|\" -k3 -rn")
		printf "| total | %.0f | 100%% | %.0f | %.0f |\n\n", total, total / packets, total / conns
	}'
done

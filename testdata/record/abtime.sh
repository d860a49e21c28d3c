#!/usr/bin/env bash
# abtime.sh: the CPU and wall time of two builds of finack on one capture, in pairs.
#
#   testdata/record/abtime.sh FILE REV            # git revision REV, then the working tree
#   testdata/record/abtime.sh FILE REV_A REV_B
#   ROUNDS=20 ARGS='--workers 1 -o json' testdata/record/abtime.sh FILE REV
#
# On a shared or virtual machine CPU seconds move by 10 to 20% from run to run, and
# the machine's speed drifts over minutes: a change of a few percent shows only when
# the two builds run side by side. Each of ROUNDS rounds (default 12) runs both, one
# after the other, the order alternating from round to round (`finack -q -r FILE
# ARGS`, output to the null device: see bench_sink in benchlib.sh; ARGS default `-o
# json`), and keeps the difference of the pair. For CPU seconds (user + system, all
# threads) and wall seconds the script prints each build's median and the mean of the
# differences, B - A, with its standard error: a mean of less than about two standard
# errors is no difference; and each build's highest peak RSS. ARGS may name files the
# run writes (--html, --export): both builds write the same ones, one after the other.
# Memory stalls and system time count here; icount.sh counts instructions instead,
# the same from run to run.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/testdata/record/benchlib.sh"
file=${1:?usage: abtime.sh FILE REV_A [REV_B]}
rev_a=${2:?usage: abtime.sh FILE REV_A [REV_B]}
rev_b=${3:-}
rounds=${ROUNDS:-12}
read -r -a args <<<"${ARGS:--o json}"
command -v /usr/bin/time >/dev/null || { echo "abtime.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'git -C "$REPO" worktree prune; rm -rf "$work"' EXIT
bench_sink "$work"
bench_build "$REPO" "$work" A "$rev_a"
bench_build "$REPO" "$work" B "$rev_b"

for i in $(seq "$rounds"); do
	order="A B"
	[ $((i % 2)) -eq 0 ] && order="B A"
	for n in $order; do
		/usr/bin/time -f "$n %U %S %e %M" -o "$work/t" "$work/$n" -q -r "$file" "${args[@]}" >"$sink"
		cat "$work/t"
	done
done | awk -v a="${rev_a}" -v b="${rev_b:-working tree}" -v file="$(basename "$file")" '
function median(x, n,   i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j-1] > x[j]; j--) { t = x[j]; x[j] = x[j-1]; x[j-1] = t }
	return n % 2 ? x[(n+1)/2] : (x[n/2] + x[n/2+1]) / 2
}
function row(name, xa, xb, n,   i, d, sd, sdd, m, se) {
	for (i = 1; i <= n; i++) { d = xb[i] - xa[i]; sd += d; sdd += d * d }
	m = sd / n
	se = n > 1 ? sqrt(max0((sdd - n * m * m) / (n - 1)) / n) : 0
	printf "| %s | %.3f | %.3f | %+.3f ± %.3f (%+.1f%%) |\n", name, median(xa, n), median(xb, n), m, se, 100 * m / median(xa, n)
}
function max0(v) { return v < 0 ? 0 : v }
$1 == "A" { na++; ca[na] = $2 + $3; wa[na] = $4; if ($5 > ma) ma = $5 }
$1 == "B" { nb++; cb[nb] = $2 + $3; wb[nb] = $4; if ($5 > mb) mb = $5 }
END {
	n = na < nb ? na : nb
	printf "%s: A = %s, B = %s, %d rounds\n\n| seconds | A (median) | B (median) | B - A (mean ± standard error) |\n|---|---|---|---|\n", file, a, b, n
	row("CPU", ca, cb, n)
	row("wall", wa, wb, n)
	printf "\npeak RSS (the highest of the rounds): A %.0f MB, B %.0f MB\n", ma / 1024, mb / 1024
}'

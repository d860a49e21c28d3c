# benchlib.sh: sourced by bench.sh and bench-big.sh (not run by itself).
#
# bench_deps: installs, on Debian and as root, the tools finack is compared with when
# they are missing: tshark, tcptrace and argus (argus-server, a C flow tracker that
# follows every TCP connection's state: `argus -X -r FILE -w /dev/null` reads the
# capture with argus's built-in defaults, -X ignoring /etc/argus.conf, and writes its
# flow records nowhere). Not root: says which are missing and goes on without them.
bench_deps() {
	local want=() p
	command -v tshark >/dev/null || want+=(tshark)
	command -v tcptrace >/dev/null || want+=(tcptrace)
	command -v argus >/dev/null || want+=(argus-server)
	command -v /usr/bin/time >/dev/null || want+=(time)
	[ ${#want[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench: not installed (root installs them): ${want[*]}" >&2
		return 0
	fi
	echo "bench: installing ${want[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >&2 ||
		{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >&2; } ||
		echo "bench: could not install ${want[*]}" >&2
}

# bench_best CMD...: runs CMD RUNS times (output to /dev/null) and prints
# "wall_s cpu_s maxrss_kb": the least wall seconds, the least CPU seconds
# (user + system, all threads) and the peak RSS of the run with the least CPU, each
# the best of the runs (the machine may be shared: minima, not means).
bench_best() {
	local best_w="" best_c="" best_kb="" w u s kb c
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >/dev/null 2>&1 || true
		read -r w u s kb <"$work/t"
		c=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u + s}')
		if [ -z "$best_w" ] || awk -v a="$w" -v b="$best_w" 'BEGIN{exit !(a<b)}'; then
			best_w=$w
		fi
		if [ -z "$best_c" ] || awk -v a="$c" -v b="$best_c" 'BEGIN{exit !(a<b)}'; then
			best_c=$c best_kb=$kb
		fi
	done
	echo "$best_w $best_c $best_kb"
}

# bench_header: the column titles of bench_row.
bench_header() {
	printf '%-30s %7s %7s %12s %12s %9s %9s\n' tool wall_s cpu_s "packets/s" "pkts/CPU-s" "RSS MB" "CPU ×fin"
}

# bench_row NAME WALL CPU KB: one row; packets from $packets, the last column is this
# tool's CPU seconds over finack's ($fin_cpu, when set).
bench_row() {
	awk -v n="$1" -v w="$2" -v c="$3" -v kb="$4" -v p="$packets" -v f="${fin_cpu:-0}" \
		'BEGIN{printf "%-30s %7.2f %7.2f %12.0f %12.0f %9.1f %9.2f\n", n, w, c,
			(w > 0) ? p/w : 0, (c > 0) ? p/c : 0, kb/1024, (f > 0) ? c/f : 0}'
}

# bench_others FILE: the rows of tshark, tcptrace and argus on FILE (those installed).
bench_others() {
	local file=$1 w c kb
	if command -v tshark >/dev/null; then
		read -r w c kb < <(bench_best tshark -q -z conv,tcp -r "$file")
		bench_row "tshark -q -z conv,tcp" "$w" "$c" "$kb"
	fi
	if command -v tcptrace >/dev/null; then
		read -r w c kb < <(bench_best tcptrace -n "$file")
		bench_row "tcptrace -n" "$w" "$c" "$kb"
	fi
	if command -v argus >/dev/null; then
		read -r w c kb < <(bench_best argus -X -r "$file" -w /dev/null)
		bench_row "argus -X -r F -w /dev/null" "$w" "$c" "$kb"
	fi
}

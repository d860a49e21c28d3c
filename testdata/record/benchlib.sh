# benchlib.sh: sourced by bench.sh, bench-big.sh, icount.sh and abtime.sh (not run by
# itself).
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

# bench_sink DIR: sets $sink to where the timed runs' output goes: /dev/null when it is
# the null device. Some containers and sandboxes leave a regular file there: writing a
# large report into it costs CPU that a run whose output is thrown away does not pay
# (docs/performance.md). Then, as root, a null device of the benchmark's own
# (DIR/null, made with mknod) takes its place; otherwise the figures include that
# writing, and bench_sink says so.
bench_sink() {
	sink=/dev/null
	[ -c /dev/null ] && return 0
	if [ "$(id -u)" -eq 0 ] && mknod -m 666 "$1/null" c 1 3 2>/dev/null; then
		sink=$1/null
		echo "bench: /dev/null is not the null device here; output goes to $sink" >&2
	else
		echo "bench: /dev/null is a regular file here: the times include writing each run's output into it" >&2
	fi
}

# bench_add NAME CMD...: queues a command, with the name of its row, for bench_run.
bench_names=()
bench_cmds=()
bench_add() {
	local name=$1
	shift
	bench_names+=("$name")
	bench_cmds+=("$(printf '%q ' "$@")")
}

# bench_run: runs the queued commands RUNS rounds, each round every command once in
# turn (output to $sink, from bench_sink), and prints a row for each (bench_row): its
# least wall seconds, its least CPU seconds (user + system, all threads) and the peak
# RSS of its run with the least CPU, each the best of its runs (the machine may be
# shared: minima, not means). Taking turns, rather than each command's runs one after the
# other, makes a machine whose speed drifts over minutes (a virtual machine's
# neighbours) slow every command alike: the ratios of the last column hold. The
# first command's CPU is what that column divides by; bench_wall[i] and
# bench_cpu[i] keep each command's figures.
bench_run() {
	local n=${#bench_cmds[@]} i w u s kb c
	bench_wall=() bench_cpu=() bench_kb=()
	for _ in $(seq "$RUNS"); do
		for ((i = 0; i < n; i++)); do
			eval "/usr/bin/time -f '%e %U %S %M' -o \"\$work/t\" ${bench_cmds[$i]}" >"$sink" 2>&1 || true
			read -r w u s kb <"$work/t"
			c=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u + s}')
			if [ -z "${bench_wall[$i]:-}" ] || awk -v a="$w" -v b="${bench_wall[$i]}" 'BEGIN{exit !(a<b)}'; then
				bench_wall[$i]=$w
			fi
			if [ -z "${bench_cpu[$i]:-}" ] || awk -v a="$c" -v b="${bench_cpu[$i]}" 'BEGIN{exit !(a<b)}'; then
				bench_cpu[$i]=$c bench_kb[$i]=$kb
			fi
		done
	done
	fin_cpu=${bench_cpu[0]}
	for ((i = 0; i < n; i++)); do
		bench_row "${bench_names[$i]}" "${bench_wall[$i]}" "${bench_cpu[$i]}" "${bench_kb[$i]}"
	done
	bench_names=() bench_cmds=()
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

# bench_others FILE: queues (bench_add) tshark, tcptrace and argus on FILE (those
# installed); argus writes its records to $sink.
bench_others() {
	local file=$1
	if command -v tshark >/dev/null; then
		bench_add "tshark -q -z conv,tcp" tshark -q -z conv,tcp -r "$file"
	fi
	if command -v tcptrace >/dev/null; then
		bench_add "tcptrace -n" tcptrace -n "$file"
	fi
	if command -v argus >/dev/null; then
		bench_add "argus -X -r F -w /dev/null" argus -X -r "$file" -w "$sink"
	fi
}

# bench_build REPO DIR NAME REV: builds finack at git revision REV ("" for the working
# tree) of REPO as DIR/NAME (a detached worktree in DIR, removed after).
bench_build() {
	local repo=$1 dir=$2 name=$3 rev=$4
	if [ -z "$rev" ]; then
		(cd "$repo" && go build -o "$dir/$name" ./cmd/finack)
		return
	fi
	git -C "$repo" worktree add -q --detach "$dir/src-$name" "$rev"
	(cd "$dir/src-$name" && go build -o "$dir/$name" ./cmd/finack)
	git -C "$repo" worktree remove --force "$dir/src-$name"
}

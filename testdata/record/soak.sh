#!/usr/bin/env bash
# soak.sh: run finack live for a long time on continuous connection churn between
# two network namespaces, and record its memory curve.
#
#   sudo testdata/record/soak.sh [MINUTES [RATE]]     (default: 35 minutes, 2000 connections/s)
#
# Topology (namespaces named per run, deleted on exit):
#
#   netns fksoak-a-PID (clients)                   netns fksoak-b-PID (server)
#   veth 10.79.0.1-8/24  <------------------------>  veth 10.79.0.100/24, port 7000
#                                                    ^ finack -i here
#
# testdata/record/churn makes RATE connections per second from 8 client addresses:
# a 100-byte request, a 200-byte response, then the client closes first (most), the
# server closes first (1 in 10), or the client resets (1 in 50). nftables in the
# client namespace drops 1 in 200 of the client's pure ACKs, among them final ACKs:
# the server retransmits its FIN (missing_final_ack), handshake ACKs and data ACKs.
#
# finack runs with -o json, --interval 60s and --metrics-addr 127.0.0.1:9177 (inside
# the server namespace). Every 10 s the script samples finack's VmRSS from
# /proc/PID/status and a few of its metrics (curl, inside the namespace), and the
# kernel's own TIME_WAIT counts (ss, in both namespaces) next to finack's
# finack_time_wait_sockets (the server's address) and finack_remote_time_wait_sockets
# (the clients'). At the end the churn stops, finack gets SIGINT and prints its report.
#
# FINACK_ARGS adds arguments to finack's (FINACK_ARGS='--cpuprofile /tmp/live.prof').
# Writes into $SOAK_OUT (default /tmp/finack-soak-PID): samples.tsv (the curve),
# report.json (finack's final report), finack.stderr, churn-*.log, summary.txt.
set -euo pipefail

MINUTES=${1:-35}
RATE=${2:-2000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ID=$$
OUT=${SOAK_OUT:-/tmp/finack-soak-$ID}
NS_A=fksoak-a-$ID
NS_B=fksoak-b-$ID
VETH_A=fksa$ID
VETH_B=fksb$ID
SRV=10.79.0.100
PORT=7000
METRICS=127.0.0.1:9177

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
[[ $(id -u) -eq 0 ]] || die "must be run as root (network namespaces): sudo $0 $*"
for t in ip nft curl go; do
	command -v "$t" >/dev/null || die "$t not found"
done

mkdir -p "$OUT"
PIDS=()
FINACK_PID=
cleanup() {
	local p
	for p in "${PIDS[@]}" $FINACK_PID; do
		kill "$p" 2>/dev/null || true
	done
	sleep 0.5
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building finack and churn into $OUT"
(cd "$REPO" && go build -o "$OUT/finack" ./cmd/finack && go build -o "$OUT/churn" ./testdata/record/churn)

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B"
LOCALS=()
for i in 1 2 3 4 5 6 7 8; do
	ip -n "$NS_A" addr add "10.79.0.$i/24" dev "$VETH_A"
	LOCALS+=("10.79.0.$i")
done
ip -n "$NS_B" addr add "$SRV/24" dev "$VETH_B"
for ns in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
	dev=${ns#*:}
	ns=${ns%%:*}
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" up
	if command -v ethtool >/dev/null; then
		ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || true
	fi
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.core.somaxconn=4096 \
		net.ipv4.tcp_max_syn_backlog=4096 net.ipv4.tcp_tw_reuse=0
done
ip netns exec "$NS_A" nft -f - <<EOF
table inet soak {
	chain output {
		type filter hook output priority filter; policy accept;
		tcp dport $PORT tcp flags == ack numgen random mod 200 == 0 counter drop
	}
}
EOF

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ip netns exec "$NS_B" "$OUT/churn" server -addr "$SRV:$PORT" 2>"$OUT/churn-server.log" &
PIDS+=($!)
# (FINACK_ARGS unquoted: more arguments, split on spaces)
ip netns exec "$NS_B" "$OUT/finack" -i "$VETH_B" -o json --interval 60s --metrics-addr "$METRICS" ${FINACK_ARGS:-} \
	>"$OUT/report.json" 2>"$OUT/finack.stderr" &
FINACK_PID=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$OUT/finack.stderr" 2>/dev/null && break
	sleep 0.1
done
grep -q 'listening on' "$OUT/finack.stderr" || die "finack did not start: $(cat "$OUT/finack.stderr")"
LOCAL_LIST=$(
	IFS=,
	echo "${LOCALS[*]}"
)
ip netns exec "$NS_A" "$OUT/churn" client -addr "$SRV:$PORT" -local "$LOCAL_LIST" -rate "$RATE" -workers 256 \
	2>"$OUT/churn-client.log" &
CLIENT_PID=$!
PIDS+=($CLIENT_PID)
log "soak: $MINUTES min at $RATE connections/s; finack pid $FINACK_PID; samples in $OUT/samples.tsv"

metric() { # metric NAME: its value in the scrape in $SCRAPE
	awk -v m="$1" '$1 == m { printf "%.0f", $2; found = 1 } END { if (!found) printf "NA" }' <<<"$SCRAPE"
}
CLK=$(getconf CLK_TCK)
printf 'seconds\trss_kb\thwm_kb\tcpu_s\tpackets\tconnections\ttracked\tpeak_tracked\tkernel_dropped\tfindings_missing_final_ack\tevicted\theap_kb\tss_server_tw\tfinack_server_tw\tss_client_tw\tfinack_client_tw\n' >"$OUT/samples.tsv"
START=$(date +%s)
END=$((START + MINUTES * 60))
while (($(date +%s) < END)); do
	sleep 10
	kill -0 "$FINACK_PID" 2>/dev/null || die "finack exited: $(tail -3 "$OUT/finack.stderr")"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$FINACK_PID/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$FINACK_PID/status")
	cpu=$(awk -v clk="$CLK" '{ printf "%.1f", ($14 + $15) / clk }' "/proc/$FINACK_PID/stat")
	SCRAPE=$(ip netns exec "$NS_B" curl -s --max-time 5 "http://$METRICS/metrics" || true)
	ss_b=$(ip netns exec "$NS_B" ss -Htan state time-wait | wc -l)
	ss_a=$(ip netns exec "$NS_A" ss -Htan state time-wait | wc -l)
	printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $(($(date +%s) - START)) "$rss" "$hwm" "$cpu" \
		"$(metric finack_packets_total)" "$(metric finack_connections_total)" "$(metric finack_tracked_connections)" \
		"$(metric finack_tracked_connections_peak)" "$(metric finack_kernel_dropped_packets_total)" \
		"$(awk '$1 ~ /^finack_findings_total\{kind="missing_final_ack"\}/ { printf "%.0f", $2 }' <<<"$SCRAPE")" \
		"$(metric finack_evicted_connections_total)" \
		"$(awk '$1 == "go_memstats_heap_inuse_bytes" { printf "%.0f", $2 / 1024 }' <<<"$SCRAPE")" \
		"$ss_b" "$(metric "finack_time_wait_sockets{host=\"$SRV\"}")" "$ss_a" "$(metric finack_remote_time_wait_sockets)" \
		>>"$OUT/samples.tsv"
done
log "stopping the churn, then finack"
kill -INT "$CLIENT_PID" 2>/dev/null || true
wait "$CLIENT_PID" 2>/dev/null || true
sleep 2
kill -INT "$FINACK_PID"
for _ in $(seq 600); do
	kill -0 "$FINACK_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$FINACK_PID" || log "finack exited with $?"
FINACK_PID=

# Summary: RSS after the first 2 minutes (TIME_WAIT records fill the table during the
# first 60-120 s, then it is in steady state), min/max, and a sparkline of the curve.
awk -F'\t' 'NR > 1 && $2 != "" {
	n++; rss[n] = $2; t[n] = $1
	if ($1 >= 120) { if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2 }
}
END {
	bars = "_.-:=+*#"
	lo = rss[1]; hi = rss[1]
	for (i = 1; i <= n; i++) { if (rss[i] < lo) lo = rss[i]; if (rss[i] > hi) hi = rss[i] }
	line = ""
	step = n > 60 ? n / 60 : 1
	for (x = 1; x <= n; x += step) {
		i = int(x); k = hi > lo ? int((rss[i] - lo) * 7 / (hi - lo)) : 0
		line = line substr(bars, k + 1, 1)
	}
	printf "samples %d over %d s\nRSS after 120 s: min %.1f MiB, max %.1f MiB\nRSS overall: %.1f to %.1f MiB\ncurve (%.1f-%.1f MiB): %s\n",
		n, t[n], min / 1024, max / 1024, lo / 1024, hi / 1024, lo / 1024, hi / 1024, line
}' "$OUT/samples.tsv" | tee "$OUT/summary.txt"
# TIME_WAIT: finack's inference against the kernel's tables (sampled a moment apart).
awk -F'\t' 'NR > 1 && $1 >= 120 && $13 != "" && $14 != "NA" && $13 > 0 {
	d = ($14 - $13) / $13; if (d < 0) d = -d; if (d > ds) ds = d
	e = ($16 - $15) / $15; if (e < 0) e = -e; if (e > dc) dc = e; n++
}
END { printf "TIME_WAIT, finack vs ss over %d samples: server within %.1f%%, clients within %.1f%%\n", n, ds * 100, dc * 100 }' \
	"$OUT/samples.tsv" | tee -a "$OUT/summary.txt"
tail -n 2 "$OUT/churn-client.log" | tee -a "$OUT/summary.txt"
grep -E 'WARNING|listening' "$OUT/finack.stderr" | tee -a "$OUT/summary.txt" || true
log "done: $OUT"

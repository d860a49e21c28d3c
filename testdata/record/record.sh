#!/usr/bin/env bash
# record.sh: record real Linux TCP teardown captures between two network
# namespaces, for finack's tests.
#
#   sudo testdata/record/record.sh [scenario...]     (no arguments: all of them)
#   sudo testdata/record/record.sh -l                (list the scenarios)
#
# Writes testdata/pcaps/NAME.pcap and testdata/pcaps/NAME.ss.txt (the kernel's own
# view, `ss -tanoi state all` in both namespaces, taken right before the capture
# is stopped). Set FINACK_PCAPS=DIR to write elsewhere, KEEP=1 to keep the work
# directory (process logs, sync files) for inspection.
#
# Topology (created afresh for every scenario, deleted on exit and at start):
#
#   netns finack-a (client)                 netns finack-b (server)
#   fk-cli 10.77.0.1/24 fd77::1/64  <-veth->  fk-srv 10.77.0.2/24 fd77::2/64
#                                              ^ tcpdump taps here (default)
#
# The server listens on port 7077. Offloads (TSO/GSO/GRO, checksum, SG) are off
# on both veth ends, so every segment is captured as TCP sent it, with valid
# checksums. The MTU is 1500 except where a scenario says otherwise.
#
# WHERE THE TAP IS, AND WHAT IT IMPLIES. tcpdump (AF_PACKET) on fk-srv inside
# finack-b sees
#   - packets arriving at the server (client -> server) BEFORE the server's
#     nftables prerouting/input hooks: a client->server packet dropped by an nft
#     rule in finack-b's input chain is still in the capture ("lost after the
#     tap", i.e. downstream of it);
#   - packets leaving the server (server -> client) only AFTER the server's
#     nftables output/postrouting hooks: a server->client packet dropped in
#     finack-b's output chain is never in the capture;
#   - a client->server packet dropped in finack-a's output chain never reaches
#     the veth at all: not in the capture ("lost before the tap");
#   - a server->client packet dropped in finack-a's input chain is in the
#     capture (it was dropped after crossing the tap).
# Each scenario below says which of these it uses.
#
# Drops are done with nftables rules in a table "inet finack" in one namespace.
# "numgen inc mod 1000000 < N" makes a rule drop exactly the first N packets it
# matches and let every later one through, decided in the kernel (no timing race
# with this script).
#
# Timings and ISNs differ from run to run; the shape of every capture (which
# segments, in which order, how many retransmissions) does not. On a veth the
# RTT is tens of microseconds, so timers sit at their minimums: an unanswered
# FIN is re-sent first by a tail loss probe (~0.2 s), then by the RTO (200 ms
# minimum) at doubling intervals: FINs at about +0, +0.21, +0.42, +0.84,
# +1.66, +3.33, +6.7 s. testdata/pcaps/README.md describes every capture.
set -euo pipefail

ALL=(
	client-close server-close
	final-ack-dropped final-ack-dropped-after-tap
	reuse-server-timewait reuse-server-timewait-v6
	client-close-v6 server-close-v6 final-ack-dropped-v6
	rst-close rst-close-v6 rst-data-after-close
	fin-dropped fin-dropped-after-tap
	simultaneous-close half-close unfinished
	reuse-refused many-connections
	final-ack-never first-fin-unacked
	silent-closer simultaneous-close-final-ack-dropped
	syn-into-half-open syn-retries-exhausted simultaneous-open
)
# Recorded only when named: too large to commit (tests and benchmarks record them
# into a temporary directory with FINACK_PCAPS).
EXTRA=(port-wrap many-reuse)
if [[ ${1:-} == -l ]]; then
	printf '%s\n' "${ALL[@]}" "${EXTRA[@]}"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "record.sh: must be run as root (it creates network namespaces, nftables rules and runs tcpdump): sudo $0 $*" >&2
	exit 1
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${FINACK_PCAPS:-$REPO/testdata/pcaps}

NS_A=${FINACK_NS_A:-finack-a} # FINACK_NS_A/B: other names, so two runs do not collide
NS_B=${FINACK_NS_B:-finack-b}
VETH_A=fk-cli
VETH_B=fk-srv
A4=10.77.0.1
B4=10.77.0.2
A6=fd77::1
B6=fd77::2
PORT=7077
SNAP_DEFAULT=128

log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# ------------------------------------------------------------------ tools
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
for t in ip nft tcpdump ss "$GO"; do
	command -v "$t" >/dev/null || die "$t not found"
done
if ! command -v ethtool >/dev/null; then
	die "ethtool not found (needed to turn veth offloads off): apt-get install -y ethtool"
fi

RUN=$(mktemp -d /tmp/finack-record.XXXXXX)
chmod 755 "$RUN"
PIDS=()
CAP_PID=
FAILED=1

ns_teardown() {
	local ns pid
	for ns in "$NS_A" "$NS_B"; do
		if [[ -e /run/netns/$ns ]]; then
			# Processes left in our namespaces were started by this script (or an
			# earlier run of it): end them by pid.
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill "$pid" 2>/dev/null || true
			done
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	# A veth end left in the root namespace by an interrupted setup.
	ip link del "$VETH_A" 2>/dev/null || true
	ip link del "$VETH_B" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${PIDS[@]}" $CAP_PID; do
		kill "$pid" 2>/dev/null || true
	done
	ns_teardown
	if [[ $FAILED == 1 || ${KEEP:-0} == 1 ]]; then
		log "work directory kept: $RUN"
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Leftovers from an interrupted run.
ns_teardown

log "building tcpscen"
(cd "$REPO" && "$GO" build -o "$RUN/tcpscen" ./testdata/record/tcpscen) || die "go build failed"
BIN=$RUN/tcpscen
mkdir -p "$OUT"

# ------------------------------------------------------------------ helpers
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# ns_setup [MTU]: fresh namespaces, veth pair, addresses, offloads off.
ns_setup() {
	local mtu=${1:-1500} ns dev
	ns_teardown
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	ip link add "$VETH_A" netns "$NS_A" mtu "$mtu" type veth peer name "$VETH_B" netns "$NS_B" mtu "$mtu"
	ip -n "$NS_A" addr add "$A4/24" dev "$VETH_A"
	ip -n "$NS_B" addr add "$B4/24" dev "$VETH_B"
	ip -n "$NS_A" addr add "$A6/64" dev "$VETH_A" nodad
	ip -n "$NS_B" addr add "$B6/64" dev "$VETH_B" nodad
	for ns in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
		dev=${ns#*:}
		ns=${ns%%:*}
		ip -n "$ns" link set lo up
		ip netns exec "$ns" ethtool -K "$dev" tx off rx off sg off tso off gso off gro off >/dev/null 2>&1 ||
			ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off
		ip netns exec "$ns" ethtool -k "$dev" | grep -q '^tcp-segmentation-offload: off' ||
			die "could not turn TSO off on $dev"
		ip -n "$ns" link set "$dev" up
		# Defaults made explicit, so that a changed default cannot change a capture.
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 \
			net.ipv4.tcp_window_scaling=1 net.ipv4.tcp_ecn=2 net.ipv4.tcp_rfc1337=0 \
			net.ipv4.tcp_orphan_retries=0 net.ipv4.tcp_fin_timeout=60 net.ipv4.tcp_tw_reuse=2 \
			net.ipv4.tcp_syn_retries=6
	done
	# Static neighbours: no ARP/ND exchange delays the first SYN.
	local mac_a mac_b
	mac_a=$(ip -n "$NS_A" -br link show "$VETH_A" | awk '{print $3}')
	mac_b=$(ip -n "$NS_B" -br link show "$VETH_B" | awk '{print $3}')
	ip -n "$NS_A" neigh replace "$B4" lladdr "$mac_b" dev "$VETH_A" nud permanent
	ip -n "$NS_A" neigh replace "$B6" lladdr "$mac_b" dev "$VETH_A" nud permanent
	ip -n "$NS_B" neigh replace "$A4" lladdr "$mac_a" dev "$VETH_B" nud permanent
	ip -n "$NS_B" neigh replace "$A6" lladdr "$mac_a" dev "$VETH_B" nud permanent
	# Bounded wait until both links are up.
	local i
	for ((i = 0; i < 100; i++)); do
		if ip -n "$NS_A" -br link show "$VETH_A" | grep -q ' UP ' &&
			ip -n "$NS_B" -br link show "$VETH_B" | grep -q ' UP '; then
			return 0
		fi
		sleep 0.02
	done
	die "veth did not come up"
}

# nft_table NS: create table inet finack with empty input and output chains.
nft_table() {
	ip netns exec "$1" nft -f - <<'EOF'
table inet finack {
	chain input { type filter hook input priority filter; policy accept; }
	chain output { type filter hook output priority filter; policy accept; }
}
EOF
}
# nft_rule NS CHAIN RULE...
nft_rule() {
	local ns=$1 chain=$2
	shift 2
	ip netns exec "$ns" nft add rule inet finack "$chain" "$@"
	log "nft ($ns $chain): $*"
}
# nft_dropped NS CHAIN: packets counted by the rules of CHAIN.
nft_dropped() {
	ip netns exec "$1" nft list chain inet finack "$2" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
nft_delete() { ip netns exec "$1" nft delete table inet finack 2>/dev/null || true; }

# ---- synchronisation through files shared with tcpscen
SYNC=
sync_reset() {
	SYNC=$RUN/sync-$1
	rm -rf "$SYNC"
	mkdir -p "$SYNC"
}
sync_signal() { : >"$SYNC/$1"; }
# sync_wait NAME TIMEOUT_S
sync_wait() {
	local i n=$(($2 * 50))
	for ((i = 0; i < n; i++)); do
		[[ -e $SYNC/$1 ]] && return 0
		sleep 0.02
	done
	die "timed out after $2 s waiting for $1 (logs in $RUN)"
}

# ---- capture
CAP_NAME=
CAP_FILE=
CAP_TAP=
# cap_start NAME [SNAPLEN [NS IFACE]]
cap_start() {
	CAP_NAME=$1
	local snap=${2:-$SNAP_DEFAULT} ns=${3:-$NS_B} dev=${4:-$VETH_B} i
	CAP_TAP="$dev in $ns"
	CAP_FILE=$RUN/$CAP_NAME.pcap
	sync_reset "$CAP_NAME"
	log "== $CAP_NAME: tcpdump -i $dev (in $ns) -s $snap"
	# -B: a 32 MiB kernel buffer, so a busy scenario (port-wrap) loses nothing.
	ip netns exec "$ns" tcpdump -i "$dev" -s "$snap" -B 32768 -U --immediate-mode -n -Z root -w "$CAP_FILE" tcp 2>"$RUN/$CAP_NAME.tcpdump.log" &
	CAP_PID=$!
	for ((i = 0; i < 250; i++)); do
		grep -q 'listening on' "$RUN/$CAP_NAME.tcpdump.log" 2>/dev/null && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.02
	done
	cat "$RUN/$CAP_NAME.tcpdump.log" >&2
	die "tcpdump did not start"
}

ss_snapshot() {
	{
		echo "# $CAP_NAME: ss -tanoi state all in both namespaces, taken $(date -u +%FT%T.%3NZ),"
		echo "# right before the capture was stopped. The capture tapped $CAP_TAP."
		echo
		echo "## $NS_A (client: $A4, $A6)"
		in_a ss -tanoi state all
		echo
		echo "## $NS_B (server: $B4, $B6)"
		in_b ss -tanoi state all
	} >"$RUN/$CAP_NAME.ss.txt"
}

# cap_stop: snapshot ss, stop tcpdump with SIGINT, wait for it, copy the files out.
cap_stop() {
	local i size
	ss_snapshot
	kill -INT "$CAP_PID"
	for ((i = 0; i < 250; i++)); do
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$CAP_PID" 2>/dev/null; then
		kill -KILL "$CAP_PID" || true
		die "tcpdump did not stop on SIGINT"
	fi
	wait "$CAP_PID" || true
	CAP_PID=
	cp "$CAP_FILE" "$OUT/$CAP_NAME.pcap"
	cp "$RUN/$CAP_NAME.ss.txt" "$OUT/$CAP_NAME.ss.txt"
	if [[ -n ${SUDO_UID:-} ]]; then # run through sudo: give the files to the caller
		chown "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT/$CAP_NAME.pcap" "$OUT/$CAP_NAME.ss.txt"
	fi
	size=$(stat -c %s "$OUT/$CAP_NAME.pcap")
	log "$CAP_NAME: $(grep -h 'packets captured' "$RUN/$CAP_NAME.tcpdump.log"), $size bytes"
	# A capture the kernel dropped packets from is not the scenario: say so loudly.
	local dropped
	dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$RUN/$CAP_NAME.tcpdump.log")
	if [[ -n $dropped && $dropped != 0 ]]; then
		log "KERNEL DROPS: $CAP_NAME lost $dropped packets in the capture buffer"
	fi
	if ((size > 100000)); then
		log "WARNING: $CAP_NAME.pcap is $size bytes (> 100 KB)"
	fi
}

# ---- the two programs
SRV_PID=
CLI_PID=
# srv_start FAMILY ARGS...: run tcpscen server in finack-b, wait until it listens.
srv_start() {
	local fam=$1
	shift
	local addr="$B4:$PORT"
	[[ $fam == 6 ]] && addr="[$B6]:$PORT"
	ip netns exec "$NS_B" timeout 180 "$BIN" server -addr "$addr" -sync "$SYNC" "$@" \
		2>>"$RUN/$CAP_NAME.server.log" &
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	sync_wait s-ready 10
}
# cli_start FAMILY ARGS...: run tcpscen client in finack-a (in the background).
cli_start() {
	local fam=$1
	shift
	local addr="$B4:$PORT" local=$A4
	if [[ $fam == 6 ]]; then
		addr="[$B6]:$PORT"
		local=$A6
	fi
	ip netns exec "$NS_A" timeout 180 "$BIN" client -addr "$addr" -local "$local" -sync "$SYNC" "$@" \
		2>>"$RUN/$CAP_NAME.client.log" &
	CLI_PID=$!
	PIDS+=("$CLI_PID")
}
# wait_pid PID TIMEOUT_S WHAT
wait_pid() {
	local pid=$1 n=$(($2 * 50)) i
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		die "$3 did not finish within $2 s (logs in $RUN)"
	fi
	wait "$pid" || die "$3 failed: $(tail -n 3 "$RUN/$CAP_NAME.$3.log" 2>/dev/null)"
}
wait_both() {
	wait_pid "$CLI_PID" "${1:-30}" client
	wait_pid "$SRV_PID" "${1:-30}" server
}

# wait_gone NS STATE TIMEOUT_S: wait until no socket to/from port 7077 is in
# STATE (an ss state filter, e.g. last-ack) in NS.
wait_gone() {
	local ns=$1 state=$2 n=$(($3 * 20)) i
	for ((i = 0; i < n; i++)); do
		if [[ -z $(ip netns exec "$ns" ss -Htan state "$state" "( sport = :$PORT or dport = :$PORT )") ]]; then
			return 0
		fi
		sleep 0.05
	done
	die "a socket in $state in $ns did not go away within $3 s"
}

# wait_present NS STATE TIMEOUT_S: wait until a socket to/from port 7077 is in
# STATE in NS.
wait_present() {
	local ns=$1 state=$2 n=$(($3 * 20)) i
	for ((i = 0; i < n; i++)); do
		if [[ -n $(ip netns exec "$ns" ss -Htan state "$state" "( sport = :$PORT or dport = :$PORT )") ]]; then
			return 0
		fi
		sleep 0.05
	done
	die "no socket in $state in $ns within $3 s"
}

settle() { sleep "${1:-0.3}"; }

# end_marker: a pcap file records no end-of-capture time, only packets. Where
# a scenario's point is that nothing more happened (a socket gave up silently),
# the capture ends with a marker: one SYN from the client to port 7079, where
# nothing listens, answered by the server kernel's RST/ACK. Its time proves the
# capture was still running then; it leaves no socket behind.
MARKER_PORT=7079
end_marker() {
	if in_a bash -c "exec 3<>/dev/tcp/$B4/$MARKER_PORT" 2>/dev/null; then
		die "marker connection to port $MARKER_PORT unexpectedly succeeded"
	fi
	settle 0.2
}

# ------------------------------------------------------------------ scenarios
#
# Each function records one capture. "fam" is 4 or 6.

# client-close: request (300 bytes) / response (500 bytes); the client closes
# first; the server closes 300 ms after reading EOF (longer than the 200 ms
# delayed-ACK limit, so the server ACKs the client's FIN on its own first: a
# four-way close). The client ends in TIME_WAIT. Tap: server side.
rec_client_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen client-close
	cli_start "$fam" -scen client-close
	wait_both
	settle
	cap_stop
}

# server-close: the HTTP/1.0 pattern: the server closes right after writing
# the response; the client reads EOF and closes at once (its FIN carries the
# ACK of the server's FIN when the delayed ACK has not fired yet: typically a
# three-way close). The server ends in TIME_WAIT. Tap: server side.
rec_server_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen server-close
	cli_start "$fam" -scen server-close
	wait_both
	settle
	cap_stop
}

# final-ack-dropped: as client-close, but the client's final ACK (the pure ACK
# acknowledging the server's FIN) is dropped in finack-a's OUTPUT chain, BEFORE
# the tap, for its first 3 transmissions; the server (LAST_ACK) retransmits
# its FIN until a later ACK gets through: outcome "recovered". The rule matches
# "tcp flags == ack" towards port 7077 and is installed only after the
# request/response exchange and a 250 ms pause, so no ACK of data is dropped:
# after its own FIN|ACK the client sends no pure ACK other than the final ACK
# (and the ACKs its TIME_WAIT sends for retransmitted FINs).
# The client's TIME_WAIT answers every retransmitted FIN with an ACK (FINs
# are not subject to the out-of-window ACK rate limit), and every one of
# those ACKs echoes the TSval of the FIRST FIN: a TIME_WAIT socket does not
# update ts_recent from a retransmitted (out-of-window) FIN.
# The server's first retransmission is a tail loss probe (TLP, ~2*srtt +
# 200 ms for a single outstanding segment), the second the first RTO expiry
# 200 ms after it; then the RTO doubles: FIN at about +0, +0.2, +0.4, +0.8 s.
# With 3 ACKs dropped, the 4th transmission is ACKed (recovered after ~0.8 s).
# final-ack-dropped-after-tap: the same ACKs are dropped in finack-b's INPUT
# chain, AFTER the tap: the capture shows each ACK and yet the FIN is
# retransmitted (the ACK was lost downstream of the tap).
rec_final_ack_dropped() {
	local name=$1 fam=$2 where=$3
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen client-close
	cli_start "$fam" -scen client-close -barrier
	sync_wait c-exchanged 10
	settle 0.25
	if [[ $where == before-tap ]]; then
		nft_table "$NS_A"
		nft_rule "$NS_A" output tcp dport $PORT tcp flags == ack numgen inc mod 1000000 '<' 3 counter drop
	else
		nft_table "$NS_B"
		nft_rule "$NS_B" input tcp dport $PORT tcp flags == ack numgen inc mod 1000000 '<' 3 counter drop
	fi
	sync_signal c-go
	wait_both
	wait_gone "$NS_B" last-ack 20
	settle
	if [[ $where == before-tap ]]; then
		log "final ACKs dropped: $(nft_dropped "$NS_A" output)"
		nft_delete "$NS_A"
	else
		log "final ACKs dropped: $(nft_dropped "$NS_B" input)"
		nft_delete "$NS_B"
	fi
	cap_stop
}

# final-ack-never: every final ACK is dropped in finack-a's OUTPUT chain
# (before the tap) and never let through. net.ipv4.tcp_orphan_retries=5 in
# finack-b (a per-network-namespace sysctl: the root namespace keeps its own
# value) makes the orphaned LAST_ACK socket give up: observed on 6.18, the FIN
# is sent 7 times (the original, a tail loss probe ~0.2 s later, then 5 RTO
# retransmissions at doubling intervals 0.2 ... 3.4 s, the last ~6.7 s after
# the first) and the socket is destroyed ~13.4 s after the first FIN, at the
# RTO expiry that would have sent the next one. Linux gives up silently
# (tcp_write_timeout -> tcp_write_err -> tcp_done: no RST is sent). The capture
# goes on for 2 s after the server's socket is gone and ends with the end
# marker (SYN to port 7079, RST/ACK): outcome "never".
rec_final_ack_never() {
	local name=$1 fam=$2
	ns_setup
	in_b sysctl -qw net.ipv4.tcp_orphan_retries=5
	cap_start "$name"
	srv_start "$fam" -scen client-close
	cli_start "$fam" -scen client-close -barrier
	sync_wait c-exchanged 10
	settle 0.25
	nft_table "$NS_A"
	nft_rule "$NS_A" output tcp dport $PORT tcp flags == ack counter drop
	sync_signal c-go
	wait_both
	wait_gone "$NS_B" last-ack 40
	log "server's LAST_ACK socket gone; final ACKs dropped so far: $(nft_dropped "$NS_A" output)"
	# Leave a clear gap before the marker: a reader tells "gave up" from "still
	# retransmitting" by a silence well past the next retransmission (2.5 times the
	# last interval, about 8.4 s here).
	settle 5
	end_marker
	cap_stop
}

# fin-dropped: the client (active closer) closes first; its FIN is dropped
# twice in finack-a's OUTPUT chain (BEFORE the tap), so the capture shows
# only the third transmission, ~0.6 s after the close (its TSval is that much
# later than the client's previous segment): the retransmission itself is
# invisible at this tap.
# fin-dropped-after-tap: the same two FINs are dropped in finack-b's INPUT
# chain (AFTER the tap): the capture shows the FIN three times (at about +0,
# +0.2, +0.6 s) before the server ACKs it.
rec_fin_dropped() {
	local name=$1 fam=$2 where=$3
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen client-close
	cli_start "$fam" -scen client-close -barrier
	sync_wait c-exchanged 10
	settle 0.25
	if [[ $where == before-tap ]]; then
		nft_table "$NS_A"
		nft_rule "$NS_A" output tcp dport $PORT tcp flags '&' fin == fin numgen inc mod 1000000 '<' 2 counter drop
	else
		nft_table "$NS_B"
		nft_rule "$NS_B" input tcp dport $PORT tcp flags '&' fin == fin numgen inc mod 1000000 '<' 2 counter drop
	fi
	sync_signal c-go
	wait_both
	settle
	cap_stop
}

# first-fin-unacked: the client closes first (close(), so its socket is
# orphaned in FIN_WAIT_1); every server->client segment is dropped in
# finack-b's OUTPUT chain (BEFORE the tap) from then on, so the client's FIN is
# never acknowledged as far as the capture (and the client) can tell.
# net.ipv4.tcp_orphan_retries=5 in finack-a makes the client give up the same
# way as in final-ack-never: 7 FIN transmissions, the socket destroyed ~13.4 s
# after the first, silently (no RST). The server application does not close: its
# socket stays in CLOSE_WAIT (it did receive the FIN) until after the capture.
# 2 s after the client's socket is gone, the drop rule is removed and the
# capture ends with the end marker (SYN to port 7079, RST/ACK).
rec_first_fin_unacked() {
	local name=$1 fam=$2
	ns_setup
	in_a sysctl -qw net.ipv4.tcp_orphan_retries=5
	cap_start "$name"
	srv_start "$fam" -scen client-close -hold
	cli_start "$fam" -scen client-close -barrier
	sync_wait c-exchanged 10
	settle 0.25
	nft_table "$NS_B"
	nft_rule "$NS_B" output tcp sport $PORT counter drop
	sync_signal c-go
	wait_pid "$CLI_PID" 30 client
	sync_wait s-eof 10
	wait_gone "$NS_A" fin-wait-1 40
	log "client's FIN_WAIT_1 socket gone; server segments dropped: $(nft_dropped "$NS_B" output)"
	nft_delete "$NS_B" # let the marker's RST through
	# Leave a clear gap before the marker: a reader tells "gave up" from "still
	# retransmitting" by a silence well past the next retransmission (2.5 times the
	# last interval, about 8.4 s here).
	settle 5
	end_marker
	cap_stop
	sync_signal end
	wait_pid "$SRV_PID" 10 server
}

# silent-closer: the client (A) closes first with close(); the server (B) ACKs
# the FIN (delayed ACK) but its application does not close yet. Once the client
# socket is in FIN_WAIT_2, every segment the client sends to port 7077 is dropped
# in finack-a's OUTPUT chain (before the tap): from then on A is silent. The
# orphaned FIN_WAIT_2 socket lives net.ipv4.tcp_fin_timeout (60 s, the default,
# left as it is) and is destroyed without a packet; only then does the server
# close. Its FIN reaches a client that has no socket for the 4-tuple: A's kernel
# answers each one with an RST, which the rule drops, so at the tap the FIN is
# never answered. B (LAST_ACK, orphaned) retransmits it with backoff and, with
# net.ipv4.tcp_orphan_retries=3 in finack-b, gives up silently: observed on
# 6.18, 6 transmissions (the original, a tail loss probe ~0.2 s later, then 4
# RTO retransmissions at doubling intervals 0.2 ... 1.66 s), the socket
# destroyed ~6.7 s after the first FIN, at the RTO expiry that would have sent
# the 7th; the client's 6 RSTs are counted by the rule. Linux
# cannot be made to end this with an RST: an SO_LINGER {1, 0} close sends one
# only from ESTABLISHED, CLOSE_WAIT, FIN_WAIT_1/2 and SYN_RECV
# (tcp_need_reset), not from LAST_ACK, and an orphan that runs out of retries
# dies silently. A never entered TIME_WAIT. The capture ends 3 s after B's
# socket is gone with the end marker.
rec_silent_closer() {
	local name=$1 fam=$2
	ns_setup
	in_b sysctl -qw net.ipv4.tcp_orphan_retries=3
	cap_start "$name"
	srv_start "$fam" -scen client-close -hold -wait 120s -timeout 170s
	cli_start "$fam" -scen client-close
	wait_pid "$CLI_PID" 10 client
	sync_wait s-eof 10
	wait_present "$NS_A" fin-wait-2 5
	nft_table "$NS_A"
	nft_rule "$NS_A" output tcp dport $PORT counter drop
	log "waiting for the client's orphaned FIN_WAIT_2 to expire (tcp_fin_timeout 60 s)"
	wait_gone "$NS_A" fin-wait-2 75
	settle 1
	sync_signal end
	wait_pid "$SRV_PID" 10 server
	wait_gone "$NS_B" last-ack 20
	log "server's LAST_ACK socket gone; client segments dropped: $(nft_dropped "$NS_A" output)"
	settle 3
	end_marker
	cap_stop
}

# simultaneous-close-final-ack-dropped: as simultaneous-close (the client's
# first FIN dropped in finack-b's INPUT chain, after the tap, so that the
# server's FIN crosses it), and every pure ACK the server sends is dropped in
# finack-b's OUTPUT chain (before the tap). The client (CLOSING: it received
# the server's FIN before its own was acknowledged) retransmits its FIN; the
# server receives it, enters TIME_WAIT and ACKs it, but every such ACK is
# dropped: the client's FIN is never acknowledged. With
# net.ipv4.tcp_orphan_retries=3 in finack-a, the orphaned CLOSING socket gives
# up silently: observed on 6.18, 6 FIN transmissions (the first lost after the
# tap, then at +0.21, +0.42, +0.83, +1.66, +3.32 s), the socket destroyed ~6.6 s
# after the first FIN; 5 server ACKs dropped. The capture ends 3 s after the
# client's socket is gone with the end marker; the server's TIME_WAIT is still
# there.
rec_simultaneous_final_ack_dropped() {
	local name=$1 fam=$2
	ns_setup
	in_a sysctl -qw net.ipv4.tcp_orphan_retries=3
	cap_start "$name"
	srv_start "$fam" -scen simultaneous
	cli_start "$fam" -scen simultaneous
	sync_wait c-exchanged 10
	settle 0.25
	nft_table "$NS_B"
	nft_rule "$NS_B" input tcp dport $PORT tcp flags '&' fin == fin numgen inc mod 1000000 '<' 1 counter drop
	nft_rule "$NS_B" output tcp sport $PORT tcp flags == ack counter drop
	sync_signal c-go
	wait_both
	wait_gone "$NS_A" closing 20
	log "client's CLOSING socket gone; dropped: server input $(nft_dropped "$NS_B" input), server output $(nft_dropped "$NS_B" output)"
	settle 3
	end_marker
	cap_stop
}

# syn-into-half-open: every segment without SYN that the client sends to port
# 7077 is dropped in finack-a's OUTPUT chain (before the tap). The client
# connects from port 40003: SYN, SYN-ACK, and its handshake ACK is dropped, so
# the server holds the connection half-open (SYN_RECV, a request socket). The
# client resets that socket (SO_LINGER 0; the RST is dropped too), the rule is
# removed, and 0.2 s later the client connects again from the same port: a SYN
# with a new ISN on the 4-tuple the server holds in SYN_RECV. Observed on 6.18:
# the new ISN is far outside the half-open's receive window, so the request
# socket answers it with an ACK of its own handshake (tcp_check_req: an
# out-of-window segment gets an ACK, seq = its ISN + 1, ack = the old ISN + 1;
# an in-window SYN would have reset it instead); the client (SYN_SENT) answers
# that unacceptable ACK with an RST (seq = its ack), which is in the half-open's
# window and removes the request socket silently; the client retransmits its SYN
# ~9 ms later (TCP_TIMEOUT_MIN, as in reuse-refused) and the listener completes
# a fresh handshake. 2 client segments dropped (the handshake ACK, the RST).
rec_syn_into_half_open() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen half-open
	nft_table "$NS_A"
	nft_rule "$NS_A" output tcp dport $PORT tcp flags '&' syn != syn counter drop
	cli_start "$fam" -scen half-open -lport 40003
	sync_wait c-closed1 10
	wait_present "$NS_B" syn-recv 5
	log "client segments dropped: $(nft_dropped "$NS_A" output)"
	nft_delete "$NS_A"
	settle 0.2
	sync_signal c-go
	wait_both
	settle
	cap_stop
}

# syn-retries-exhausted: net.ipv4.tcp_syn_retries=2 in finack-a, and
# net.ipv4.tcp_syn_linear_timeouts=4 (its default where it exists: the first
# SYN timeouts stay at 1 s before the exponential backoff); every SYN to port
# 7077 is dropped in finack-b's INPUT chain (after the tap: the capture shows
# them). The client connects from port 40004: observed on 6.18, 6 SYNs about
# 1 s apart, and connect() fails with ETIMEDOUT ~7.2 s after the first. The
# rule is removed and 0.2 s later the client connects again from the same port
# (SO_REUSEADDR): a new SYN with a new ISN, which completes; then as
# client-close.
rec_syn_retries_exhausted() {
	local name=$1 fam=$2
	ns_setup
	in_a sysctl -qw net.ipv4.tcp_syn_retries=2
	if in_a test -e /proc/sys/net/ipv4/tcp_syn_linear_timeouts; then
		in_a sysctl -qw net.ipv4.tcp_syn_linear_timeouts=4
	fi
	cap_start "$name"
	srv_start "$fam" -scen syn-retry
	nft_table "$NS_B"
	nft_rule "$NS_B" input tcp dport $PORT tcp flags '&' '(syn|ack)' == syn counter drop
	cli_start "$fam" -scen syn-retry -lport 40004
	sync_wait c-failed 20
	log "SYNs dropped: $(nft_dropped "$NS_B" input)"
	nft_delete "$NS_B"
	settle 0.2
	sync_signal c-go
	wait_both
	settle
	cap_stop
}

# simultaneous-open: no listener. The server's program binds 10.77.0.2:7077
# and connects to 10.77.0.1:40005; the client's binds 10.77.0.1:40005 and
# connects to 10.77.0.2:7077; both connect when "go" appears. The first SYN
# each side receives is dropped in its INPUT chain (after the tap for the
# client's SYN; the server's crosses the tap before it is dropped at the
# client), so both sockets sit in SYN_SENT until their SYN timers fire. The
# two timers, armed within milliseconds of each other for 1 s, expire in the
# same tick of the timer wheel: the retransmitted SYNs cross, each socket gets
# a SYN in SYN_SENT, and each answers with a SYN-ACK (the symmetric open of RFC
# 9293 figure 7). Should one SYN arrive first and the other side answer it
# before its own timer fires, only one side would send a SYN-ACK: the capture
# is checked for a SYN-ACK from each side and re-recorded if not (at most 5
# tries; observed: the first one is symmetric).
rec_simultaneous_open() {
	local name=$1 fam=$2 try a b
	for ((try = 1; try <= 5; try++)); do
		ns_setup
		nft_table "$NS_A"
		nft_rule "$NS_A" input tcp sport $PORT tcp flags '&' '(syn|ack)' == syn numgen inc mod 1000000 '<' 1 counter drop
		nft_table "$NS_B"
		nft_rule "$NS_B" input tcp dport $PORT tcp flags '&' '(syn|ack)' == syn numgen inc mod 1000000 '<' 1 counter drop
		cap_start "$name"
		srv_start "$fam" -scen simopen -peer "$A4:40005"
		cli_start "$fam" -scen simopen -lport 40005
		sync_wait c-ready 10
		sync_signal go
		wait_both
		settle
		cap_stop
		a=$(tcpdump -nr "$OUT/$name.pcap" "src port 40005 and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)" 2>/dev/null | wc -l)
		b=$(tcpdump -nr "$OUT/$name.pcap" "src port $PORT and tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)" 2>/dev/null | wc -l)
		if ((a > 0 && b > 0)); then
			log "$name: a SYN-ACK from each side (try $try)"
			return 0
		fi
		log "$name: SYN-ACKs from the client $a, from the server $b: not symmetric, recording again"
	done
	die "$name: no symmetric simultaneous open in 5 tries"
}

# reuse-server-timewait: 3 connections from the same client port 40000
# (SO_REUSEADDR, bind), 1 s apart; in each the server closes first, so the
# server holds TIME_WAIT when the next SYN arrives. The new SYN is acceptable
# (ISN beyond the old rcv_nxt, and a newer TSval), so Linux accepts it in
# TIME_WAIT and answers with a SYN-ACK whose ISN is the old snd_nxt + 65537.
rec_reuse_server_timewait() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen reuse -n 3
	cli_start "$fam" -scen reuse -n 3 -lport 40000 -gap 1s
	wait_both
	settle
	cap_stop
}

# reuse-refused: timestamps off in the client namespace (so the client offers
# none and TIME_WAIT can only judge by sequence numbers), MTU 9000 (fewer,
# larger segments keep the file small), snaplen 96. Connection 1 from port
# 40001 sends 4 MiB to the server, which answers and closes first (server
# TIME_WAIT); the client closes and reconnects from the same port at once.
# Linux's ISN clock advances 1 per 64 ns (secure_tcp_seq: hash(4-tuple) +
# ns/64), so 4 MiB sent within ~0.27 s puts the old connection's last sequence
# number ahead of the new ISN: the SYN is not acceptable to the TIME_WAIT
# socket, which answers with an ACK of the old connection (challenge ACK);
# the client (SYN_SENT) answers that with an RST, which kills the TIME_WAIT
# (tcp_rfc1337=0, the default: TIME-WAIT assassination), and the SYN is
# retransmitted and accepted by the listener with a fresh ISN. Not 1 s later:
# tcp_rcv_synsent_state_process() re-arms the SYN timer to TCP_TIMEOUT_MIN
# (2 jiffies, 8 ms at HZ=250) when the first SYN draws an unacceptable ACK
# ("Previous FIN/ACK or RST/ACK might be ignored"), so the stall is ~10 ms.
# Observed: connection 1 lasts ~13 ms; the new ISN is ~0.2 M above the old
# ISN (13 ms of ISN clock) and ~4.0 M below the old connection's last
# sequence number, so the margin is wide.
rec_reuse_refused() {
	local name=$1 fam=$2
	ns_setup 9000
	in_a sysctl -qw net.ipv4.tcp_timestamps=0
	cap_start "$name" 96
	srv_start "$fam" -scen reuse -n 2 -first-size 4194304
	cli_start "$fam" -scen reuse -n 2 -first-size 4194304 -lport 40001 -gap 0
	wait_both
	settle
	cap_stop
}

# rst-close: request/response, then the client closes with SO_LINGER {1, 0}:
# an RST instead of a FIN; no TIME_WAIT anywhere.
rec_rst_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen rst-close
	cli_start "$fam" -scen rst-close
	wait_both
	settle
	cap_stop
}

# rst-data-after-close: connection 1: the client sends 300 + 200 bytes, the
# server reads only 300, responds and closes with the 200 bytes unread: Linux
# sends an RST instead of a FIN. Connection 2: the server closes normally
# (FIN), the client reads EOF and then writes 100 bytes: the server's orphaned
# socket (FIN_WAIT_2) answers the data with an RST.
rec_rst_data_after_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen rst-data-after-close
	cli_start "$fam" -scen rst-data-after-close
	wait_both
	settle
	cap_stop
}

# simultaneous-close: after the exchange both sides shut down writing. The
# client's first FIN is dropped in finack-b's INPUT chain (after the tap, so it
# is in the capture); the server's FIN, sent as soon as the client signals that
# it shut down, crosses it. Both ends pass through CLOSING/FIN_WAIT_2 and both
# end in TIME_WAIT.
rec_simultaneous_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen simultaneous
	cli_start "$fam" -scen simultaneous
	sync_wait c-exchanged 10
	settle 0.25
	nft_table "$NS_B"
	nft_rule "$NS_B" input tcp dport $PORT tcp flags '&' fin == fin numgen inc mod 1000000 '<' 1 counter drop
	sync_signal c-go
	wait_both
	settle
	cap_stop
}

# half-close: the client sends its request and shuts down writing; the server
# reads to EOF and then sends 10 chunks of 1000 bytes 50 ms apart (~0.5 s)
# before it closes.
rec_half_close() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen half-close
	cli_start "$fam" -scen half-close
	wait_both
	settle
	cap_stop
}

# unfinished: the client shuts down writing after the exchange; the server
# reads EOF but does not close. The capture is stopped with the client in
# FIN_WAIT_2 and the server in CLOSE_WAIT; both close only afterwards.
rec_unfinished() {
	local name=$1 fam=$2
	ns_setup
	cap_start "$name"
	srv_start "$fam" -scen unfinished
	cli_start "$fam" -scen unfinished
	sync_wait c-shut 10
	sync_wait s-eof 10
	settle
	cap_stop
	sync_signal end
	wait_both
}

# many-connections: MANY_N (default 100) sequential short connections with
# kernel-chosen client ports: connection i (0-based) is reset by the client
# (SO_LINGER 0) when i%40==9, closed by the server first when i%10==4,
# otherwise closed by the client first: for 100, 3 reset, 10 server-closed,
# 87 client-closed. About 10 segments and 890 bytes of pcap per connection with
# snaplen 96 (headers only): 200 connections would make 178 KB, so the default
# stays at 100 (~89 KB) to keep the file under 100 KB.
rec_many_connections() {
	local name=$1 fam=$2 n=${MANY_N:-100}
	ns_setup
	cap_start "$name" 96
	srv_start "$fam" -scen many -n "$n"
	cli_start "$fam" -scen many -n "$n"
	wait_both 60
	settle
	cap_stop
}

# port-wrap: WRAP_N (default 20000) sequential connections from one client to one
# server port, every one closed by the server first (so the SERVER holds TIME_WAIT
# for each 4-tuple), with the client's ephemeral range cut to WRAP_PORTS (default
# 40000-40999, 1000 ports): the client's ports wrap around about 20 times while the
# server still holds each 4-tuple in TIME_WAIT, so nearly every connection reuses a
# 4-tuple within 2MSL (Linux accepts: timestamps are on and newer). The capture is
# about 20 MB: not committed; TestPortWrap records it into a temporary directory.
rec_port_wrap() {
	local name=$1 fam=$2 n=${WRAP_N:-20000}
	ns_setup
	in_a sysctl -qw net.ipv4.ip_local_port_range="${WRAP_PORTS:-40000 40999}"
	cap_start "$name" 96
	srv_start "$fam" -scen many -n "$n"
	cli_start "$fam" -scen many -n "$n" -server-closes
	wait_both 300
	settle
	cap_stop
}

# many-reuse: the benchmark capture (testdata/record/bench.sh with REAL=1), not
# committed (about 90 MB). MANY_N (default 100000) sequential connections with
# kernel-chosen client ports from REUSE_PORTS (default 1024-65535): three in four
# (i%100 < 75) are closed by the server first, so the SERVER holds their 4-tuple in
# TIME_WAIT and the client's port is free at once; the rest are closed by the client
# first (the client holds the port in TIME_WAIT: Linux will not pick it for a
# minute) or, when i%40==9, reset by it. Linux connect() walks the range (even ports
# first), so after a pass it picks ports whose 4-tuple the server still holds in
# TIME_WAIT: about two thirds of the connections reuse a 4-tuple within 2MSL
# (Linux's server accepts: timestamps are on and newer). More client closes would
# lower that share, but once the client holds most of the range in TIME_WAIT each
# connect() scans it and the rate falls a hundredfold. About 30 s here.
rec_many_reuse() {
	local name=$1 fam=$2 n=${MANY_N:-100000}
	ns_setup
	in_a sysctl -qw net.ipv4.ip_local_port_range="${REUSE_PORTS:-1024 65535}"
	cap_start "$name" 96
	srv_start "$fam" -scen many -n "$n"
	cli_start "$fam" -scen many -n "$n" -server-pct 75
	wait_both 300
	settle
	cap_stop
}

record() {
	case $1 in
	client-close) rec_client_close "$1" 4 ;;
	client-close-v6) rec_client_close "$1" 6 ;;
	server-close) rec_server_close "$1" 4 ;;
	server-close-v6) rec_server_close "$1" 6 ;;
	final-ack-dropped) rec_final_ack_dropped "$1" 4 before-tap ;;
	final-ack-dropped-v6) rec_final_ack_dropped "$1" 6 before-tap ;;
	final-ack-dropped-after-tap) rec_final_ack_dropped "$1" 4 after-tap ;;
	final-ack-never) rec_final_ack_never "$1" 4 ;;
	fin-dropped) rec_fin_dropped "$1" 4 before-tap ;;
	fin-dropped-after-tap) rec_fin_dropped "$1" 4 after-tap ;;
	first-fin-unacked) rec_first_fin_unacked "$1" 4 ;;
	silent-closer) rec_silent_closer "$1" 4 ;;
	syn-into-half-open) rec_syn_into_half_open "$1" 4 ;;
	syn-retries-exhausted) rec_syn_retries_exhausted "$1" 4 ;;
	simultaneous-open) rec_simultaneous_open "$1" 4 ;;
	simultaneous-close-final-ack-dropped) rec_simultaneous_final_ack_dropped "$1" 4 ;;
	reuse-server-timewait) rec_reuse_server_timewait "$1" 4 ;;
	reuse-server-timewait-v6) rec_reuse_server_timewait "$1" 6 ;;
	reuse-refused) rec_reuse_refused "$1" 4 ;;
	rst-close) rec_rst_close "$1" 4 ;;
	rst-close-v6) rec_rst_close "$1" 6 ;;
	rst-data-after-close) rec_rst_data_after_close "$1" 4 ;;
	simultaneous-close) rec_simultaneous_close "$1" 4 ;;
	half-close) rec_half_close "$1" 4 ;;
	unfinished) rec_unfinished "$1" 4 ;;
	many-connections) rec_many_connections "$1" 4 ;;
	port-wrap) rec_port_wrap "$1" 4 ;;
	many-reuse) rec_many_reuse "$1" 4 ;;
	*) die "unknown scenario $1 (record.sh -l lists them)" ;;
	esac
}

scenarios=("$@")
((${#scenarios[@]})) || scenarios=("${ALL[@]}")
for s in "${scenarios[@]}"; do
	[[ " ${ALL[*]} ${EXTRA[*]} " == *" $s "* ]] || die "unknown scenario $s (record.sh -l lists them)"
done
T0=$SECONDS
for s in "${scenarios[@]}"; do
	record "$s"
done
ns_teardown
FAILED=0
log "recorded ${#scenarios[@]} capture(s) into $OUT in $((SECONDS - T0)) s"

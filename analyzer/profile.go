package analyzer

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Profile is what a host's TCP stack does with TIME_WAIT: how long it holds it, and
// whether an RST ends it (RFC 1337 asks stacks to ignore it); and how long it keeps
// retrying an unanswered SYN.
type Profile struct {
	Name     string
	TimeWait time.Duration
	// RSTEndsTimeWait: an RST reaching TIME_WAIT closes it at once (TIME-WAIT
	// assassination); false for stacks that follow RFC 1337 and drop it.
	RSTEndsTimeWait bool
	// AcceptsSYN says how the stack treats a SYN that reaches TIME_WAIT.
	AcceptsSYN string
	// Source: where the numbers come from.
	Source string
	// SynGiveUp: how long a connect keeps retransmitting an unanswered SYN before it
	// fails; a SYN with a new ISN after that is a new connection, not a retry.
	SynGiveUp time.Duration
}

// profiles are the --os choices (LookupProfile, ProfileNames). The numbers are each
// stack's defaults.
var profiles = map[string]Profile{
	"linux": {"linux", 60 * time.Second, true,
		"accepts a SYN whose sequence number is beyond the old connection's or whose TSval is newer, and gives the new connection the ISN old snd_nxt + 65537; answers any other SYN with an ACK of the old connection",
		"Linux: TCP_TIMEWAIT_LEN (include/net/tcp.h) is 60 s, fixed; tcp_timewait_state_process (net/ipv4/tcp_minisocks.c) kills TIME_WAIT on an RST unless net.ipv4.tcp_rfc1337=1 (default 0); tcp_syn_retries=6 gives up a connect 127 s after the first SYN (1 s doubling: SYNs at 0, 1, 3, 7, 15, 31, 63 s)",
		127 * time.Second},
	"freebsd": {"freebsd", 60 * time.Second, false,
		"recycles TIME_WAIT for a SYN whose sequence number is beyond the old connection's (tcp_twcheck)",
		"FreeBSD: 2 × net.inet.tcp.msl, 30 s by default; tcp_twcheck (sys/netinet/tcp_timewait.c) drops RSTs in TIME_WAIT; a connect gives up after net.inet.tcp.keepinit, 75 s",
		75 * time.Second},
	"macos": {"macos", 30 * time.Second, true,
		"recycles TIME_WAIT for a SYN whose sequence number is beyond the old connection's",
		"macOS (XNU): 2 × net.inet.tcp.msl, 15 s by default; a connect gives up after net.inet.tcp.keepinit, 75 s",
		75 * time.Second},
	"windows": {"windows", 240 * time.Second, true,
		"accepts a SYN whose sequence number is beyond the old connection's",
		"Windows: TcpTimedWaitDelay, 240 s by default (documented for Windows Server; some versions use 120 s: set --time-wait); a connect gives up after TcpMaxConnectRetransmissions=2 retries from a 3 s RTO, about 21 s (versions with a 1 s initial RTO give up sooner)",
		21 * time.Second},
	"rfc": {"rfc", 240 * time.Second, false,
		"may accept a SYN whose sequence number is beyond the old connection's (RFC 1122 §4.2.2.13) or whose TSval is newer (RFC 6191)",
		"RFC 9293: TIME_WAIT lasts 2 × MSL, MSL = 2 minutes; RFC 1337: ignore RSTs in TIME_WAIT; RFC 1122 §4.2.3.5: retransmit a SYN for at least 3 minutes",
		180 * time.Second},
}

// ProfileNames lists the profiles for messages.
func ProfileNames() string {
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// LookupProfile finds a profile by name.
func LookupProfile(name string) (Profile, error) {
	p, ok := profiles[strings.ToLower(name)]
	if !ok {
		return Profile{}, fmt.Errorf("unknown OS profile %q (want one of %s)", name, ProfileNames())
	}
	return p, nil
}

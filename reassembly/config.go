package reassembly

import (
	"time"
)

// Config tunes the tracker.
type Config struct {
	// TimeWait is the TIME_WAIT (2MSL) length of the hosts in the capture.
	TimeWait time.Duration
	// RFC1337: the hosts ignore RSTs in TIME_WAIT (RFC 1337) instead of ending it
	// (Linux's default, tcp_rfc1337=0).
	RFC1337 bool
	// SynGiveUp is how long a client keeps retrying an unanswered SYN before its
	// connect fails (Linux: about 127 s with tcp_syn_retries=6; BSD: 75 s). A SYN
	// with a new ISN that long after an attempt's first SYN is a new connection;
	// sooner, a retry of the same attempt. 0: DefaultSynGiveUp.
	SynGiveUp time.Duration

	// Done, when set, makes the tracker stream: it hands each incarnation to Done
	// once nothing can change it any more (see Sweep) and forgets it, so memory
	// follows the incarnations alive at once, not the capture's history. When nil,
	// the tracker keeps every incarnation (Incarnations) and never forgets a 4-tuple.
	Done func(*Incarnation)
	// IdleTimeout (streaming only): an incarnation that is not closed and has seen no
	// packet for this long (capture time) is finished (EndIdle). 0: never.
	IdleTimeout time.Duration
	// MaxConnections (streaming only): the most incarnations tracked at once; past
	// it, the least recently active tenth is finished early (EndEvicted). 0: no cap.
	MaxConnections int
	// Touched (streaming only): keep the list of incarnations that received a
	// segment since the last TakeTouched, for a live display.
	Touched bool
	// KeepCounts (streaming only): remember how many incarnations each forgotten
	// 4-tuple had, so a later connection on it is numbered as a batch tracker
	// numbers it (Incarnation.Index counts every incarnation of the capture).
	// Costs up to 4 MiB a tracker (a 64-bit hash of its key and the count, in two
	// tables that grow to 2 MiB: countTable), for the last 2×countsGeneration (131,072)
	// 4-tuples forgotten, so that memory stays flat however long the capture: a
	// 4-tuple that comes back after that many others were forgotten counts from 1
	// again, as every forgotten 4-tuple does without KeepCounts.
	KeepCounts bool
	// DoneKeepsNothing (streaming only): Done keeps nothing of the incarnation it is
	// given once it returns, neither the pointer nor anything it points to (an
	// analysis that copies what it reports). The tracker then reuses the memory of
	// the incarnations it hands out for the next ones: a capture of millions of
	// connections allocates a few thousand instead of one each. With Touched, the
	// caller keeps nothing of what TakeTouched returned past its next call to Add,
	// Sweep or Finish either; an incarnation still in the touched list is not
	// reused (TakeTouched will return it).
	DoneKeepsNothing bool
	// ManualSweep (streaming only): Add never sweeps by itself; the caller calls
	// Sweep, at the times it chooses. Several trackers sharing a capture's 4-tuples
	// (Shard) sweep together at the times one tracker would, so that their results
	// do not depend on how the 4-tuples are shared out.
	ManualSweep bool
	// TempDir (streaming only): where the bodies of the records of connections in
	// TIME_WAIT go while the tracker holds many (cold.go); "" for os.TempDir().
	TempDir string
}

// DefaultTimeWait is Linux's TCP_TIMEWAIT_LEN.
const DefaultTimeWait = 60 * time.Second

// DefaultSynGiveUp is when Linux gives up an unanswered connect with its default
// tcp_syn_retries=6: SYNs at 0, 1, 3, 7, 15, 31 and 63 s, the last timer firing at
// 127 s.
const DefaultSynGiveUp = 127 * time.Second

package analyzer

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Shape is how a close looked on the wire.
type Shape string

const (
	FourWay      Shape = "four_way"     // FIN(a), ACK(b), FIN(b), ACK(a)
	ThreeWay     Shape = "three_way"    // FIN(a), FIN+ACK(b), ACK(a)
	Simultaneous Shape = "simultaneous" // both FINs sent before either was acknowledged
	HalfClose    Shape = "half_close"   // FIN(a), then b kept sending data before FIN(b)
	Reset        Shape = "reset"        // an RST instead of, or in the middle of, the FIN exchange
	Unfinished   Shape = "unfinished"   // a close was under way when the incarnation stopped
	NoClose      Shape = "none"         // no FIN and no RST
)

// Shapes lists every shape in report order.
var Shapes = []Shape{FourWay, ThreeWay, Simultaneous, HalfClose, Reset, Unfinished, NoClose}

// Kind is the kind of a finding.
type Kind string

const (
	MissingFinalAck Kind = "missing_final_ack"
	FirstFinUnacked Kind = "first_fin_unacked"
	FinRetransmit   Kind = "fin_retransmit"
	ReuseIn2MSL     Kind = "reuse_in_2msl"
	ReuseRefused    Kind = "reuse_refused"
	// SynRefused: a SYN answered by an ACK of an earlier connection on the 4-tuple
	// that was still half-open or open (no TIME_WAIT involved).
	SynRefused Kind = "syn_refused"
	// InjectedBeforeHandshake: segments that reached the client in SYN-SENT before
	// any SYN-ACK and that it rejected (a FIN, an RST echoing a timestamp it never
	// sent), the attempt going on.
	InjectedBeforeHandshake Kind = "injected_before_handshake"
	StaleSegment            Kind = "stale_segment"
	LateInTimeWait          Kind = "late_segment_in_time_wait"
	RstInTimeWait           Kind = "rst_in_time_wait"
)

// Kinds lists every finding kind in report order.
var Kinds = []Kind{MissingFinalAck, FirstFinUnacked, FinRetransmit, ReuseIn2MSL, ReuseRefused, SynRefused, StaleSegment, LateInTimeWait, RstInTimeWait, InjectedBeforeHandshake}

// Outcome is what became of the FIN (missing_final_ack, first_fin_unacked) or of the
// new handshake (reuse_in_2msl, syn_refused) a finding is about.
type Outcome string

// Outcomes of missing_final_ack and first_fin_unacked.
const (
	OutcomeRecovered  Outcome = "recovered"  // a later transmission of the FIN was acknowledged
	OutcomeNever      Outcome = "never"      // the FIN's sender gave up (silence for good, or RST)
	OutcomeUnresolved Outcome = "unresolved" // still retransmitting when the capture ended
)

// Outcomes of reuse_in_2msl: what became of the new handshake.
const (
	OutcomeAccepted   Outcome = "accepted"   // the SYN was answered by a SYN-ACK
	OutcomeRefused    Outcome = "refused"    // the TIME_WAIT holder answered with an ACK of the old connection
	OutcomeRST        Outcome = "rst"        // the SYN was answered by an RST
	OutcomeUnanswered Outcome = "unanswered" // nothing came back
)

// Verdict is whether a reuse_in_2msl was safe from old duplicates.
type Verdict string

// Verdicts of reuse_in_2msl.
const (
	VerdictSafeBySequence   Verdict = "safe_by_sequence"   // new ISN beyond the old sequence space (RFC 1122 §4.2.2.13)
	VerdictSafeByTimestamps Verdict = "safe_by_timestamps" // new TSval newer than the old (RFC 6191)
	VerdictUnsafe           Verdict = "unsafe"             // neither: old duplicates could pass as new data
	VerdictUnknown          Verdict = "unknown"            // the capture lacks what the judgement needs
)

// Cause is why a FIN was retransmitted (fin_retransmit).
type Cause string

// Causes of fin_retransmit.
const (
	CauseNotAcked Cause = "fin_or_ack_lost" // no ACK of the FIN reached the tap before the retransmission
	CauseSpurious Cause = "spurious"        // the FIN was already ACKed at the tap: the ACK was lost after it
	CauseEarly    Cause = "resent_early"    // re-sent sooner than the ACK seen at the tap could reach its sender
	CauseMixed    Cause = "mixed"           // some retransmissions of each kind
	// CauseOnAck: every copy is the sender's ACK of the peer's FIN with FIN set again,
	// right after that FIN: FreeBSD and macOS set FIN on every segment while their
	// FIN is unacknowledged. A habit of the stack, nothing lost.
	CauseOnAck Cause = "fin_on_ack"
)

// Outcomes, Verdicts and Causes list every value of each.
var (
	Outcomes = []Outcome{OutcomeRecovered, OutcomeNever, OutcomeUnresolved, OutcomeAccepted, OutcomeRefused, OutcomeRST, OutcomeUnanswered}
	Verdicts = []Verdict{VerdictSafeBySequence, VerdictSafeByTimestamps, VerdictUnsafe, VerdictUnknown}
	Causes   = []Cause{CauseNotAcked, CauseSpurious, CauseEarly, CauseMixed, CauseOnAck}
)

// Finding is one thing that went wrong in a close.
type Finding struct {
	Kind Kind `json:"kind"`
	// Client and Server: the two ends (the writers render them, EndpointString).
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// VLAN: the connection's tags, outer first, when tagged (as its record's).
	VLAN []uint16 `json:"vlan,omitempty"`
	// ServerVLAN: the server's tags, as its record's.
	ServerVLAN []uint16 `json:"server_vlan,omitempty"`
	// Tunnel: the overlay that carried the connection ("vxlan vni N", "gre key N",
	// "gre"), when one did (as its record's).
	Tunnel      string    `json:"tunnel,omitempty"`
	Incarnation int       `json:"incarnation"`
	Frames      []uint64  `json:"frames"`
	Time        time.Time `json:"time"`
	// Count: for fin_retransmit the retransmitted FIN segments; for missing_final_ack
	// and first_fin_unacked the transmissions of the FIN that went unanswered.
	Count   *uint64 `json:"count,omitempty"`
	Outcome Outcome `json:"outcome,omitempty"`
	Verdict Verdict `json:"verdict,omitempty"`
	// Sender: the end whose FIN (or SYN, for reuse_in_2msl) the finding is about.
	Sender string `json:"sender,omitempty"`
	// Cause of a fin_retransmit (see the Cause constants).
	Cause Cause `json:"cause,omitempty"`
	// IntervalsMS: gaps between consecutive FIN transmissions, in milliseconds.
	IntervalsMS []float64 `json:"intervals_ms,omitempty"`
	// DurationMS: missing_final_ack/first_fin_unacked: from the first FIN to the
	// acknowledgement (recovered) or to the last transmission; reuse_in_2msl: the
	// time since TIME_WAIT began.
	DurationMS *float64 `json:"duration_ms,omitempty"`
	// TimeWaitHolder (reuse_in_2msl): which end of the old incarnation held TIME_WAIT.
	TimeWaitHolder string `json:"time_wait_holder,omitempty"`
	// NATEvidence (reuse_in_2msl): what says the new SYN came from another host behind
	// the same address: TTL, IP ID or TCP timestamp clock not continuing.
	NATEvidence []string `json:"nat_evidence,omitempty"`
	// AckAfterTap: the ACK was seen at the tap but the FIN was still retransmitted.
	AckAfterTap bool   `json:"ack_lost_after_tap,omitempty"`
	Message     string `json:"message"`
}

// CompareFindings orders findings as every report lists them: by time, then by first
// frame, then by kind name. It returns -1, 0 or +1 as x goes before, with or after y.
func CompareFindings(x, y *Finding) int { return OrderOf(x).Compare(OrderOf(y)) }

// FindingOrder is what CompareFindings compares of a finding (OrderOf): a small key
// to sort in place of findings, which are large and hold pointers.
type FindingOrder struct {
	Sec   int64  // the time, in Unix seconds
	Nsec  int32  // and nanoseconds
	Frame uint64 // the first frame; 0 when it names none
	Kind  Kind
}

// OrderOf is what CompareFindings compares of f.
func OrderOf(f *Finding) FindingOrder {
	return FindingOrder{f.Time.Unix(), int32(f.Time.Nanosecond()), firstFrame(f), f.Kind}
}

// Compare orders x and y as CompareFindings orders the findings they are of: by
// time, then first frame, then kind name.
func (x FindingOrder) Compare(y FindingOrder) int {
	if c := cmp.Compare(x.Sec, y.Sec); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Nsec, y.Nsec); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Frame, y.Frame); c != 0 {
		return c
	}
	return strings.Compare(string(x.Kind), string(y.Kind))
}

// FindingKey is CompareFindings as a key that sorts element by element (an external
// sort's): time, first frame, kind.
func FindingKey(f *Finding) [3]uint64 {
	return [3]uint64{uint64(f.Time.UnixNano()) ^ 1<<63, firstFrame(f), kindRank(f.Kind)}
}

// kindOrder lists the kinds in the order of their names (CompareFindings compares
// the names).
var kindOrder = func() []Kind {
	k := slices.Clone(Kinds)
	slices.Sort(k)
	return k
}()

// KindKey is the place of k among the kinds in order of their names, for a key
// that sorts kinds as comparing their names does (the last place for a kind not
// listed in Kinds).
func KindKey(k Kind) uint64 { return kindRank(k) }

func kindRank(k Kind) uint64 {
	for i, x := range kindOrder {
		if x == k {
			return uint64(i)
		}
	}
	return uint64(len(kindOrder))
}

// firstFrame is the first frame a finding names; 0 when it names none.
func firstFrame(f *Finding) uint64 {
	if len(f.Frames) == 0 {
		return 0
	}
	return f.Frames[0]
}

// ShapeCounts and KindCounts return a count per shape and per kind, every one
// present at zero: reports list them all, zero or not.
func ShapeCounts[N any]() map[Shape]N {
	m := make(map[Shape]N, len(Shapes))
	for _, s := range Shapes {
		var zero N
		m[s] = zero
	}
	return m
}

func KindCounts[N any]() map[Kind]N {
	m := make(map[Kind]N, len(Kinds))
	for _, k := range Kinds {
		var zero N
		m[k] = zero
	}
	return m
}

// Connection is the record of one incarnation, findings or not.
type Connection struct {
	Client     netip.AddrPort `json:"client"`
	Server     netip.AddrPort `json:"server"`
	RolesKnown bool           `json:"roles_known"`
	// VLAN: the tags of the client's segments, outer first, when tagged.
	VLAN []uint16 `json:"vlan,omitempty"`
	// ServerVLAN: the tags of the server's segments when they differ from the
	// client's (a mirror port that tags one direction only), [0] for none (VID 0,
	// 802.1Q's "no VLAN"); absent when both directions carry the same tags.
	ServerVLAN  []uint16  `json:"server_vlan,omitempty"`
	Tunnel      string    `json:"tunnel,omitempty"`
	Incarnation int       `json:"incarnation"`
	FirstFrame  uint64    `json:"first_frame"`
	LastFrame   uint64    `json:"last_frame"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Packets     uint64    `json:"packets"`
	Close       Shape     `json:"close"`
	// ActiveCloser: client, server, both (simultaneous close) or none.
	ActiveCloser string `json:"active_closer"`
	// TimeWaitHolder: client, server, both or none; TimeWaitUntil when the last holder
	// leaves TIME_WAIT (RFC 3339), empty when none holds it.
	TimeWaitHolder string `json:"time_wait_holder"`
	TimeWaitUntil  string `json:"time_wait_until,omitempty"`
	// History: the history string (letters documented in docs/findings.md and in
	// reassembly/history.go).
	History string `json:"history"`
	// FIN per end that sent one: its first transmission, the first segment from the
	// peer that acknowledged it, and the time between them.
	FIN  FinPair `json:"fin"`
	FINs Pair    `json:"fins"`
	RSTs Pair    `json:"rsts"`
	// ResetBy: the end that sent the first RST, when one did.
	ResetBy string `json:"reset_by,omitempty"`
	// IdleBeforeEndMS: for an unfinished close, how long before the end of the capture
	// the incarnation was last seen.
	IdleBeforeEndMS *float64 `json:"idle_before_end_ms,omitempty"`
	// Reused: this incarnation started while the previous one was in TIME_WAIT.
	Reused bool `json:"reused,omitempty"`
	// Dropped: finack stopped following it before it closed: "idle" (no packet
	// for --idle-timeout) or "evicted" (--max-connections reached, and it was
	// among the least recently active).
	Dropped string `json:"dropped,omitempty"`
}

// FinPair holds the FIN of each end.
type FinPair struct {
	Client *FinAck `json:"client,omitempty"`
	Server *FinAck `json:"server,omitempty"`
}

// FinAck is one end's FIN and what acknowledged it.
type FinAck struct {
	Frame        uint64   `json:"frame"`
	AckedBy      uint64   `json:"acked_by,omitempty"`
	AckedAfterMS *float64 `json:"acked_after_ms,omitempty"`
}

// Pair is a count per end.
type Pair struct {
	Client uint32 `json:"client"`
	Server uint32 `json:"server"`
}

// Report is the result of analysing one capture.
type Report struct {
	Findings    []Finding
	Connections []Connection // empty when a Stream keeps no records
	Total       int          // incarnations analysed
	Closes      map[Shape]int
	Counts      map[Kind]int
}

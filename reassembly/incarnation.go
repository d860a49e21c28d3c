package reassembly

import (
	"net/netip"
	"time"

	"github.com/finack/finack/capture"
)

// Role says which end of an incarnation a Half describes. The client is the SYN sender
// and the server the SYN-ACK sender; for a connection picked up mid-stream the roles
// are guessed (see Incarnation.RolesKnown).
type Role uint8

const (
	Client Role = 0
	Server Role = 1
)

// Peer returns the other role.
func (r Role) Peer() Role { return 1 - r }

func (r Role) String() string {
	if r == Client {
		return "client"
	}
	return "server"
}

// Tx names one packet as evidence: its frame number and capture time.
// The zero Tx means "not seen".
type Tx struct {
	Frame uint64
	At    Instant
}

// Seen reports whether the Tx names a packet.
func (t Tx) Seen() bool { return t.Frame != 0 }

// FinTx is one transmission of a FIN as the tap saw it.
type FinTx struct {
	Tx
	// TSval is the FIN's TCP timestamp (when HasTS). The peer's ACKs echo the TSval
	// of the transmission that first reached it, not of the one they answer (see
	// Half.FinLastAckTSecr).
	TSval uint32
	HasTS bool
	// AckedBefore reports that the FIN had already been acknowledged at the tap when
	// this transmission appeared: the retransmission was spurious from the tap's view
	// (the ACK was lost after the tap).
	AckedBefore bool
	// OnAck reports a copy that is the end's first acknowledgement of the peer's FIN,
	// sent right after that FIN: FreeBSD and macOS set FIN on every segment while
	// their FIN is unacknowledged, so in a simultaneous close their ACK of the peer's
	// FIN carries the FIN again. A habit of the stack, not a retransmission timer.
	OnAck bool
	// Acked is the first ACK of the FIN seen after this transmission and before the
	// next one (zero when none).
	Acked Tx
}

// Resend reports whether the transmission is a retransmission proper (not the
// first, not a copy riding on the ACK of the peer's FIN).
func (f FinTx) Resend(i int) bool { return i > 0 && !f.OnAck }

// maxFinTx bounds the FIN transmissions kept per direction: a kernel gives up after
// about 8 to 15; past that the first maxFinTx-1 and the latest are kept, and FinCount
// counts them all.
const maxFinTx = 16

// Half holds what one endpoint sent in an incarnation.
type Half struct {
	Endpoint netip.AddrPort
	Packets  uint64
	Bytes    uint64 // TCP payload bytes, retransmissions included
	Last     Tx     // the last segment from this end

	SynCount uint32
	ISN      uint32
	Syn      Tx // first SYN (or SYN-ACK) from this end
	// SynEnd is the sequence number after the SYN and any data it carried (TCP Fast
	// Open): a SYN-ACK acknowledges up to it. SynAck / SynAckSeen: the acknowledgement
	// number of this end's SYN-ACK (the client ISN+1 it answers).
	SynEnd     uint32
	SynAck     uint32
	SynAckSeen bool
	// SynTSval: the TSval of the first SYN with the current ISN (0: none). A
	// segment answering the attempt must echo a TSval between it and the latest.
	SynTSval uint32
	// SynGap: the time between this end's last two SYNs (0: one or none), the
	// interval its SYN timer had reached (Incarnation.attemptAlive).
	SynGap time.Duration

	// recent remembers the last segments from this end, to recognise a segment
	// captured twice (span-port or multi-interface duplicates, the second copy
	// possibly after the next segment); Duplicates counts them.
	recent     recentSegs
	Duplicates uint64

	// TapRTT is the round trip between the tap and this end, from the handshake: the
	// SYN to the SYN-ACK for the server, the SYN-ACK to the ACK for the client (0 when
	// unknown). A segment sent to this end cannot be answered sooner.
	TapRTT time.Duration

	// FirstSeq is the lowest sequence number seen from this end (its ISN when the SYN
	// was captured): with NextSeq it bounds the sequence space this end used.
	FirstSeq uint32

	// NextSeq is the highest sequence number this end has used plus one (its snd_nxt
	// as the tap saw it), valid when SeqKnown.
	NextSeq  uint32
	SeqKnown bool

	// Timestamps (RFC 7323): the newest TSval seen from this end.
	HasTS     bool
	LastTSval uint32

	FirstIPID, LastIPID uint16
	FirstTTL, LastTTL   uint8

	// The FIN: FinSeq is the sequence number the FIN occupies; FinTxs its
	// transmissions (at most maxFinTx kept, FinCount counts all).
	FinSeq   uint32
	FinCount uint32
	FinTxs   []FinTx
	// FinCoversPeerFin reports that this end's first FIN acknowledged the peer's FIN:
	// it was the passive closer. Two FINs that do not cover each other crossed
	// (simultaneous close).
	FinCoversPeerFin bool
	// FinAcked is the first segment from the peer acknowledging the FIN
	// (ack >= FinSeq+1); FinLastAck the latest one.
	FinAcked, FinLastAck Tx
	// FinLastAckTSecr is the TSecr the latest such ACK echoed (FinLastAckHasTS). It
	// does not name the FIN transmission that ACK answers: a peer in TIME_WAIT
	// (Linux) keeps echoing the TSval of the FIN that first reached it, so it names
	// that one (analyzer's reachedAt).
	FinLastAckTSecr uint32
	FinLastAckHasTS bool
	// InconsistentFin counts FINs at another sequence number than the first FIN.
	InconsistentFin uint32
	// finCopy is the latest copy of the FIN taken for a capture duplicate: it counts
	// as a transmission after all when the peer answers it with an ACK of its own
	// (drewOwnAck).
	finCopy FinTx

	// DataAfterPeerFin is the first segment carrying new data sent after this end had
	// acknowledged the peer's FIN: a half-close.
	DataAfterPeerFin Tx
	// ShortOfPeerFin is the latest segment from this end, seen after the peer's FIN
	// and before any ACK of it from this end, whose acknowledgement stops short of
	// that FIN (a duplicate ACK over a hole, or an ACK crossing the FIN): this end had
	// not taken the FIN when it sent it, so it was not in TIME_WAIT then
	// (Incarnation.TimeWait).
	ShortOfPeerFin Tx

	Rst      Tx // first RST from this end (refusal RSTs and RSTs out of the window excluded)
	RstCount uint32
	// RstOutOfWindow counts RSTs from this end the peer drops: too far from this
	// end's next sequence number (RFC 5961 §3.2), or not exactly at it while the peer
	// is in TIME_WAIT. They do not end the connection.
	RstOutOfWindow uint32
	// OutOfWindow counts segments from this end (neither SYN nor RST) whose
	// acknowledgement acknowledges nothing the peer sent in this incarnation (below
	// the peer's ISN, or beyond what it sent plus ackSlack) and whose numbers fit no
	// earlier incarnation still held: the peer drops them (it answers with an ACK at
	// most). They count as this end's packets and nothing else: never data, a
	// retransmission, an ACK or a FIN of this incarnation.
	OutOfWindow uint32
}

// FinSeen reports whether this end sent a FIN.
func (h *Half) FinSeen() bool { return h.FinCount > 0 }

// FirstFin is the first transmission of the FIN (zero when none).
func (h *Half) FirstFin() FinTx {
	if len(h.FinTxs) == 0 {
		return FinTx{}
	}
	return h.FinTxs[0]
}

// finAfter is the first kept transmission of the FIN seen after time at.
func (h *Half) finAfter(at Instant) (FinTx, bool) {
	for _, f := range h.FinTxs {
		if f.At > at {
			return f, true
		}
	}
	return FinTx{}, false
}

// LastFin is the last kept transmission of the FIN.
func (h *Half) LastFin() FinTx {
	if len(h.FinTxs) == 0 {
		return FinTx{}
	}
	return h.FinTxs[len(h.FinTxs)-1]
}

// EndReason says why an incarnation stopped collecting segments.
type EndReason uint8

const (
	EndCaptureEnd EndReason = iota // still tracked when the capture ended
	EndReplaced                    // a new incarnation took over the 4-tuple
	EndExpired                     // closed, and quiet past its TIME_WAIT (streaming)
	EndIdle                        // not closed, idle past the idle timeout (streaming)
	EndEvicted                     // dropped to stay under the connection cap (streaming)
)

// String names the reason as reports do.
func (e EndReason) String() string {
	switch e {
	case EndReplaced:
		return "replaced"
	case EndExpired:
		return "expired"
	case EndIdle:
		return "idle"
	case EndEvicted:
		return "evicted"
	}
	return "capture_end"
}

// Refusal records a SYN answered by an ACK of an older connection (the TIME_WAIT
// holder's "challenge ACK", RFC 9293 §3.10.7.4 / RFC 5961), and the client's RST that
// usually follows it.
type Refusal struct {
	Ack    Tx
	AckNum uint32 // the acknowledgement number the refusing ACK carried
	Rst    Tx
	Retry  Tx // the client's first SYN after its RST (same ISN: the same attempt)
}

// Reuse describes how an incarnation started while the previous one on the same
// 4-tuple was still held in TIME_WAIT. Values are taken when the SYN arrived.
type Reuse struct {
	// Prev is the previous incarnation while the tracker holds both whole (a
	// streaming tracker cuts the link when Prev is finished or either is packed,
	// and links them again when both are whole again); PrevIndex its index and
	// PrevPeerLastFin the last FIN the other end sent in it, kept for the report.
	Prev            *Incarnation
	PrevIndex       int
	PrevPeerLastFin Tx
	// SYN is the new incarnation's first SYN; SynSender the role (in the previous
	// incarnation) of the endpoint that sent it.
	SYN       Tx
	SynSender Role
	TimeWait  TimeWait // the previous incarnation's TIME_WAIT, as known at the SYN
	// OldNextSeq / OldSeqKnown: the SYN sender's snd_nxt in the previous incarnation.
	OldNextSeq  uint32
	OldSeqKnown bool
	// OldTSval / OldHasTS: the newest TSval the SYN sender used in the previous
	// incarnation.
	OldTSval uint32
	OldHasTS bool
	// OldPeerNextSeq / OldPeerSeqKnown: the other end's snd_nxt in the previous
	// incarnation. Linux answers an acceptable SYN in TIME_WAIT with the ISN
	// old snd_nxt + 65537 (tcp_timewait_state_process): a visible signature.
	OldPeerNextSeq  uint32
	OldPeerSeqKnown bool
	NewISN          uint32
	NewTSval        uint32
	NewHasTS        bool
	// IP-level identity of the SYN sender before and after (NAT evidence): its first
	// and last IP ID, packets and last packet time in the previous incarnation.
	OldFirstIPID, OldIPID, NewIPID uint16
	OldTTL, NewTTL                 uint8
	OldPackets                     uint64
	OldLastAt                      Instant
	IPv6                           bool
}

// PrevState is what the previous incarnation of a 4-tuple still held when a new one
// started.
type PrevState uint8

const (
	PrevNone     PrevState = iota // nothing: no previous one, or it was over
	PrevTimeWait                  // an end of it was in TIME_WAIT (see Reuse)
	PrevHalfOpen                  // a half-open attempt: SYN-ACK sent, handshake never completed
	PrevOpen                      // an open connection
)

// String names the state as reports do.
func (p PrevState) String() string {
	switch p {
	case PrevTimeWait:
		return "time_wait"
	case PrevHalfOpen:
		return "half_open"
	case PrevOpen:
		return "open"
	}
	return "none"
}

// Incarnation is one connection on a 4-tuple.
type Incarnation struct {
	Key   FlowKey
	Index int // 1-based, per 4-tuple, in order of appearance
	// Half[Client] and Half[Server].
	Half [2]Half
	// RolesKnown reports that a SYN or SYN-ACK fixed the roles; otherwise the server is
	// guessed (the lower port, the usual well-known-port heuristic).
	RolesKnown  bool
	First, Last Tx
	Packets     uint64
	End         EndReason
	EndAt       Instant // capture time at which it stopped collecting (replacement SYN or capture end)
	Refusal     Refusal
	Reuse       *Reuse
	// Before: what the previous incarnation still held on the 4-tuple when this one
	// started (a SYN can be refused only by something held).
	Before PrevState
	// Injected: segments that reached the client in SYN-SENT before any SYN-ACK and
	// that it could not take as this connection's (see injectedKind), and the RSTs
	// the client answered them with. They end nothing: the attempt went on.
	Injected Events
	// SynISNChanged counts SYNs of the same attempt that carried a new ISN with no
	// answer in between (some stacks pick a new ISN per retry): not a reuse.
	SynISNChanged uint32
	// Stale: segments of this incarnation that arrived after a newer one had taken
	// the 4-tuple (their numbers fit this one's sequence space, not the new one's),
	// attributed here and kept out of the new incarnation.
	Stale Events
	// Late: segments that reached a TIME_WAIT holder of this incarnation, other than
	// the peer's FIN retransmissions and the RST below (no newer incarnation yet).
	Late Events
	// RstInTimeWait is the first RST that reached a TIME_WAIT holder (RFC 1337
	// TIME-WAIT assassination); TimeWaitLeft how much TIME_WAIT it cut short, and
	// RstInTimeWaitFrom its sender.
	RstInTimeWait     Tx
	RstInTimeWaitFrom Role
	TimeWaitLeft      time.Duration

	// History is the incarnation's history string (see history.go).
	History History

	rfc1337  bool         // RSTs do not end TIME_WAIT (Config.RFC1337)
	refusals uint64       // server ACKs taken for refusals
	touched  bool         // in the tracker's touched list (Config.Touched)
	next     *Incarnation // the incarnation that replaced this one, while both are held
	// older: the incarnation replaced before this one, while this one is replaced
	// too and both are still held for their stale segments (earlier.go).
	older *Incarnation
	// rec: the record the incarnation was unpacked from (unpackFlow, unpackPrev),
	// kept in the tracker's arena while nothing changed it (a segment applied to it
	// frees it; changed: a stale segment, an RST in its TIME_WAIT), so that packing
	// it again takes the record as it is or writes only its head anew (packRecord).
	// Freed when it is handed out or packed.
	rec     string
	changed bool
}

// IncarnationID names an incarnation the tracker holds: its 4-tuple and number, a
// comparable value for map keys. Not its address: the tracker packs quiet
// incarnations into compact records and unpacks them into new structs when a
// segment comes.
type IncarnationID struct {
	Key   FlowKey
	Index int
}

// ID returns the identity of inc.
func (inc *Incarnation) ID() IncarnationID { return IncarnationID{inc.Key, inc.Index} }

// Client returns the client endpoint.
func (inc *Incarnation) Client() netip.AddrPort { return inc.Half[Client].Endpoint }

// Server returns the server endpoint.
func (inc *Incarnation) Server() netip.AddrPort { return inc.Half[Server].Endpoint }

// RoleOf returns the role of an endpoint of this incarnation.
func (inc *Incarnation) RoleOf(ep netip.AddrPort) Role {
	if ep == inc.Half[Client].Endpoint {
		return Client
	}
	return Server
}

// FirstRst returns the first RST of either side (refusal RSTs excluded).
func (inc *Incarnation) FirstRst() (Tx, Role, bool) {
	c, s := inc.Half[Client].Rst, inc.Half[Server].Rst
	switch {
	case c.Seen() && (!s.Seen() || c.Frame < s.Frame):
		return c, Client, true
	case s.Seen():
		return s, Server, true
	}
	return Tx{}, Client, false
}

// EndingRst returns when the first RST reached the incarnation: one of its ends', or
// the refusal RST sent for a newer incarnation that reached this one's TIME_WAIT.
func (inc *Incarnation) EndingRst() (Instant, bool) {
	rst, _, ok := inc.FirstRst()
	at := rst.At
	if inc.RstInTimeWait.Seen() && (!ok || inc.RstInTimeWait.At < at) {
		at, ok = inc.RstInTimeWait.At, true
	}
	return at, ok
}

// ActiveClosers returns which ends closed actively: each end that sent a FIN which
// did not acknowledge a FIN of the peer. Two ends means a simultaneous close.
func (inc *Incarnation) ActiveClosers() (client, server bool) {
	c, s := &inc.Half[Client], &inc.Half[Server]
	client = c.FinSeen() && !c.FinCoversPeerFin
	server = s.FinSeen() && !s.FinCoversPeerFin
	return
}

// TimeWait is the TIME_WAIT of an incarnation's active closer(s), on capture time.
type TimeWait struct {
	// Holder[r] reports that role r holds (or held) TIME_WAIT.
	Holder [2]bool
	// Since is when the first holder entered TIME_WAIT; Until when the last holder
	// leaves it (the final ACK plus the TIME_WAIT length; a retransmitted FIN, re-ACKed,
	// restarts the timer as Linux does, and an RST ends it early as Linux does by
	// default, net.ipv4.tcp_rfc1337=0).
	Since, Until Instant
	// Start is the final ACK that put a holder in TIME_WAIT (zero when Inferred).
	Start Tx
	// Inferred: no ACK of the peer's FIN was seen at the tap; TIME_WAIT is inferred
	// from the peer's FIN having been sent (the ACK may have been lost before the tap).
	Inferred bool
}

// Held reports whether any end holds TIME_WAIT.
func (tw TimeWait) Held() bool { return tw.Holder[Client] || tw.Holder[Server] }

// TimeWait computes the TIME_WAIT of the incarnation for a TIME_WAIT length.
func (inc *Incarnation) TimeWait(twLen time.Duration) TimeWait {
	var tw TimeWait
	rstAt, hasRst := inc.EndingRst()
	for _, r := range [2]Role{Client, Server} {
		x, p := &inc.Half[r], &inc.Half[r.Peer()]
		if !x.FinSeen() || x.FinCoversPeerFin || !x.FinAcked.Seen() || !p.FinSeen() {
			continue
		}
		var since, until Instant
		var start Tx
		inferred := false
		if p.FinAcked.Seen() {
			since = max(p.FinAcked.At, x.FinAcked.At)
			until = p.FinLastAck.At.Add(twLen)
			start = p.FinAcked
			if x.FinAcked.At > p.FinAcked.At {
				start = x.FinAcked
			}
		} else {
			if inc.SilentAfterFin(r) {
				continue // it never acknowledged the FIN: never in TIME_WAIT
			}
			// No ACK of the FIN reached the tap (lost before it, or left out of the
			// capture): x took the FIN when it arrived, unless x showed since that it
			// had not (ShortOfPeerFin); then it can only have taken a later
			// transmission, and none came yet: not in TIME_WAIT.
			fin, ok := p.FirstFin(), true
			if x.ShortOfPeerFin.Seen() {
				fin, ok = p.finAfter(x.ShortOfPeerFin.At)
			}
			if !ok {
				continue
			}
			inferred = true
			since = max(fin.At, x.FinAcked.At)
			until = p.LastFin().At.Add(twLen)
		}
		if hasRst && rstAt < since {
			continue // reset before TIME_WAIT began: CLOSED, no TIME_WAIT
		}
		if hasRst && rstAt < until && !inc.rfc1337 {
			until = rstAt
		}
		first := !tw.Held()
		tw.Holder[r] = true
		if first || since < tw.Since {
			tw.Since = since
			tw.Start = start
			tw.Inferred = inferred
		}
		tw.Until = max(tw.Until, until)
	}
	return tw
}

// FinTimeout is how long an end whose FIN was acknowledged stays in FIN_WAIT_2
// waiting for the peer's FIN once its application has closed the socket (an
// orphan): Linux tcp_fin_timeout, 60 s.
const FinTimeout = 60 * time.Second

// SilentAfterFin reports whether end r, whose own FIN was acknowledged, never
// reached TIME_WAIT: an end enters it only by acknowledging the peer's FIN, and the
// peer's FIN came after r's FIN_WAIT_2 had run out (FinTimeout after r's FIN was
// acknowledged), was sent again (each copy would have drawn an ACK from an end in
// TIME_WAIT), and no ACK of it from r reached the tap. The peer's FIN sooner than
// that found r in FIN_WAIT_2: r then took it and its ACKs were lost before the tap
// (final-ack-never.pcap, recorded with the client's final ACKs dropped in its
// output chain: ss shows the client in TIME-WAIT), and r holds TIME_WAIT inferred.
func (inc *Incarnation) SilentAfterFin(r Role) bool {
	h, p := &inc.Half[r], &inc.Half[r.Peer()]
	if !p.FinSeen() || !h.FinAcked.Seen() || p.FirstFin().At.Sub(h.FinAcked.At) < FinTimeout {
		return false
	}
	return p.finUnanswered()
}

// Event is one segment kept as evidence: who sent it, its flags and payload length.
// During: for a stale segment, the index of the incarnation that had the 4-tuple
// when it arrived (0 for other events).
type Event struct {
	Tx
	From    Role
	Flags   uint8
	Payload uint32
	During  uint32
	// Since (late segments only) is the start of the TIME_WAIT the segment was judged
	// to have reached, always before it.
	Since Instant
}

// maxEvents bounds the events kept per list; Count counts them all.
const maxEvents = 16

// Events is a bounded list of evidence segments.
type Events struct {
	Count uint64
	List  []Event // the first maxEvents
}

// last is the latest event kept (the list must not be empty).
func (e *Events) last() Event { return e.List[len(e.List)-1] }

func (e *Events) add(ev Event) {
	e.Count++
	if len(e.List) < maxEvents {
		e.List = append(e.List, ev)
	}
}

// recentSegs holds the signatures of the last dupDepth segments from one end (not
// counting copies): what identifies one transmission of a segment. A copy of it
// captured again carries the same numbers, IP ID and TCP timestamp; a retransmission
// by the stack carries a new IP ID (IPv4, non-zero) or a new TSval, or comes at least
// a retransmission timeout later. Three deep: a copy delayed past the next one or two
// segments of its end is still recognised, and a fast retransmission (which needs
// three segments after the original to draw three duplicate ACKs) is not taken for
// a copy even when nothing else tells them apart (IPv6 without timestamps).
type recentSegs struct {
	sig  [dupDepth]uint32 // hash of the segment's numbers, 0 for an empty slot
	at   [dupDepth]Instant
	next uint8
}

const dupDepth = 3

// segSig hashes what identifies a transmission (never 0).
func segSig(s *capture.Segment) uint32 {
	h := (uint64(s.Seq)<<32 | uint64(s.Ack)) * 0x9e3779b97f4a7c15
	h ^= (uint64(s.TSval)<<32 | uint64(s.PayloadLen)) * 0xc2b2ae3d27d4eb4f
	h ^= (uint64(s.IPID)<<8 | uint64(uint8(s.Flags))) * 0x165667b19e3779f9
	h ^= h >> 29
	return uint32(h^h>>32) | 1
}

// copyOf reports whether a segment with signature sig at time at is a copy of one
// of the recent segments, window being how far apart a copy may be (dupWindowFor).
func (r *recentSegs) copyOf(sig uint32, at Instant, window time.Duration) bool {
	for i := range r.sig {
		if r.sig[i] == sig && at.Sub(r.at[i]) < window {
			return true
		}
	}
	return false
}

func (r *recentSegs) add(sig uint32, at Instant) {
	r.sig[r.next], r.at[r.next] = sig, at
	r.next = (r.next + 1) % dupDepth
}

// dupWindow: copies of one packet reach a capture within microseconds; a stack does
// not retransmit sooner than a few milliseconds (Linux: RTO >= 200 ms, TLP >= 10 ms).
// It is the bound when nothing but the numbers and the time tells a copy from a
// retransmission (IPv6, an IPv4 ID of 0).
const dupWindow = 2 * time.Millisecond

// dupWindowID is the bound for an IPv4 segment with a non-zero ID. Every IPv4
// datagram a stack sends gets its own ID, retransmissions included (Linux: the
// socket's counter, one step per segment; Windows: a host-wide counter; BSD and
// macOS: a counter or a random ID; stacks that set the ID of unfragmentable
// datagrams to 0, FreeBSD's rfc6864 default, fall back to dupWindow), so the same
// non-zero ID with the same numbers is the same datagram, seen again: a capture taken
// on two interfaces or through a span port that forwards each packet twice, the
// second copy up to several milliseconds later. The bound only guards against a host-wide counter coming round to the same
// ID (65536 datagrams later) for a retransmission that is otherwise identical.
const dupWindowID = 100 * time.Millisecond

// dupWindowFor is how far apart a copy of s may be captured (dupWindow, dupWindowID).
func dupWindowFor(s *capture.Segment) time.Duration {
	if s.IPID != 0 {
		return dupWindowID
	}
	return dupWindow
}

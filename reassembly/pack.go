package reassembly

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"time"
)

// Packing: a streaming tracker keeps an incarnation that has been quiet for a while
// (closed and waiting out TIME_WAIT, half-open, or idle) as a compact byte record
// instead of the full Incarnation (about 1 KB in memory with its slices). Most
// incarnations a busy host's capture holds at once are in TIME_WAIT, which lasts a
// minute while the connections lasted milliseconds, and almost none of them receive
// another segment: they cost about 150 to 250 bytes packed instead. A segment for a
// packed incarnation (but a SYN reusing its 4-tuple: reusePacked), a look through
// Each, or its end unpacks it.
//
// The record starts with a header a sweep reads without unpacking the rest (first
// frame and time, last packet time, when it is over and why; a replaced
// incarnation's EndAt and the wake block when they are there: extFlags), then every
// field of the incarnation: varints, times and frames as differences from the first
// packet (times in microseconds when they all are whole ones: usRecord), booleans as
// bit sets; last, when kept, the signatures of the last segments (packer.recent),
// which unpacking to hand the incarnation out does not read. Each value has its
// index in its group, the same in the packer and the unpacker (group.u, reader.u):
// a field added takes the next one in both. TestPackRoundTrip fills every field of
// an Incarnation by reflection and checks that unpack(pack(x)) == x, so a field
// added to Incarnation, Half, Reuse or their parts without a line here, or at an
// index the other side does not use, fails it.

// packIdle is how long (capture time) an incarnation must have been quiet before a
// sweep packs it: long enough that the segments that usually follow a close (the
// final ACK, a retransmitted FIN 200 ms later) have come and gone; short enough that
// a flood of SYNs is packed before it takes gigabytes.
const packIdle = 250 * time.Millisecond

// packAbove: a sweep packs only while the tracker holds at least this many
// incarnations. Packing and unpacking cost time; below this count the whole
// incarnations take a few MB at most (about 1 KB each), and a small capture should
// not pay for time it does not need. A higher threshold would make the incarnations
// held whole, with the collector's headroom, the larger part of a capture's peak.
const packAbove = 4096

// packHeader is what a sweep needs of a packed incarnation.
type packHeader struct {
	first  Tx      // the incarnation's first packet (order of hand-out)
	lastAt Instant // its last packet (eviction order)
	// wait: when quiet longer than this the incarnation is over for reason (-1:
	// never by itself, only at the end of the capture or by eviction).
	wait   time.Duration
	reason EndReason
	cold   bool // the body is in the cold store (cold.go)
	// replaced: the incarnation was replaced at endAt (End EndReplaced, EndAt
	// endAt), whatever its head says (replaceRecord: a record made an earlier
	// incarnation's without being unpacked).
	replaced bool
	endAt    Instant
	// Read: where in the record the reason's byte is, and where the wake block's
	// group starts (0: none; see packer.wake). Written: wake, when not nil, is the
	// incarnation's TIME_WAIT, and the header carries the wake block.
	reasonAt, wakeAt int
	wake             *TimeWait
}

// zig and unzig map signed integers to unsigned ones, small magnitudes to small values.
func zig(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzig(v uint64) int64 { return int64(v>>1) ^ -int64(v&1) }

// d32 is the difference of two 32-bit sequence numbers or timestamps, small when
// they are close on the circle.
func d32(x, ref uint32) uint64 { return zig(int64(int32(x - ref))) }

// group gathers one struct's fields as unsigned integers, to be written as a mask of
// the non-zero ones followed by those: most fields of most incarnations are zero (no
// RST, no refusal, no duplicate), and cost one bit each instead of a byte.
type group struct {
	v    [64]uint64 // by index (the writers' k); where mask has no bit: anything, not read
	mask uint64     // the non-zero ones
	base Tx
	// us: times and durations are written in microseconds (the record's unit, see
	// usRecord); inexact: one was not a whole number of them (the record must be
	// written again in nanoseconds).
	us, inexact bool
}

// The writers below put their values at index k of the group (below 64), and
// following (tx two, timeWait five): each call site gives its index as a constant,
// the one the reader reads it at (reader.u). A zero is left out of the mask, so a
// value not set is not written at all (what v holds there is not read).
func (g *group) u(k int, x uint64) {
	g.v[k&63] = x
	g.mask |= min(x, 1) << (k & 63)
}
func (g *group) s(k int, x int64)    { g.u(k, zig(x)) }
func (g *group) at(k int, t Instant) { g.t(k, int64(t-g.base.At)) }

// t writes a time difference or duration in the record's unit.
func (g *group) t(k int, d int64) {
	if g.us {
		q := d / 1000
		if q*1000 != d {
			g.inexact = true
		}
		d = q
	}
	g.s(k, d)
}

// atz writes a time that is 0 when not set (EndAt): 0, else the difference plus one.
func (g *group) atz(k int, t Instant) {
	if t == 0 {
		return
	}
	g.at(k, t)
	g.v[k&63]++
	g.mask |= 1 << (k & 63)
}

// z32 writes a 32-bit number that is 0 when not set (a SYN-ACK's acknowledgement, a
// FIN's sequence number): 0, else its difference from ref plus one. An unset number
// written as a difference would take five bytes.
func (g *group) z32(k int, x, ref uint32) {
	if x == 0 {
		return
	}
	g.u(k, d32(x, ref)+1)
}

// tx: 0 for "not seen", else the frame difference (plus one) and the time difference.
// A frame 2^63 away from the first would read back wrong: no capture has that many.
func (g *group) tx(k int, t Tx) {
	if t == (Tx{}) {
		return
	}
	g.u(k, zig(int64(t.Frame-g.base.Frame))+1)
	g.at(k+1, t.At)
}

// bits gathers up to 64 booleans as one value.
func (g *group) bits(k int, bs ...bool) {
	var v uint64
	for i, b := range bs {
		if b {
			v |= 1 << i
		}
	}
	g.u(k, v)
}

// packer appends the record to b.
type packer struct {
	b          []byte
	base       Tx
	g          group // the group being gathered (reused: 0.5 KB)
	rawC, rawS bool  // the endpoints are written after the head (head)
}

func (p *packer) u(v uint64) { p.b = appendU(p.b, v) }

// flush writes a group: the mask of its non-zero values, then those. The record
// grows once for the whole group, and the values are written by index.
func (p *packer) flush(g *group) {
	b := slices.Grow(p.b, binary.MaxVarintLen64*(bits.OnesCount64(g.mask)+1))
	j := len(b)
	b = b[:cap(b)]
	j = putUvarint(b, j, g.mask)
	for m := g.mask; m != 0; m &= m - 1 {
		if v := g.v[bits.TrailingZeros64(m)]; v < 0x80 {
			b[j] = byte(v)
			j++
		} else {
			j = putUvarint(b, j, v)
		}
	}
	p.b = b[:j]
}

// putUvarint writes v as a varint at b[j:] (room enough) and returns where it ends:
// values of up to three bytes unrolled.
func putUvarint(b []byte, j int, v uint64) int {
	switch {
	case v < 1<<7:
		b[j] = byte(v)
		return j + 1
	case v < 1<<14:
		b[j], b[j+1] = byte(v)|0x80, byte(v>>7)
		return j + 2
	case v < 1<<21:
		b[j], b[j+1], b[j+2] = byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14)
		return j + 3
	}
	return j + binary.PutUvarint(b[j:], v)
}

// group starts gathering a group.
func (p *packer) group() *group {
	p.g.mask, p.g.base = 0, p.base
	return &p.g
}

func (p *packer) events(e *Events) {
	for _, ev := range e.List {
		g := p.group()
		g.tx(0, ev.Tx)
		g.u(2, uint64(ev.From))
		g.u(3, uint64(ev.Flags))
		g.u(4, uint64(ev.Payload))
		g.u(5, uint64(ev.During))
		g.atz(6, ev.Since)
		p.flush(g)
	}
}

// half writes one end; its sequence numbers relative to its lowest (FirstSeq), its
// acknowledgements relative to the peer's, timestamps relative to its newest TSval.
//
// The fields most connections have come first, the rare ones (duplicates, RSTs)
// last: a group's mask takes a byte per 7 fields up to its last non-zero one.
func (p *packer) half(h, peer *Half) {
	g := p.group()
	g.bits(0, h.SynAckSeen, h.SeqKnown, h.HasTS, h.FinCoversPeerFin, h.FinLastAckHasTS, h.finCopy != FinTx{})
	g.u(1, h.Packets)
	g.u(2, h.Bytes)
	g.tx(3, h.Last)
	g.u(5, uint64(h.SynCount))
	g.z32(6, h.ISN, h.FirstSeq)
	g.tx(7, h.Syn)
	g.z32(9, h.SynEnd, h.FirstSeq)
	g.z32(10, h.SynAck, peer.FirstSeq)
	g.t(11, int64(h.TapRTT))
	g.z32(12, h.NextSeq, h.FirstSeq)
	g.u(13, uint64(h.LastTSval))
	g.u(14, uint64(h.FirstIPID))
	g.s(15, int64(int16(h.LastIPID-h.FirstIPID))) // the same socket's next ones
	g.u(16, uint64(h.FirstTTL))
	g.s(17, int64(int8(h.LastTTL-h.FirstTTL)))
	g.z32(18, h.FinSeq, h.NextSeq) // usually NextSeq - 1
	g.u(19, uint64(h.FinCount))
	g.u(20, uint64(len(h.FinTxs)))
	g.tx(21, h.FinAcked)
	g.tx(23, h.FinLastAck)
	g.z32(25, h.FinLastAckTSecr, h.LastTSval)
	g.u(26, h.Duplicates)
	g.u(27, uint64(h.InconsistentFin))
	g.tx(28, h.DataAfterPeerFin)
	g.tx(30, h.Rst)
	g.u(32, uint64(h.RstCount))
	g.u(33, uint64(h.RstOutOfWindow))
	g.u(34, uint64(h.OutOfWindow))
	g.z32(35, h.SynTSval, h.LastTSval)
	g.t(36, int64(h.SynGap))
	g.tx(37, h.ShortOfPeerFin)
	p.flush(g)
	for _, f := range h.FinTxs {
		p.finTx(&f, h)
	}
	if h.finCopy != (FinTx{}) {
		p.finTx(&h.finCopy, h)
	}
}

func (p *packer) finTx(f *FinTx, h *Half) {
	g := p.group()
	g.tx(0, f.Tx)
	g.z32(2, f.TSval, h.LastTSval)
	g.bits(3, f.HasTS, f.AckedBefore, f.OnAck)
	g.tx(4, f.Acked)
	p.flush(g)
}

func (g *group) timeWait(k int, tw *TimeWait) {
	g.bits(k, tw.Holder[Client], tw.Holder[Server], tw.Inferred)
	g.at(k+1, tw.Since)
	g.at(k+2, tw.Until)
	g.tx(k+3, tw.Start)
}

func (p *packer) reuse(r *Reuse) {
	g := p.group()
	g.u(0, uint64(r.PrevIndex))
	g.tx(1, r.PrevPeerLastFin)
	g.tx(3, r.SYN)
	g.u(5, uint64(r.SynSender))
	g.timeWait(6, &r.TimeWait)
	g.bits(11, r.OldSeqKnown, r.OldHasTS, r.OldPeerSeqKnown, r.NewHasTS, r.IPv6)
	g.u(12, uint64(r.OldNextSeq))
	g.u(13, uint64(r.OldTSval))
	g.u(14, uint64(r.OldPeerNextSeq))
	g.u(15, uint64(r.NewISN))
	g.u(16, uint64(r.NewTSval))
	g.u(17, uint64(r.OldFirstIPID))
	g.u(18, uint64(r.OldIPID))
	g.u(19, uint64(r.NewIPID))
	g.u(20, uint64(r.OldTTL))
	g.u(21, uint64(r.NewTTL))
	g.u(22, r.OldPackets)
	g.at(23, r.OldLastAt)
	p.flush(g)
}

// pack returns the incarnation as a record (appended to buf[:0]: the caller copies
// it), with the header h. The incarnation must not be linked to another one (next,
// Reuse.Prev) nor be in the touched list. Without recent, the signatures of the
// last segments (Half.recent) are left out: they recognise copies arriving within
// dupWindowID at most, and the tracker leaves them out only of incarnations quiet
// for packIdle, longer (packRecord; a segment stamped more than packIdle before the
// last one, a clock stepped back, could have been a copy).
func pack(buf []byte, inc *Incarnation, h packHeader, recent bool) []byte {
	b, _ := packTry(buf, inc, h, recent, true)
	return b
}

// usRecord marks, in the header's reason, a record whose times are in microseconds:
// the times of a pcap file are (but for pcap's nanosecond variant and most pcapng
// files), and a time difference of 0.1 s then takes 3 bytes instead of 4: about 20
// bytes a record.
const usRecord = 0x40

// waitSeconds marks, in the header's reason, a wait written in whole seconds: the
// wait of a connection in TIME_WAIT is the TIME_WAIT length (or twice it), a minute:
// one byte instead of four.
const waitSeconds = 0x20

// waitLess marks, in the header's reason, a wait written one nanosecond longer than
// it is: an earlier incarnation waits until just before its window closes (packPrev:
// a minute less a nanosecond), which would take the record out of microseconds, and
// make every record after it nanoseconds too (packTry).
const waitLess = 0x08

// headExt marks, in the header's reason, a byte of extFlags after it, saying what
// follows it in the header. The reason is written as one plain byte (not a varint).
const headExt = 0x80

// extFlags: what follows a header's reason (headExt).
const (
	extEndAt = 1 << iota // a replaced record's EndAt (replaceRecord): zig, in the record's unit, from the first packet
	extWake              // the wake block: its length, then two groups (packer.wake)
)

// The header's flags share the reason's byte: every EndReason is below the lowest.
const _ = uint8(waitLess - 1 - EndEvicted)

// packTry is pack, trying microseconds first when tryUS: us reports whether the
// record is in them. A record with a time that is not a whole number of microseconds
// is written again in nanoseconds; a tracker that met one stops trying (a capture in
// nanoseconds would pay for every record twice).
func packTry(buf []byte, inc *Incarnation, h packHeader, recent, tryUS bool) (b []byte, us bool) {
	if tryUS {
		if b, ok := packUnit(buf, inc, h, recent, true); ok {
			return b, true
		}
	}
	b, _ = packUnit(buf, inc, h, recent, false)
	return b, false
}

// packUnit writes the record with its times in microseconds (us) or nanoseconds;
// exact is false when us and a time was not a whole number of microseconds.
func packUnit(buf []byte, inc *Incarnation, h packHeader, recent, us bool) (_ []byte, exact bool) {
	p := packer{b: buf[:0], base: inc.First}
	if !p.head(inc, h, us, recent) {
		return p.b, false
	}
	c, s := &inc.Half[Client], &inc.Half[Server]
	if p.rawC {
		p.endpoint(c.Endpoint)
	}
	if p.rawS {
		p.endpoint(s.Endpoint)
	}
	p.half(c, s)
	p.half(s, c)
	p.events(&inc.Stale)
	p.events(&inc.Late)
	p.events(&inc.Injected)
	p.b = append(p.b, inc.History.buf[:min(int(inc.History.n), len(inc.History.buf))]...)
	if inc.Reuse != nil {
		p.reuse(inc.Reuse)
	}
	if recent {
		p.recent(inc)
	}
	return p.b, !p.g.inexact
}

// recent writes the signatures of each end's last segments (Half.recent), at the
// record's end (headRecent says they are there): each signature, a hash, as four
// bytes (as a varint, five), then their times in a group. A record handed out is
// unpacked without them (they only tell copies of segments still to come).
func (p *packer) recent(inc *Incarnation) {
	for r := range inc.Half {
		for _, sig := range inc.Half[r].recent.sig {
			p.b = binary.LittleEndian.AppendUint32(p.b, sig)
		}
	}
	g := p.group()
	w := dupDepth + 1 // each end's times, then its next (unpacker.recent)
	for r := range inc.Half {
		rs := &inc.Half[r].recent
		for i, at := range rs.at {
			g.atz(r*w+i, at) // (an empty slot's 0 as 0, not as a time before the first packet)
		}
		g.u(r*w+dupDepth, uint64(rs.next))
	}
	p.flush(g)
}

// rehead writes to buf[:0] the record old (inc's, unchanged since it was unpacked)
// with the header h and inc's head (the group of the incarnation's own fields, End
// and EndAt among them) written anew, the rest as it was; same reports that the
// result is old byte for byte. ok is false when the head cannot be written in old's
// unit (microseconds, and a time that is not a whole number of them).
func rehead(buf []byte, inc *Incarnation, h packHeader, old []byte) (b []byte, same, ok bool) {
	_, d := readHeader(old)
	var gr reader
	d.g = &gr
	recent := bit(d.group().u(0), headRecent) // (the rest of old's head is written anew)
	p := packer{b: buf[:0], base: inc.First}
	if !p.head(inc, h, d.us, recent) || p.g.inexact {
		return p.b, false, false
	}
	p.b = append(p.b, old[d.i:]...)
	return p.b, string(p.b) == string(old), true
}

// headRecent is the bit of the head's flags that says the record ends with the
// signatures of the last segments (packer.recent).
const headRecent = 6

// head writes the record's header and the incarnation's own fields; false when us
// and a header time is not a whole number of microseconds. It leaves in rawC and rawS
// whether the endpoints follow (they are not the 4-tuple's). recent: the record ends
// with the signatures of the last segments.
func (p *packer) head(inc *Incarnation, h packHeader, us, recent bool) bool {
	p.g.us = us
	var ok bool
	if p.b, ok = appendHeader(p.b, inc.First, h, us, h.wake != nil); !ok {
		return false
	}
	if h.wake != nil {
		p.wake(inc, h.wake)
	}

	c, s := &inc.Half[Client], &inc.Half[Server]
	lo, hi := inc.Key.Endpoints()
	clientLo := c.Endpoint == lo
	cDerived, sDerived := hi, lo
	if clientLo {
		cDerived, sDerived = lo, hi
	}
	rawC, rawS := c.Endpoint != cDerived, s.Endpoint != sDerived
	g := p.group()
	g.bits(0, inc.RolesKnown, inc.rfc1337, clientLo, rawC, rawS, inc.Reuse != nil, recent) // (headRecent)
	g.u(1, uint64(inc.Index))
	g.u(2, uint64(c.FirstSeq))
	g.u(3, uint64(s.FirstSeq))
	g.tx(4, inc.Last)
	g.u(6, inc.Packets)
	g.u(7, uint64(inc.History.n))
	g.u(8, uint64(inc.History.seen[Client]))
	g.u(9, uint64(inc.History.seen[Server]))
	g.u(10, uint64(inc.End))
	g.atz(11, inc.EndAt) // (rare fields from here on: see half)
	g.tx(12, inc.Refusal.Ack)
	g.u(14, uint64(inc.Refusal.AckNum))
	g.tx(15, inc.Refusal.Rst)
	g.tx(17, inc.Refusal.Retry)
	g.u(19, uint64(inc.SynISNChanged))
	g.u(20, inc.Stale.Count)
	g.u(21, uint64(len(inc.Stale.List)))
	g.u(22, inc.Late.Count)
	g.u(23, uint64(len(inc.Late.List)))
	g.tx(24, inc.RstInTimeWait)
	g.u(26, uint64(inc.RstInTimeWaitFrom))
	g.t(27, int64(inc.TimeWaitLeft))
	g.u(28, inc.refusals)
	g.u(29, uint64(inc.Before))
	g.u(30, inc.Injected.Count)
	g.u(31, uint64(len(inc.Injected.List)))
	p.flush(g)
	p.rawC, p.rawS = rawC, rawS
	return true
}

// appendHeader appends a record's header for an incarnation whose first packet is
// first: false when us and one of its times is not a whole number of microseconds.
// wake: the wake block follows (written by the caller).
func appendHeader(b []byte, first Tx, h packHeader, us, wake bool) ([]byte, bool) {
	hw, reason := h.wait, uint64(h.reason)
	if hw > 0 && hw%1000 == 999 {
		hw++ // (an earlier incarnation's: see waitLess)
		reason |= waitLess
	}
	wait := zig(int64(hw))
	at, last, endAt := int64(first.At), int64(h.lastAt-first.At), int64(h.endAt-first.At)
	if us {
		if at%1000 != 0 || last%1000 != 0 || (hw >= 0 && hw%1000 != 0) || (h.replaced && endAt%1000 != 0) {
			return b, false
		}
		at, last, endAt = at/1000, last/1000, endAt/1000
		if hw >= 0 {
			wait = zig(int64(hw / 1000))
		}
		reason |= usRecord
	}
	if hw > 0 && hw%1e9 == 0 {
		wait = zig(int64(hw / 1e9))
		reason |= waitSeconds
	}
	if h.cold {
		reason |= coldRecord
	}
	var ext byte
	if h.replaced {
		ext |= extEndAt
	}
	if wake {
		ext |= extWake
	}
	if ext != 0 {
		reason |= headExt
	}
	b = appendU(b, first.Frame)
	b = binary.LittleEndian.AppendUint64(b, uint64(at)) // (as a varint, 8 or 9 bytes read in a loop)
	b = appendU(b, zig(last))
	b = appendU(b, wait)
	b = append(b, byte(reason))
	if ext != 0 {
		b = append(b, ext)
	}
	if h.replaced {
		b = appendU(b, zig(endAt))
	}
	return b, true
}

// appendU appends v as a varint: most values in one byte, without a call.
func appendU(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return binary.AppendUvarint(b, v)
}

// replaceRecord writes to buf[:0] the record b (header h, body from byte body on:
// in memory, or where it is in the cold store) as the record of the same
// incarnation replaced at endAt, waiting wait (packPrev's): the header written anew
// (EndReplaced, replaced, endAt; no wake block), the body as it was. Unpacking it
// gives what unpacking b, setting End and EndAt, would. ok is false when the
// header cannot be written in the record's unit (microseconds, and a time that is
// not a whole number of them).
func replaceRecord(buf, b []byte, h packHeader, body int, endAt Instant, wait time.Duration) (_ []byte, ok bool) {
	nh := packHeader{lastAt: h.lastAt, wait: wait, reason: EndReplaced, cold: h.cold, replaced: true, endAt: endAt}
	if buf, ok = appendHeader(buf[:0], h.first, nh, b[h.reasonAt]&usRecord != 0, false); !ok {
		return buf, false
	}
	return append(buf, b[body:]...), true
}

// The wake block is what a bare SYN from the client of a connection packed in
// TIME_WAIT needs of it to start the next incarnation on the 4-tuple without
// unpacking it (Tracker.reusePacked): what route reads to tell that the SYN neither
// continues it nor belongs to it, as for an earlier incarnation (its prevSig, but
// for when its window closes), and what the new incarnation's Reuse says of it
// (reuseBy, its client sending the SYN: its TIME_WAIT among them). It is written in
// the record's header (so in memory even when the record's body is in the cold
// store) for the incarnations wakeable says it is exact for: a group of the
// signature, then the Reuse's group (packer.reuse), the SYN's fields zero.

// wakeable reports whether a wake block would be exact for inc: its roles known
// and its endpoints those of its 4-tuple, closed by both ends' FINs, acknowledged,
// no RST, and its client having sent more than SYNs (so that no SYN continues it as
// a retried attempt: continuesWith).
func wakeable(inc *Incarnation) bool {
	c, s := &inc.Half[Client], &inc.Half[Server]
	lo, hi := inc.Key.Endpoints()
	return inc.RolesKnown && inc.closedClean() && c.FinSeen() && s.FinSeen() && c.Packets > uint64(c.SynCount) &&
		((c.Endpoint == lo && s.Endpoint == hi) || (c.Endpoint == hi && s.Endpoint == lo))
}

// wake writes the wake block of inc, whose TIME_WAIT is tw: its length, then its
// groups (readWake and readWakeReuse read them).
func (p *packer) wake(inc *Incarnation, tw *TimeWait) {
	lo, hi := inc.Key.Endpoints()
	sig := sigOf(inc, 0, lo, hi)
	at := len(p.b)
	p.b = append(p.b, 0) // (the length, once known)
	g := p.group()
	g.u(0, uint64(sig.bits))
	g.u(1, uint64(sig.isn[Client]))
	g.u(2, uint64(sig.isn[Server]))
	g.z32(3, sig.synEnd[Client], sig.isn[Client])
	g.z32(4, sig.synEnd[Server], sig.isn[Server])
	g.z32(5, sig.synAck, sig.isn[Client])
	p.flush(g)
	r := inc.reuseBy(Client, *tw)
	p.reuse(&r)
	n := len(p.b) - at - 1
	if n < 0x80 {
		p.b[at] = byte(n)
		return
	}
	var l [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(l[:], uint64(n))
	p.b = slices.Insert(p.b, at+1, l[1:k]...)
	copy(p.b[at:], l[:k])
}

// readWake reads the signature in the wake block of a record b whose header h says
// it has one (overAt left zero), and returns it and where the Reuse's group starts
// (readWakeReuse).
func readWake(b []byte, h packHeader) (prevSig, int) {
	d := wakeReader(b, h, h.wakeAt)
	var gr reader
	d.g = &gr
	g := d.group()
	var sig prevSig
	sig.bits = g.u8(0)
	sig.isn[Client], sig.isn[Server] = g.u32(1), g.u32(2)
	sig.synEnd[Client] = g.z32(3, sig.isn[Client])
	sig.synEnd[Server] = g.z32(4, sig.isn[Server])
	sig.synAck = g.z32(5, sig.isn[Client])
	return sig, d.i
}

// readWakeReuse reads the Reuse group of a wake block, at byte at of record b
// (header h), into a Reuse from sp: what the Reuse of an incarnation started by its
// client's SYN says of the record's (reuseBy), the SYN's fields zero.
func readWakeReuse(b []byte, h packHeader, at int, sp *spares) *Reuse {
	d := wakeReader(b, h, at)
	var gr reader
	d.g, d.spares = &gr, sp
	return d.reuse()
}

// wakeReader is an unpacker of record b (header h) from byte at.
func wakeReader(b []byte, h packHeader, at int) unpacker {
	return unpacker{b: b, i: at, base: h.first, us: b[h.reasonAt]&usRecord != 0}
}

func (p *packer) endpoint(ep netip.AddrPort) {
	raw, _ := ep.MarshalBinary() // cannot fail
	p.u(uint64(len(raw)))
	p.b = append(p.b, raw...)
}

// unpacker reads a record; a record that does not read back is a bug of pack, and
// panics (records never come from input).
type unpacker struct {
	b      []byte
	i      int
	base   Tx
	spares *spares // where FIN lists and Reuses come from (nil: allocated)
	g      *reader // the group being read (group; on unpackInto's stack)
	us     bool    // times in microseconds (usRecord)
}

func (d *unpacker) u() uint64 {
	if d.i < len(d.b) && d.b[d.i] < 0x80 {
		d.i++
		return uint64(d.b[d.i-1]) // most values: one byte
	}
	return d.uvarint()
}

// uvarint reads a varint: those of up to three bytes (times in microseconds, frame
// differences) unrolled; longer ones (32-bit numbers, nanoseconds) eight bytes at
// once when the record has them: the stop bits say the length, and three shifts
// gather the 7-bit groups (values below 2^56); else by binary.Uvarint.
func (d *unpacker) uvarint() uint64 {
	b, i := d.b, d.i
	if uint(i)+2 < uint(len(b)) {
		b0, b1, b2 := b[i], b[i+1], b[i+2]
		switch {
		case b0 < 0x80:
			d.i = i + 1
			return uint64(b0)
		case b1 < 0x80:
			d.i = i + 2
			return uint64(b0&0x7f) | uint64(b1)<<7
		case b2 < 0x80:
			d.i = i + 3
			return uint64(b0&0x7f) | uint64(b1&0x7f)<<7 | uint64(b2)<<14
		}
	}
	if uint(i)+8 <= uint(len(b)) {
		w := binary.LittleEndian.Uint64(b[i:])
		if stops := ^w & 0x8080808080808080; stops != 0 {
			n := bits.TrailingZeros64(stops) + 1 // 8 bits a byte
			d.i = i + n>>3
			return gather7(w & (^uint64(0) >> (64 - n)))
		}
	}
	v, n := binary.Uvarint(b[min(i, len(b)):])
	if n <= 0 {
		panic(fmt.Sprintf("reassembly: packed incarnation unreadable at byte %d of %d", i, len(b)))
	}
	d.i = i + n
	return v
}

// gather7 packs the low seven bits of each byte of w (little endian) together.
func gather7(w uint64) uint64 {
	w &= 0x7f7f7f7f7f7f7f7f
	w = w&0x007f007f007f007f | w&0x7f007f007f007f00>>1
	w = w&0x00003fff00003fff | w&0x3fff00003fff0000>>2
	return w&0x000000000fffffff | w&0x0fffffff00000000>>4
}

func (d *unpacker) bytes(n int) []byte {
	if n < 0 || d.i+n > len(d.b) {
		panic(fmt.Sprintf("reassembly: packed incarnation unreadable at byte %d of %d", d.i, len(d.b)))
	}
	b := d.b[d.i : d.i+n]
	d.i += n
	return b
}

// reader reads a group written by flush. The group is decoded at once (group: the
// mask, then each value it marks, in one loop) and the fields then read from v by
// their index in the order written (u): a call per field, each testing its bit and
// decoding, cost more than the rest of unpacking.
type reader struct {
	v    [64]uint64 // the group's values, 0 where the mask has no bit
	n    int        // values in v (after the mask's highest bit all are 0)
	base Tx         // the record's first packet (times and frames are relative to it)
	us   bool       // times in microseconds (usRecord)
}

// group decodes the next group into d.g and returns it. A group is read whole
// before the next one starts (the one reader is reused).
func (d *unpacker) group() *reader {
	g := d.g
	g.base, g.us = d.base, d.us
	mask := d.u()
	clear(g.v[:g.n]) // (what the group before left: v is all zeros past it)
	g.n = bits.Len64(mask)
	// b and i in locals: stores to g.v would make the compiler load d's again.
	b, i := d.b, d.i
	for m := mask; m != 0; m &= m - 1 {
		var v uint64
		if uint(i)+1 < uint(len(b)) && b[i] < 0x80 { // most values take one byte
			v = uint64(b[i])
			i++
		} else if uint(i)+1 < uint(len(b)) && b[i+1] < 0x80 { // then two
			v = uint64(b[i]&0x7f) | uint64(b[i+1])<<7
			i += 2
		} else {
			d.i = i
			v = d.uvarint()
			i = d.i
		}
		g.v[bits.TrailingZeros64(m)] = v
	}
	d.i = i
	return g
}

// u reads value k of the group (the k-th gathered by the packer's group, counting
// a tx as two, a timeWait as five): the readers below take the index of their
// first value, which each call site gives as a constant, so that a read is one
// load. v holds zeros past the group's last value (group), so reading past them
// needs no test.
func (r *reader) u(k int) uint64 { return r.v[k&63] }

func (r *reader) at(k int) Instant { return r.base.At + Instant(r.t(k)) }

// atz reads a time written by group.atz.
func (r *reader) atz(k int) Instant {
	v := r.u(k)
	if v == 0 {
		return 0
	}
	d := unzig(v - 1)
	if r.us {
		d *= 1000
	}
	return r.base.At + Instant(d)
}

// z32 reads a number written by group.z32.
func (r *reader) z32(k int, ref uint32) uint32 {
	v := r.u(k)
	if v == 0 {
		return 0
	}
	return ref + uint32(int32(unzig(v-1)))
}

// t reads a time difference or duration written by group.t.
func (r *reader) t(k int) int64 {
	if r.us {
		return unzig(r.u(k)) * 1000
	}
	return unzig(r.u(k))
}

func (r *reader) u32(k int) uint32 { return uint32(r.u(k)) }
func (r *reader) u16(k int) uint16 { return uint16(r.u(k)) }
func (r *reader) u8(k int) uint8   { return uint8(r.u(k)) }
func (r *reader) role(k int) Role  { return Role(r.u(k)) }
func bit(v uint64, i uint) bool    { return v&(1<<i) != 0 }

// tx reads values k and k+1, written by group.tx.
func (r *reader) tx(k int) Tx {
	f := r.u(k)
	at := r.t(k + 1)
	if f == 0 {
		return Tx{}
	}
	return Tx{Frame: r.base.Frame + uint64(unzig(f-1)), At: r.base.At + Instant(at)}
}

func (d *unpacker) events(e *Events, n int) {
	if n == 0 {
		return
	}
	e.List = make([]Event, n)
	for i := range e.List {
		g := d.group()
		ev := &e.List[i]
		ev.Tx = g.tx(0)
		ev.From = g.role(2)
		ev.Flags = g.u8(3)
		ev.Payload = g.u32(4)
		ev.During = g.u32(5)
		ev.Since = g.atz(6)
	}
}

func (d *unpacker) half(h, peer *Half) {
	g := d.group()
	b := g.u(0)
	h.SynAckSeen, h.SeqKnown, h.HasTS, h.FinCoversPeerFin, h.FinLastAckHasTS =
		bit(b, 0), bit(b, 1), bit(b, 2), bit(b, 3), bit(b, 4)
	hasCopy := bit(b, 5)
	h.Packets = g.u(1)
	h.Bytes = g.u(2)
	h.Last = g.tx(3)
	h.SynCount = g.u32(5)
	h.ISN = g.z32(6, h.FirstSeq)
	h.Syn = g.tx(7)
	h.SynEnd = g.z32(9, h.FirstSeq)
	h.SynAck = g.z32(10, peer.FirstSeq)
	h.TapRTT = time.Duration(g.t(11))
	h.NextSeq = g.z32(12, h.FirstSeq)
	h.LastTSval = g.u32(13)
	h.FirstIPID = g.u16(14)
	h.LastIPID = h.FirstIPID + uint16(unzig(g.u(15)))
	h.FirstTTL = g.u8(16)
	h.LastTTL = h.FirstTTL + uint8(unzig(g.u(17)))
	h.FinSeq = g.z32(18, h.NextSeq)
	h.FinCount = g.u32(19)
	nFin := int(g.u(20))
	h.FinAcked = g.tx(21)
	h.FinLastAck = g.tx(23)
	h.FinLastAckTSecr = g.z32(25, h.LastTSval)
	h.Duplicates = g.u(26)
	h.InconsistentFin = g.u32(27)
	h.DataAfterPeerFin = g.tx(28)
	h.Rst = g.tx(30)
	h.RstCount = g.u32(32)
	h.RstOutOfWindow = g.u32(33)
	h.OutOfWindow = g.u32(34)
	h.SynTSval = g.z32(35, h.LastTSval)
	h.SynGap = time.Duration(g.t(36))
	h.ShortOfPeerFin = g.tx(37)
	if nFin > 0 {
		h.FinTxs = slices.Grow(d.spares.takeFins(), nFin)[:nFin]
		for i := range h.FinTxs {
			d.finTx(&h.FinTxs[i], h)
		}
	}
	if hasCopy {
		d.finTx(&h.finCopy, h)
	}
}

func (d *unpacker) finTx(f *FinTx, h *Half) {
	g := d.group()
	f.Tx = g.tx(0)
	f.TSval = g.z32(2, h.LastTSval)
	fb := g.u(3)
	f.HasTS, f.AckedBefore, f.OnAck = bit(fb, 0), bit(fb, 1), bit(fb, 2)
	f.Acked = g.tx(4)
}

func (r *reader) timeWait(k int, tw *TimeWait) {
	b := r.u(k)
	tw.Holder[Client], tw.Holder[Server], tw.Inferred = bit(b, 0), bit(b, 1), bit(b, 2)
	tw.Since = r.at(k + 1)
	tw.Until = r.at(k + 2)
	tw.Start = r.tx(k + 3)
}

func (d *unpacker) reuse() *Reuse {
	g := d.group()
	r := d.spares.takeReuse()
	*r = Reuse{}
	r.PrevIndex = int(g.u(0))
	r.PrevPeerLastFin = g.tx(1)
	r.SYN = g.tx(3)
	r.SynSender = g.role(5)
	g.timeWait(6, &r.TimeWait)
	b := g.u(11)
	r.OldSeqKnown, r.OldHasTS, r.OldPeerSeqKnown, r.NewHasTS, r.IPv6 = bit(b, 0), bit(b, 1), bit(b, 2), bit(b, 3), bit(b, 4)
	r.OldNextSeq = g.u32(12)
	r.OldTSval = g.u32(13)
	r.OldPeerNextSeq = g.u32(14)
	r.NewISN = g.u32(15)
	r.NewTSval = g.u32(16)
	r.OldFirstIPID = g.u16(17)
	r.OldIPID = g.u16(18)
	r.NewIPID = g.u16(19)
	r.OldTTL = g.u8(20)
	r.NewTTL = g.u8(21)
	r.OldPackets = g.u(22)
	r.OldLastAt = g.at(23)
	return r
}

// recent reads what packer.recent wrote.
func (d *unpacker) recent(inc *Incarnation) {
	for r := range inc.Half {
		for i := range inc.Half[r].recent.sig {
			inc.Half[r].recent.sig[i] = binary.LittleEndian.Uint32(d.bytes(4))
		}
	}
	g := d.group()
	for r := range inc.Half {
		rs := &inc.Half[r].recent
		k := r * (len(rs.at) + 1) // (each end's times, then its next)
		for i := range rs.at {
			rs.at[i] = g.atz(k + i)
		}
		rs.next = g.u8(k + len(rs.at))
	}
}

func (d *unpacker) endpoint() netip.AddrPort {
	var ep netip.AddrPort
	if err := ep.UnmarshalBinary(d.bytes(int(d.u()))); err != nil {
		panic("reassembly: packed endpoint unreadable: " + err.Error())
	}
	return ep
}

// readHeader reads a record's header.
func readHeader(b []byte) (packHeader, unpacker) {
	d := unpacker{b: b}
	var h packHeader
	h.first.Frame = d.u()
	first := int64(binary.LittleEndian.Uint64(d.b[d.i:])) // (the first packet's time: 8 plain bytes)
	d.i += 8
	last, wait := unzig(d.u()), unzig(d.u())
	h.reasonAt = d.i
	reason := uint64(d.b[d.i])
	d.i++
	var endAt int64
	if reason&headExt != 0 {
		ext := d.b[d.i]
		d.i++
		if ext&extEndAt != 0 {
			h.replaced, endAt = true, unzig(d.u())
		}
		if ext&extWake != 0 {
			n := int(d.u())
			h.wakeAt = d.i
			d.i += n // (the block is read by readWake)
		}
	}
	if d.us = reason&usRecord != 0; d.us {
		first, last, endAt = first*1000, last*1000, endAt*1000
		if wait >= 0 && reason&waitSeconds == 0 {
			wait *= 1000
		}
	}
	if reason&waitSeconds != 0 {
		wait *= 1e9
	}
	if reason&waitLess != 0 {
		wait--
	}
	h.first.At = Instant(first)
	d.base = h.first
	h.lastAt = Instant(last + first)
	if h.replaced {
		h.endAt = Instant(endAt + first)
	}
	h.wait = time.Duration(wait)
	h.reason = EndReason(reason &^ (usRecord | waitSeconds | waitLess | coldRecord | headExt))
	h.cold = reason&coldRecord != 0
	return h, d
}

// header reads the header of a packed record (a string in the arena).
func header(rec string) packHeader {
	h, _ := readHeader(recordBytes(rec))
	return h
}

// unpackInto rebuilds the incarnation of a record on 4-tuple k in inc, whatever inc
// held before; its FIN lists and Reuse come from sp (may be nil). Without recent,
// the signatures of the last segments (Half.recent) are left zero: an incarnation
// handed out gets no more segments.
func unpackInto(inc *Incarnation, k FlowKey, b []byte, sp *spares, recent bool) {
	h, d := readHeader(b)
	unpackFrom(inc, k, h, d, sp, recent)
}

// unpackFrom is unpackInto for a record whose header was read (readHeader: h, and
// d after it).
func unpackFrom(inc *Incarnation, k FlowKey, h packHeader, d unpacker, sp *spares, recent bool) {
	var gr reader
	d.spares, d.g = sp, &gr
	*inc = Incarnation{} // cleared in place, then set: a literal with fields is built aside and copied, 1.2 KB twice
	inc.Key, inc.First = k, h.first
	c, s := &inc.Half[Client], &inc.Half[Server]
	g := d.group()
	fl := g.u(0)
	inc.RolesKnown, inc.rfc1337 = bit(fl, 0), bit(fl, 1)
	clientLo, rawC, rawS, reused, hasRecent := bit(fl, 2), bit(fl, 3), bit(fl, 4), bit(fl, 5), bit(fl, headRecent)
	inc.Index = int(g.u(1))
	c.FirstSeq = g.u32(2)
	s.FirstSeq = g.u32(3)
	inc.Last = g.tx(4)
	inc.Packets = g.u(6)
	hs := &inc.History
	hs.n = g.u8(7)
	hs.seen[Client] = g.u32(8)
	hs.seen[Server] = g.u32(9)
	inc.End = EndReason(g.u(10))
	inc.EndAt = g.atz(11)
	if h.replaced {
		inc.End, inc.EndAt = EndReplaced, h.endAt
	}
	inc.Refusal.Ack = g.tx(12)
	inc.Refusal.AckNum = g.u32(14)
	inc.Refusal.Rst = g.tx(15)
	inc.Refusal.Retry = g.tx(17)
	inc.SynISNChanged = g.u32(19)
	inc.Stale.Count = g.u(20)
	nStale := int(g.u(21))
	inc.Late.Count = g.u(22)
	nLate := int(g.u(23))
	inc.RstInTimeWait = g.tx(24)
	inc.RstInTimeWaitFrom = g.role(26)
	inc.TimeWaitLeft = time.Duration(g.t(27))
	inc.refusals = g.u(28)
	inc.Before = PrevState(g.u(29))
	inc.Injected.Count = g.u(30)
	nInjected := int(g.u(31))

	lo, hi := k.Endpoints()
	c.Endpoint, s.Endpoint = hi, lo
	if clientLo {
		c.Endpoint, s.Endpoint = lo, hi
	}
	if rawC {
		c.Endpoint = d.endpoint()
	}
	if rawS {
		s.Endpoint = d.endpoint()
	}
	d.half(c, s)
	d.half(s, c)
	d.events(&inc.Stale, nStale)
	d.events(&inc.Late, nLate)
	d.events(&inc.Injected, nInjected)
	copy(hs.buf[:], d.bytes(min(int(hs.n), len(hs.buf))))
	if reused {
		inc.Reuse = d.reuse()
	}
	if hasRecent && !recent {
		return // (the signatures follow: see packer.recent)
	}
	if hasRecent {
		d.recent(inc)
	}
	if d.i != len(d.b) {
		panic(fmt.Sprintf("reassembly: packed incarnation has %d bytes left over", len(d.b)-d.i))
	}
}

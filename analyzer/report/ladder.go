package report

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// --ladder draws, for each connection with findings, its segments as a sequence
// diagram between two columns, client left and server right, as Wireshark's flow
// graph shows them: one arrow per segment with its flags and relative seq/ack, the
// time since the connection's first segment and since the row above, and notes on
// what the tap saw happen (retransmissions, gaps, duplicate ACKs, the ACK of each
// FIN). The handshake and the close are drawn in full; data in between is folded
// into one line.

// ladderSeg is what a ladder reads of a segment. It holds no pointer: the second
// pass of --ladder keeps one for every packet of every connection with findings,
// and a capture.Segment is four times the size, with pointers the collector scans.
type ladderSeg struct {
	Frame      uint64
	sec        int64 // the capture time: Unix seconds and nanoseconds
	nsec       int32
	Seq, Ack   uint32
	PayloadLen uint32
	Flags      capture.Flags
	fromClient bool // sent by the connection's client
}

// ladderSegOf keeps what a ladder reads of s, a segment of a connection whose
// client is client.
func ladderSegOf(s *capture.Segment, client netip.AddrPort) ladderSeg {
	return ladderSeg{Frame: s.Frame, sec: s.Time.Unix(), nsec: int32(s.Time.Nanosecond()), Seq: s.Seq, Ack: s.Ack,
		PayloadLen: s.PayloadLen, Flags: s.Flags, fromClient: s.Src == client}
}

// Time returns the segment's capture time.
func (s *ladderSeg) Time() time.Time { return time.Unix(s.sec, int64(s.nsec)) }

// SeqEnd returns the sequence number just past the segment (capture.Segment.SeqEnd).
func (s *ladderSeg) SeqEnd() uint32 {
	seg := capture.Segment{Seq: s.Seq, PayloadLen: s.PayloadLen, Flags: s.Flags}
	return seg.SeqEnd()
}

// ladderRow is one segment with what the diagram says about it.
type ladderRow struct {
	seg   ladderSeg
	right bool // client → server
	label string
	notes []string
	show  bool
}

// ladderState follows one direction's sequence space.
type ladderState struct {
	base    uint32 // ISN, or the first sequence number seen
	known   bool
	next    uint32 // highest sequence number used plus one
	acked   uint32 // highest ACK this end sent
	hasAck  bool
	finSeq  uint32 // the sequence number this end's FIN takes
	finSeen bool
	lastAck uint32 // the last pure ACK, for duplicates
	pureAck bool
	synSeen bool
}

// ladderFlags names flags as Wireshark does, lowest bit first: "SYN,ACK", "FIN,PSH,ACK".
func ladderFlags(f capture.Flags) string { return flagNames[f] }

// flagNames holds the name of every combination of flags (ladderFlags), made once.
var flagNames = func() (t [256]string) {
	for f := range t {
		var names []string
		for _, x := range []struct {
			f capture.Flags
			n string
		}{{capture.FIN, "FIN"}, {capture.SYN, "SYN"}, {capture.RST, "RST"}, {capture.PSH, "PSH"},
			{capture.ACK, "ACK"}, {capture.URG, "URG"}, {capture.ECE, "ECE"}, {capture.CWR, "CWR"}} {
			if capture.Flags(f)&x.f != 0 {
				names = append(names, x.n)
			}
		}
		t[f] = "(no flags)"
		if len(names) > 0 {
			t[f] = strings.Join(names, ",")
		}
	}
	return t
}()

// ladderRows works out each segment's label and notes.
func ladderRows(segs []ladderSeg) []ladderRow {
	rows := make([]ladderRow, len(segs))
	var st [2]ladderState // 0: client, 1: server
	// finAck[d]: the row where end d first acknowledged the peer's FIN.
	finAck := [2]int{-1, -1}
	var labelBuf [64]byte
	for i := range segs {
		s := &segs[i]
		d := 1
		if s.fromClient {
			d = 0
		}
		me, peer := &st[d], &st[1-d]
		r := &rows[i]
		r.seg, r.right = *s, d == 0
		if !me.known || s.Flags.Has(capture.SYN) && !me.synSeen {
			// Relative to the ISN, as Wireshark counts: the SYN is seq 0, the first
			// data byte seq 1. An end first seen in an ACK of an older connection
			// (a TIME_WAIT challenge ACK) starts again at its SYN, and what the peer
			// had acknowledged of the old sequence space no longer counts.
			if me.known {
				peer.hasAck = false
			}
			me.base, me.next, me.known = s.Seq, s.Seq, true
		}
		if s.Flags.Has(capture.SYN) {
			me.synSeen = true
		}
		end := s.SeqEnd()
		// An RST occupies no sequence space; its sequence number says nothing
		// about what was sent before.
		space := end != s.Seq && !s.Flags.Has(capture.RST)
		switch {
		case space && reassembly.SeqLEQ(end, me.next) && (s.Flags&(capture.SYN|capture.FIN) != 0 || s.PayloadLen > 0):
			note := "retransmission"
			if peer.hasAck && reassembly.SeqLEQ(end, peer.acked) {
				note += ", already ACKed at the tap"
			}
			r.notes = append(r.notes, note)
		case space && reassembly.SeqLess(me.next, s.Seq):
			r.notes = append(r.notes, fmt.Sprintf("previous segment not captured (%d bytes missing)", s.Seq-me.next))
		}
		if space && reassembly.SeqLess(me.next, end) {
			me.next = end
		}
		if s.Flags.Has(capture.RST) {
			r.notes = append(r.notes, "reset")
		}
		if s.Flags.Has(capture.ACK) {
			// An ACK beyond what the peer sent: a segment the tap missed, or, in
			// answer to a SYN, an ACK of the older connection on the 4-tuple (a
			// TIME_WAIT holder's challenge ACK). Either way it does not say what the
			// peer's later segments had already had acknowledged.
			beyond := peer.known && reassembly.SeqLess(peer.next, s.Ack) && !s.Flags.Has(capture.RST)
			switch {
			case beyond && peer.synSeen && !me.synSeen && !s.Flags.Has(capture.SYN):
				r.notes = append(r.notes, "answers the SYN with an ACK of the old connection")
			case beyond:
				r.notes = append(r.notes, "ACKs a segment the tap did not see")
			}
			pure := !space && s.Flags&(capture.RST) == 0
			if pure && me.pureAck && s.Ack == me.lastAck {
				r.notes = append(r.notes, "dup ACK")
			}
			me.pureAck, me.lastAck = pure, s.Ack
			if peer.finSeen && reassembly.SeqLess(peer.finSeq, s.Ack) && (!me.hasAck || reassembly.SeqLEQ(me.acked, peer.finSeq)) {
				what := "ACKs the FIN"
				if me.finSeen {
					what = "final ACK"
				}
				r.notes = append(r.notes, what)
				finAck[d] = i
			}
			if !beyond && (!me.hasAck || reassembly.SeqLess(me.acked, s.Ack)) {
				me.acked, me.hasAck = s.Ack, true
			}
		} else {
			me.pureAck = false
		}
		// After the ACK: a FIN+ACK answering the peer's FIN is the passive closer's
		// ACK of it, not a final ACK.
		if s.Flags.Has(capture.FIN) && !me.finSeen {
			me.finSeq, me.finSeen = end-1, true
		}
		// A FIN sent again after the peer's ACK of it passed the tap: that ACK was
		// lost after the tap, or the FIN was re-sent too early.
		if s.Flags.Has(capture.FIN) && finAck[1-d] >= 0 && strings.HasPrefix(r.notesText(), "retransmission") {
			a := &rows[finAck[1-d]]
			if !a.hasNote("FIN re-sent after this ACK") {
				a.notes = append(a.notes, "FIN re-sent after this ACK")
			}
		}
		label := append(append(labelBuf[:0], ladderFlags(s.Flags)...), " seq="...)
		label = analyzer.AppendUint(label, uint64(s.Seq-me.base))
		if s.Flags.Has(capture.ACK) {
			if peer.known {
				label = analyzer.AppendUint(append(label, " ack="...), uint64(s.Ack-peer.base))
			} else {
				label = append(analyzer.AppendUint(append(label, " ack="...), uint64(s.Ack)), "(abs)"...)
			}
		}
		if s.PayloadLen > 0 {
			label = analyzer.AppendUint(append(label, " len="...), uint64(s.PayloadLen))
		}
		r.label = string(label)
	}
	return rows
}

func (r *ladderRow) notesText() string { return strings.Join(r.notes, "; ") }

func (r *ladderRow) hasNote(n string) bool {
	for _, x := range r.notes {
		if x == n {
			return true
		}
	}
	return false
}

// ladderLead is how many segments before the first FIN or RST are drawn, and
// ladderHandshake how many at the start.
const (
	ladderLead      = 2
	ladderHandshake = 3
)

// chooseRows marks the rows to draw: the handshake, the close (from a little
// before the first FIN or RST to the end) and the frames a finding names. Notes in
// the folded part are counted on the fold's line.
func chooseRows(rows []ladderRow, evidence map[uint64]bool) {
	closeAt := len(rows)
	for i := range rows {
		if rows[i].seg.Flags&(capture.FIN|capture.RST) != 0 {
			closeAt = i
			break
		}
	}
	closeAt = max(0, closeAt-ladderLead)
	for i := range rows {
		r := &rows[i]
		r.show = i < ladderHandshake || i >= closeAt || evidence[r.seg.Frame]
	}
}

// ladderDelta renders the time between two rows: "+29µs", "+212.0ms", "+1.002s".
func ladderDelta(d time.Duration) string { return string(appendLadderDelta(nil, d)) }

// appendLadderDelta appends ladderDelta(d) to b (what fmt's "+%.3fs", "+%.1fms"
// and "+%dµs" wrote).
func appendLadderDelta(b []byte, d time.Duration) []byte {
	b = append(b, '+')
	switch {
	case d >= time.Second:
		return append(strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64), 's')
	case d >= time.Millisecond:
		return append(strconv.AppendFloat(b, float64(d)/1e6, 'f', 1, 64), "ms"...)
	default:
		return append(strconv.AppendInt(b, d.Microseconds(), 10), "µs"...)
	}
}

// appendArrow appends a label drawn on an arrow of the given width, pointing
// right or left.
func appendArrow(b []byte, label string, width int, right bool) []byte {
	inner := width - 2 // between the two bars
	// The label with a space each side, in runes.
	dashes := max(2, inner-1-(utf8.RuneCountInString(label)+2))
	left := dashes / 2
	rightDashes := dashes - left
	if right {
		b = append(b, '|')
	} else {
		b = append(b, "|<"...)
	}
	b = appendRepeat(b, '-', left)
	b = append(append(append(b, ' '), label...), ' ')
	b = appendRepeat(b, '-', rightDashes)
	if right {
		return append(b, ">|"...)
	}
	return append(b, '|')
}

// appendRepeat appends n copies of c (none when n < 1).
func appendRepeat(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// appendPadded appends s right-aligned in width runes, as fmt's "%*s" does.
func appendPadded(b []byte, s []byte, width int) []byte {
	return append(appendRepeat(b, ' ', width-utf8.RuneCount(s)), s...)
}

// ladderColumns heads the rows' first columns (frame, time, Δ); ladderBlank is
// as wide, in runes.
var (
	ladderColumns = fmt.Sprintf(" %6s %13s %10s  ", "frame", "time", "Δ")
	ladderBlank   = strings.Repeat(" ", utf8.RuneCountInString(ladderColumns))
)

// writeLadder draws connection ci of the document from the segments the second
// pass kept. The diagram is built in buf (kept for the next) and written at once.
func writeLadder(w io.Writer, doc *Document, ci int, ev *connEvidence, buf *[]byte) {
	c := &doc.Connections[ci]
	var kinds []string
	evidence := map[uint64]bool{}
	for _, fi := range ev.findings[ci] {
		f := &doc.Findings[fi]
		if !containsString(kinds, string(f.Kind)) {
			kinds = append(kinds, string(f.Kind))
		}
		for _, fr := range f.Frames {
			evidence[fr] = true
		}
	}
	b := append((*buf)[:0], "ladder       "...)
	b = analyzer.AppendEndpoint(b, c.Client)
	b = append(b, " → "...)
	b = analyzer.AppendEndpoint(b, c.Server)
	b = analyzer.AppendUint(append(b, " #"...), uint64(c.Incarnation))
	b = append(append(b, analyzer.PlaceText(c.VLAN, c.Tunnel)...), ": "...)
	b = append(b, strings.Join(kinds, ", ")...)
	b = analyzer.AppendUint(append(b, " (frames "...), c.FirstFrame)
	b = analyzer.AppendUint(append(b, '-'), c.LastFrame)
	b = analyzer.AppendUint(append(b, ", "...), c.Packets)
	b = append(append(append(b, " packets, close "...), c.Close...), ")\n"...)
	defer func() { *buf = b[:0] }()
	segs := ev.segs[ci]
	if len(segs) == 0 {
		b = append(b, "  (no segments)\n"...)
		_, _ = w.Write(b) // the report's writer keeps its first error
		return
	}
	rows := ladderRows(segs)
	chooseRows(rows, evidence)
	width := 36
	for _, r := range rows {
		width = max(width, len(r.label)+8)
	}
	header := func(b []byte, l, r string) []byte {
		b = append(b, l...)
		b = appendRepeat(b, ' ', max(1, width-utf8.RuneCountInString(l)-utf8.RuneCountInString(r)))
		return append(append(b, r...), '\n')
	}
	b = header(append(b, ladderColumns...), "client", "server")
	b = header(append(b, ladderBlank...), analyzer.EndpointString(c.Client), analyzer.EndpointString(c.Server))
	start := segs[0].Time()
	var prev time.Time
	hidden, hiddenFrom, hiddenNotes := 0, uint64(0), 0
	flush := func(b []byte, to uint64) []byte {
		if hidden > 0 {
			b = append(b, ladderBlank...)
			b = analyzer.AppendUint(append(b, "   ⋮ "...), uint64(hidden))
			b = analyzer.AppendUint(append(b, " segment(s) not drawn, frames "...), hiddenFrom)
			b = analyzer.AppendUint(append(b, '-'), to)
			if hiddenNotes > 0 {
				b = analyzer.AppendUint(append(b, " ("...), uint64(hiddenNotes))
				b = append(b, " with notes: retransmissions, gaps, dup ACKs)"...)
			}
			b = append(b, '\n')
			hidden, hiddenNotes = 0, 0
		}
		return b
	}
	var lastHidden uint64
	var num, deltaBuf [32]byte
	for i, r := range rows {
		if !r.show {
			if hidden == 0 {
				hiddenFrom = r.seg.Frame
			}
			hidden++
			if len(r.notes) > 0 {
				hiddenNotes++
			}
			lastHidden = r.seg.Frame
			continue
		}
		b = flush(b, lastHidden)
		var delta []byte
		if i > 0 {
			delta = appendLadderDelta(deltaBuf[:0], r.seg.Time().Sub(prev))
		}
		prev = r.seg.Time()
		mark := byte(' ')
		if evidence[r.seg.Frame] {
			mark = '*'
		}
		// What fmt's "%s%6d %13.6f %10s  %s" wrote.
		b = append(b, mark)
		b = appendPadded(b, analyzer.AppendUint(num[:0], r.seg.Frame), 6)
		b = append(b, ' ')
		b = appendPadded(b, strconv.AppendFloat(num[:0], r.seg.Time().Sub(start).Seconds(), 'f', 6, 64), 13)
		b = append(b, ' ')
		b = appendPadded(b, delta, 10)
		b = append(b, "  "...)
		b = appendArrow(b, r.label, width, r.right)
		if len(r.notes) > 0 {
			b = append(b, "  "...)
			for j, n := range r.notes {
				if j > 0 {
					b = append(b, "; "...)
				}
				b = append(b, n...)
			}
		}
		b = append(b, '\n')
	}
	b = flush(b, lastHidden)
	_, _ = w.Write(b)
}

// ladderLegend explains the diagrams once, after the last.
const ladderLegend = "  *: a frame a finding names; time: seconds since the connection's first frame; Δ: since the row above;\n  seq/ack: relative to each end's first sequence number (the SYN is 0).\n"

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

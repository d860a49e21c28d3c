package report

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

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

// ladderRow is one segment with what the diagram says about it.
type ladderRow struct {
	seg   capture.Segment
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
func ladderFlags(f capture.Flags) string {
	var names []string
	for _, x := range []struct {
		f capture.Flags
		n string
	}{{capture.FIN, "FIN"}, {capture.SYN, "SYN"}, {capture.RST, "RST"}, {capture.PSH, "PSH"},
		{capture.ACK, "ACK"}, {capture.URG, "URG"}, {capture.ECE, "ECE"}, {capture.CWR, "CWR"}} {
		if f&x.f != 0 {
			names = append(names, x.n)
		}
	}
	if len(names) == 0 {
		return "(no flags)"
	}
	return strings.Join(names, ",")
}

// ladderRows works out each segment's label and notes.
func ladderRows(segs []capture.Segment, client netip.AddrPort) []ladderRow {
	rows := make([]ladderRow, len(segs))
	var st [2]ladderState // 0: client, 1: server
	// finAck[d]: the row where end d first acknowledged the peer's FIN.
	finAck := [2]int{-1, -1}
	for i := range segs {
		s := &segs[i]
		d := 1
		if s.Src == client {
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
		r.label = ladderFlags(s.Flags) + " seq=" + fmt.Sprint(s.Seq-me.base)
		if s.Flags.Has(capture.ACK) {
			if peer.known {
				r.label += " ack=" + fmt.Sprint(s.Ack-peer.base)
			} else {
				r.label += " ack=" + fmt.Sprint(s.Ack) + "(abs)"
			}
		}
		if s.PayloadLen > 0 {
			r.label += " len=" + fmt.Sprint(s.PayloadLen)
		}
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
func ladderDelta(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("+%.3fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("+%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("+%dµs", d.Microseconds())
	}
}

// arrow draws a label on an arrow of the given width, pointing right or left.
func arrow(label string, width int, right bool) string {
	inner := width - 2 // between the two bars
	body := " " + label + " "
	dashes := max(2, inner-1-len([]rune(body)))
	left := dashes / 2
	rightDashes := dashes - left
	if right {
		return "|" + strings.Repeat("-", left) + body + strings.Repeat("-", rightDashes) + ">|"
	}
	return "|<" + strings.Repeat("-", left) + body + strings.Repeat("-", rightDashes) + "|"
}

// writeLadder draws connection ci of the document from the segments the second pass kept.
func writeLadder(w io.Writer, doc *Document, ci int, ev *connEvidence) {
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
	vlan := analyzer.PlaceText(c.VLAN, c.Tunnel)
	fmt.Fprintf(w, "ladder       %s → %s #%d%s: %s (frames %d-%d, %d packets, close %s)\n",
		analyzer.EndpointString(c.Client), analyzer.EndpointString(c.Server), c.Incarnation, vlan, strings.Join(kinds, ", "), c.FirstFrame, c.LastFrame, c.Packets, c.Close)
	segs := ev.segs[ci]
	if len(segs) == 0 {
		fmt.Fprintf(w, "  (no segments)\n")
		return
	}
	rows := ladderRows(segs, c.Client)
	chooseRows(rows, evidence)
	width := 36
	for _, r := range rows {
		width = max(width, len(r.label)+8)
	}
	lead := fmt.Sprintf(" %6s %13s %10s  ", "frame", "time", "Δ")
	blank := strings.Repeat(" ", len([]rune(lead)))
	header := func(l, r string) string {
		return l + strings.Repeat(" ", max(1, width-len([]rune(l))-len([]rune(r)))) + r
	}
	fmt.Fprintf(w, "%s%s\n", lead, header("client", "server"))
	fmt.Fprintf(w, "%s%s\n", blank, header(analyzer.EndpointString(c.Client), analyzer.EndpointString(c.Server)))
	start := segs[0].Time
	var prev time.Time
	hidden, hiddenFrom, hiddenNotes := 0, uint64(0), 0
	flush := func(to uint64) {
		if hidden > 0 {
			noted := ""
			if hiddenNotes > 0 {
				noted = fmt.Sprintf(" (%d with notes: retransmissions, gaps, dup ACKs)", hiddenNotes)
			}
			fmt.Fprintf(w, "%s   ⋮ %d segment(s) not drawn, frames %d-%d%s\n", blank, hidden, hiddenFrom, to, noted)
			hidden, hiddenNotes = 0, 0
		}
	}
	var lastHidden uint64
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
		flush(lastHidden)
		delta := ""
		if i > 0 {
			delta = ladderDelta(r.seg.Time.Sub(prev))
		}
		prev = r.seg.Time
		mark := " "
		if evidence[r.seg.Frame] {
			mark = "*"
		}
		line := fmt.Sprintf("%s%6d %13.6f %10s  %s", mark, r.seg.Frame, r.seg.Time.Sub(start).Seconds(), delta, arrow(r.label, width, r.right))
		if n := r.notesText(); n != "" {
			line += "  " + n
		}
		fmt.Fprintln(w, line)
	}
	flush(lastHidden)
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

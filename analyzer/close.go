package analyzer

import (
	"github.com/finack/finack/reassembly"
)

// CloseShape names how an incarnation closed (see TEARDOWN.md, "Shapes a close takes
// on the wire"). An RST counts as the close when it came before both FINs were sent;
// an RST after both FINs leaves the FIN shape and is counted in the record's rsts.
func CloseShape(inc *reassembly.Incarnation) Shape {
	c, s := &inc.Half[reassembly.Client], &inc.Half[reassembly.Server]
	rst, _, hasRst := inc.FirstRst()
	if !c.FinSeen() && !s.FinSeen() {
		if hasRst {
			return Reset
		}
		return NoClose
	}
	if !c.FinSeen() || !s.FinSeen() {
		if hasRst {
			return Reset
		}
		return Unfinished
	}
	second := max(c.FirstFin().At, s.FirstFin().At)
	if hasRst && rst.At < second {
		return Reset
	}
	ac, as := inc.ActiveClosers()
	if ac && as {
		if !c.FinAcked.Seen() || !s.FinAcked.Seen() {
			// An end still waits in CLOSING for the ACK of its FIN (or gave up).
			return Unfinished
		}
		return Simultaneous
	}
	active, passive := c, s
	if as {
		active, passive = s, c
	}
	if !passive.FinAcked.Seen() && passive.FinCount == 1 && !hasRst && inc.End == reassembly.EndCaptureEnd {
		// The last FIN had neither an answer nor a retransmission yet: censored.
		return Unfinished
	}
	if passive.DataAfterPeerFin.Seen() {
		return HalfClose
	}
	if active.FinAcked.Frame == passive.FirstFin().Frame {
		return ThreeWay
	}
	return FourWay
}

// activeCloser names the end(s) that closed first.
func activeCloser(inc *reassembly.Incarnation) string {
	c, s := inc.ActiveClosers()
	return pairName(c, s)
}

func pairName(c, s bool) string {
	switch {
	case c && s:
		return "both"
	case c:
		return "client"
	case s:
		return "server"
	}
	return "none"
}

package reassembly

// History is a compact record of what happened on an incarnation, in the spirit of
// Zeek's conn.log history: one letter per kind of event, the first time it happens
// in each direction, upper case for the client and lower case for the server, in the
// order seen. Zeek's letters keep their meaning; finack adds the teardown events Zeek
// cannot show.
//
//	S  a SYN without ACK
//	H  a SYN-ACK
//	A  a pure ACK (no data, no SYN/FIN/RST)
//	D  a segment with payload
//	T  a retransmitted segment with payload (nothing beyond what was sent before)
//	W  a zero window advertised
//	Q  a SYN together with FIN or RST
//	F  a FIN (its first transmission)
//	R  an RST
//	N  a FIN sent again (a FIN retransmission)            finack, not Zeek
//	L  an ACK of the peer's FIN (the final ACK, when it
//	   comes from the active closer)                        finack
//	X  an ACK refusing a SYN (a TIME_WAIT holder's ACK of
//	   the old connection)                                  finack
//	Z  a stale segment: it arrived after a newer incarnation
//	   had taken the 4-tuple (recorded on the old one)      finack
//	J  a late segment reaching a peer in TIME_WAIT          finack
//	K  an RST reaching a peer in TIME_WAIT                  finack
//	O  a segment out of the window: its ACK acknowledges
//	   nothing of this incarnation and it fits no earlier
//	   one (counted, never taken as data)                   finack
//	E  a segment the client in SYN-SENT could not take
//	   (a FIN, or an RST with a wrong timestamp echo,
//	   before any SYN-ACK: injected); the client's RST
//	   answering it is an R                                 finack
type History struct {
	buf  [32]byte
	n    uint8
	seen [2]uint32 // per role, a bit per letter
}

// Letters of the history, by event.
const (
	HistSYN      = 'S'
	HistSYNACK   = 'H'
	HistACK      = 'A'
	HistData     = 'D'
	HistRetrans  = 'T'
	HistZeroWin  = 'W'
	HistMulti    = 'Q'
	HistFIN      = 'F'
	HistRST      = 'R'
	HistFINAgain = 'N'
	HistFinalACK = 'L'
	HistRefusal  = 'X'
	HistStale    = 'Z'
	HistLate     = 'J'
	HistRSTInTW  = 'K'
	HistOutOfWin = 'O'
	HistInjected = 'E'
)

// mark records letter c for role r if it is the first of its kind in that direction.
func (h *History) mark(r Role, c byte) {
	bit := uint32(1) << (c - 'A')
	if h.seen[r]&bit != 0 || int(h.n) == len(h.buf) {
		return
	}
	h.seen[r] |= bit
	if r == Server {
		c += 'a' - 'A'
	}
	h.buf[h.n] = c
	h.n++
}

// String returns the history.
func (h *History) String() string { return string(h.buf[:h.n]) }

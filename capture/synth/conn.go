package synth

import (
	"net/netip"
	"time"

	"github.com/finack/finack/capture"
)

// Conn writes one TCP connection's packets, tracking each side's sequence number,
// what it acknowledges, IP IDs and timestamp options, on a clock that advances by
// Gap after every packet (Wait adds more). Every peer is assumed to have received
// all the other side sent: for loss, reordering or stale segments, emit packets
// with Send and patch the fields, or set CNext/SNext directly.
type Conn struct {
	Client, Server netip.AddrPort
	Now            time.Time     // time of the next packet
	Gap            time.Duration // clock advance after each packet (NewConn: 1 ms)
	TS             bool          // send TCP timestamps (NewConn: true)
	Window         uint16        // advertised window (NewConn: 64240)
	VLAN           []uint16      // VLAN tags of every packet
	VLANTPID       uint16        // outer TPID override (see Packet.VLANTPID)
	Ext6           []uint8       // IPv6 extension headers of every packet
	AF             uint32        // Null/Loop address family override
	// Interfaces on which each direction is captured (pcapng).
	ClientIface, ServerIface int
	ClientTTL, ServerTTL     uint8

	// CNext and SNext are the next sequence numbers client and server send.
	CNext, SNext uint32
	// IP IDs of the next client and server packets (incremented per packet).
	CIPID, SIPID uint16

	start        time.Time
	cTSv, sTSv   uint32 // last TSval sent by each side
	cBase, sBase uint32 // TSval clock offsets
}

// NewConn starts a connection between client and server with the given initial
// sequence numbers; the first packet is at start.
func NewConn(client, server netip.AddrPort, clientISN, serverISN uint32, start time.Time) *Conn {
	return &Conn{
		Client: client, Server: server,
		Now: start, Gap: time.Millisecond, TS: true, Window: 64240,
		CNext: clientISN, SNext: serverISN,
		CIPID: uint16(clientISN), SIPID: uint16(serverISN >> 16),
		start: start,
		cBase: clientISN ^ 0x5a5a5a5a, sBase: serverISN ^ 0xa5a5a5a5,
	}
}

// Wait advances the clock by d.
func (c *Conn) Wait(d time.Duration) *Conn {
	c.Now = c.Now.Add(d)
	return c
}

// Send emits a packet from the client (fromClient) or the server with the given
// flags and payload length, at the current sequence numbers, and advances the
// sender's sequence number (SYN and FIN count one) and the clock. The
// acknowledgment number is the peer's next sequence number when ACK is set.
func (c *Conn) Send(fromClient bool, flags capture.Flags, payload int) Packet {
	p := Packet{
		Time: c.Now, Flags: flags, Window: c.Window, Payload: payload,
		VLAN: c.VLAN, VLANTPID: c.VLANTPID, Ext6: c.Ext6, AF: c.AF,
	}
	ms := uint32(c.Now.Sub(c.start) / time.Millisecond)
	if fromClient {
		p.Src, p.Dst, p.Seq, p.Interface, p.TTL = c.Client, c.Server, c.CNext, c.ClientIface, c.ClientTTL
		p.IPID = c.CIPID
		c.CIPID++
		if flags&capture.ACK != 0 {
			p.Ack = c.SNext
		}
		if c.TS {
			c.cTSv = c.cBase + ms
			p.HasTS, p.TSval, p.TSecr = true, c.cTSv, c.sTSv
		}
		c.CNext += seqLen(flags, payload)
	} else {
		p.Src, p.Dst, p.Seq, p.Interface, p.TTL = c.Server, c.Client, c.SNext, c.ServerIface, c.ServerTTL
		p.IPID = c.SIPID
		c.SIPID++
		if flags&capture.ACK != 0 {
			p.Ack = c.CNext
		}
		if c.TS {
			c.sTSv = c.sBase + ms
			p.HasTS, p.TSval, p.TSecr = true, c.sTSv, c.cTSv
		}
		c.SNext += seqLen(flags, payload)
	}
	if flags&capture.SYN != 0 {
		p.MSS, p.SACKPerm, p.HasWScale, p.WScale = 1460, true, true, 7
		if p.Src.Addr().Is6() {
			p.MSS = 1440
		}
	}
	c.Now = c.Now.Add(c.Gap)
	return p
}

func seqLen(f capture.Flags, payload int) uint32 {
	n := uint32(payload)
	if f&capture.SYN != 0 {
		n++
	}
	if f&capture.FIN != 0 {
		n++
	}
	return n
}

// Handshake emits SYN, SYN/ACK, ACK.
func (c *Conn) Handshake() []Packet {
	return []Packet{
		c.Send(true, capture.SYN, 0),
		c.Send(false, capture.SYN|capture.ACK, 0),
		c.Send(true, capture.ACK, 0),
	}
}

// Data emits a PSH/ACK with n payload bytes.
func (c *Conn) Data(fromClient bool, n int) Packet {
	return c.Send(fromClient, capture.PSH|capture.ACK, n)
}

// ACK emits a bare ACK.
func (c *Conn) ACK(fromClient bool) Packet { return c.Send(fromClient, capture.ACK, 0) }

// FIN emits a FIN/ACK.
func (c *Conn) FIN(fromClient bool) Packet { return c.Send(fromClient, capture.FIN|capture.ACK, 0) }

// RST emits a RST/ACK (RST alone when ack is false).
func (c *Conn) RST(fromClient bool, ack bool) Packet {
	if ack {
		return c.Send(fromClient, capture.RST|capture.ACK, 0)
	}
	return c.Send(fromClient, capture.RST, 0)
}

// Exchange emits a request of req bytes from the client, the server's ACK, a
// response of resp bytes and the client's ACK.
func (c *Conn) Exchange(req, resp int) []Packet {
	return []Packet{c.Data(true, req), c.ACK(false), c.Data(false, resp), c.ACK(true)}
}

// Close emits a four-way close: FIN, ACK, FIN, ACK, the first FIN from the client
// when clientFirst.
func (c *Conn) Close(clientFirst bool) []Packet {
	a := clientFirst
	return []Packet{c.FIN(a), c.ACK(!a), c.FIN(!a), c.ACK(a)}
}

// Full emits a whole connection: handshake, one exchange, four-way close.
func (c *Conn) Full(req, resp int, clientCloses bool) []Packet {
	ps := c.Handshake()
	ps = append(ps, c.Exchange(req, resp)...)
	return append(ps, c.Close(clientCloses)...)
}

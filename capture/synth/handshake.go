package synth

import (
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/finack/finack/capture"
)

// HandshakeFiles returns the generated handshake scenarios (testdata/pcaps/gen-*):
// what decides whether a SYN opens a new connection or belongs to one already on
// its 4-tuple, in shapes a kernel will not produce on demand (a late copy of a SYN,
// an injected FIN), byte for byte the same on every call.
func HandshakeFiles() ([]File, error) {
	var out []File
	for _, g := range []struct {
		name string
		gen  func() []Packet
	}{
		{"gen-late-syn-copy.pcap", genLateSynCopy},
		{"gen-syn-into-half-open.pcap", genSynIntoHalfOpen},
		{"gen-syn-retries-gave-up.pcap", genSynRetriesGaveUp},
		{"gen-simultaneous-open.pcap", genSimultaneousOpen},
		{"gen-injected-before-synack.pcap", genInjectedBeforeSynAck},
	} {
		b, err := pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, g.gen())
		if err != nil {
			return nil, err
		}
		out = append(out, File{g.name, b})
	}
	return out, nil
}

// genLateSynCopy: two Linux connections that the client closes first (it holds
// TIME_WAIT), each followed by a late copy of its own SYN, delayed in the network
// (the same bytes, the ISN the SYN-ACK acknowledged): an old duplicate of the
// connection, a late segment on its 4-tuple in TIME_WAIT, not a new connection. On
// the first 4-tuple the capture began after the SYN (the SYN-ACK is its first
// frame); on the second the SYN was captured.
func genLateSynCopy() []Packet {
	var all [][]Packet
	for i, port := range []string{"41100", "41101"} {
		c := NewConn(ap("192.0.2.1:"+port), ap("192.0.2.10:80"), 100000, 70000, at(time.Duration(i)*10*time.Second))
		syn := c.Send(true, capture.SYN, 0)
		ps := []Packet{syn}
		if i == 0 {
			ps = nil // not captured
		}
		ps = append(ps, c.Send(false, capture.SYN|capture.ACK, 0), c.ACK(true))
		ps = append(ps, c.Exchange(200, 500)...)
		ps = append(ps, c.Close(true)...)
		late := syn
		late.Time = c.Now.Add(2 * time.Second)
		all = append(all, append(ps, late))
	}
	return merge(all...)
}

// genSynIntoHalfOpen: a Linux client's SYN is answered by a SYN-ACK that never
// reaches it (lost downstream of the tap): the server holds a half-open attempt
// (SYN_RECV) and repeats its SYN-ACK after 1 s. At 3 s the client's application
// connects again from the same port, with a new ISN; the server's SYN-ACK timer
// fires as that SYN arrives (its SYN-ACK of the first attempt crosses it), and the
// request socket answers the out-of-window SYN with an ACK of the first attempt
// (Linux tcp_check_req). The client rejects both with an RST, which drops the
// request; its SYN retransmitted 10 ms later (Linux re-arms the timer at two
// jiffies after such an ACK) is accepted. No TIME_WAIT anywhere: the refusal is the
// half-open attempt's, and the repeated SYN-ACK belongs to that attempt.
func genSynIntoHalfOpen() []Packet {
	cl, sv := ap("192.0.2.1:41200"), ap("192.0.2.10:80")
	old := NewConn(cl, sv, 300000, 80000, at(0))
	synAck := func(t time.Time) Packet {
		p := Packet{Time: t, Src: sv, Dst: cl, Seq: 80000, Ack: 300001, Flags: capture.SYN | capture.ACK, Window: old.Window,
			MSS: 1460, SACKPerm: true, HasWScale: true, WScale: 7, HasTS: true, TSval: old.sBase + uint32(t.Sub(at(0))/time.Millisecond), TSecr: old.cBase}
		return p
	}
	ps := []Packet{old.Send(true, capture.SYN, 0), synAck(at(time.Millisecond)), synAck(at(1001 * time.Millisecond))}

	neu := NewConn(cl, sv, 900000, 500000, at(3*time.Second))
	neu.cBase = old.cBase + 3000 // the client's timestamp clock went on
	syn := neu.Send(true, capture.SYN, 0)
	ps = append(ps, syn, synAck(syn.Time.Add(20*time.Microsecond)))
	ack := Packet{Time: syn.Time.Add(50 * time.Microsecond), Src: sv, Dst: cl, Seq: 80001, Ack: 300001, Flags: capture.ACK, Window: old.Window,
		HasTS: true, TSval: old.sBase + 3000, TSecr: syn.TSval}
	rst := Packet{Time: syn.Time.Add(300 * time.Microsecond), Src: cl, Dst: sv, Seq: 300001, Flags: capture.RST}
	ps = append(ps, ack, rst)
	neu.Now = syn.Time.Add(10 * time.Millisecond)
	neu.CNext = syn.Seq // the same SYN again
	ps = append(ps, neu.Handshake()...)
	ps = append(ps, neu.Exchange(200, 500)...)
	return append(ps, neu.Close(true)...)
}

// genSynRetriesGaveUp: a Linux client with net.ipv4.tcp_syn_retries lowered to 3
// sends its SYN at 0, 1, 3 and 7 s with no answer and gives up (at 15 s); 155 s
// after its last SYN the application connects again from the same port, with a new
// ISN, and succeeds: a new connection (the next SYN of the attempt was due 8 s
// after its last one at most, and no Linux attempt lasts past 127 s). On a second
// 4-tuple a SYN with a new ISN comes 3 s after the third SYN, before the next
// retransmission was due (4 s after it): taken as a retry of the same attempt (one
// connection), as a stack that picks a new ISN per retry would send it.
func genSynRetriesGaveUp() []Packet {
	sv := ap("192.0.2.10:80")
	a := NewConn(ap("192.0.2.1:41300"), sv, 400000, 0, at(0))
	var ps []Packet
	syn := a.Send(true, capture.SYN, 0)
	for _, d := range []time.Duration{0, 1, 3, 7} {
		p := syn
		p.Time = at(d * time.Second)
		p.TSval = syn.TSval + uint32(d*1000)
		p.IPID = syn.IPID + uint16(d)
		ps = append(ps, p)
	}
	b := NewConn(a.Client, sv, 2400000, 610000, at(162*time.Second))
	b.cBase = a.cBase + 162000
	ps = append(ps, b.Full(200, 500, true)...)

	c := NewConn(ap("192.0.2.1:41301"), sv, 500000, 0, at(time.Second/2))
	syn = c.Send(true, capture.SYN, 0)
	qs := []Packet{syn}
	for _, d := range []time.Duration{1, 3} {
		p := syn
		p.Time = syn.Time.Add(d * time.Second)
		p.TSval = syn.TSval + uint32(d*1000)
		qs = append(qs, p)
	}
	d := NewConn(c.Client, sv, 7700000, 620000, syn.Time.Add(6*time.Second))
	d.cBase = c.cBase + 6000
	qs = append(qs, d.Full(200, 500, true)...)
	return merge(ps, qs)
}

// genSimultaneousOpen: two peers connect to each other at once (RFC 9293 Figure 8;
// NAT hole punching does this): A's SYN, B's SYN crossing it, A's SYN-ACK (A got
// B's SYN in SYN-SENT), B's ACK (A's bare SYN was lost downstream of the tap, and
// B, in SYN-SENT, took A's SYN-ACK: Linux's tcp_rcv_synsent_state_process), then
// data both ways and a close by A. One connection, A (the first SYN's sender) as
// the client.
func genSimultaneousOpen() []Packet {
	c := NewConn(ap("192.0.2.20:50000"), ap("192.0.2.21:50001"), 1000000, 2000000, at(0))
	synA := c.Send(true, capture.SYN, 0)
	c.Now = c.Now.Add(-800 * time.Microsecond) // B's SYN left 0.2 ms after A's
	synB := c.Send(false, capture.SYN, 0)
	synAckA := c.Send(true, capture.SYN|capture.ACK, 0)
	synAckA.Seq = synA.Seq // A's SYN again, now acknowledging B's
	c.CNext = synA.Seq + 1
	ps := []Packet{synA, synB, synAckA, c.ACK(false)}
	ps = append(ps, c.Exchange(300, 300)...)
	return append(ps, c.Close(true)...)
}

// genInjectedBeforeSynAck: a Linux client's SYN gets, before the server's SYN-ACK,
// a segment the client cannot take, as an on-path injector sends it (the forged
// segment carries the client's ISN+1 as ack and a timestamp echo the client never
// sent). On the first 4-tuple a FIN+ACK: Linux counts it as PAWSActiveRejected,
// answers with an RST (seq = its ack) and stays in SYN-SENT. On the second an
// RST+ACK: Linux drops it (the echo is checked before the RST) without answering.
// Both times the real SYN-ACK arrives 20 ms after the SYN, at the same ISN, and the
// connection runs and closes: one connection each.
func genInjectedBeforeSynAck() []Packet {
	var all [][]Packet
	for i, flags := range []capture.Flags{capture.FIN | capture.ACK, capture.RST | capture.ACK} {
		c := NewConn(ap("192.0.2.1:4140"+string(rune('0'+i))), ap("192.0.2.10:443"), 600000, 90000, at(time.Duration(i)*5*time.Second))
		syn := c.Send(true, capture.SYN, 0)
		ps := []Packet{syn}
		forged := Packet{Time: syn.Time.Add(2 * time.Millisecond), Src: c.Server, Dst: c.Client, Seq: 123456789, Ack: syn.Seq + 1,
			Flags: flags, Window: 1024, HasTS: true, TSval: 1, TSecr: syn.TSval - 100000, IPID: 4242, TTL: 52}
		ps = append(ps, forged)
		if flags&capture.RST == 0 {
			ps = append(ps, Packet{Time: forged.Time.Add(40 * time.Microsecond), Src: c.Client, Dst: c.Server, Seq: forged.Ack, Flags: capture.RST, IPID: 0})
		}
		c.Now = syn.Time.Add(20 * time.Millisecond)
		ps = append(ps, c.Send(false, capture.SYN|capture.ACK, 0), c.ACK(true))
		ps = append(ps, c.Exchange(200, 500)...)
		all = append(all, append(ps, c.Close(true)...))
	}
	return merge(all...)
}

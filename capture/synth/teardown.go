package synth

import (
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/finack/finack/capture"
)

// TeardownFiles returns the generated teardown scenarios (testdata/pcaps/gen-*): the
// closes and reuses a Linux kernel will not produce on demand between two network
// namespaces, written packet by packet, byte for byte the same on every call.
func TeardownFiles() ([]File, error) {
	var out []File
	for _, g := range []struct {
		name string
		gen  func() []Packet
	}{
		{"gen-first-fin-unacked.pcap", genFirstFinUnacked},
		{"gen-reuse-lower-isn-no-ts.pcap", genReuseLowerISNNoTS},
		{"gen-reuse-timestamps.pcap", genReuseTimestamps},
		{"gen-reuse-by-holder.pcap", genReuseByHolder},
		{"gen-reuse-answers.pcap", genReuseAnswers},
		{"gen-seq-wrap.pcap", genSeqWrap},
		{"gen-stale-segments.pcap", genStaleSegments},
		{"gen-stale-earlier-incarnations.pcap", genStaleEarlierIncarnations},
		{"gen-late-and-rst-in-time-wait.pcap", genLateAndRSTInTimeWait},
		{"gen-reuse-ts-backwards.pcap", genReuseTSBackwards},
		{"gen-silent-closer.pcap", genSilentCloser},
		{"gen-simultaneous-close-tail.pcap", genSimultaneousCloseTail},
		{"gen-bsd-fin-on-ack.pcap", genBSDFinOnAck},
		{"gen-final-ack-second-ack.pcap", genFinalAckSecondAck},
		{"gen-simultaneous-unacked.pcap", genSimultaneousUnacked},
		{"gen-loopback-fin-copies.pcap", genLoopbackFinCopies},
	} {
		b, err := pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, g.gen())
		if err != nil {
			return nil, err
		}
		out = append(out, File{g.name, b})
	}
	return out, nil
}

// backoff emits the same FIN again at Linux-like exponential intervals (200 ms
// doubling), n retransmissions after the first transmission fin.
func backoff(c *Conn, fin Packet, n int) []Packet {
	var ps []Packet
	rto := 200 * time.Millisecond
	t := fin.Time
	for i := 0; i < n; i++ {
		t = t.Add(rto)
		p := fin
		p.Time = t
		if p.HasTS {
			p.TSval += uint32(t.Sub(fin.Time) / time.Millisecond)
		}
		ps = append(ps, p)
		rto *= 2
	}
	c.Now = t.Add(c.Gap)
	return ps
}

// genFirstFinUnacked: two connections whose active closer's FIN is never
// acknowledged (FIN_WAIT_1). The first gives up with an RST after four
// retransmissions; the second is still retransmitting when the capture ends.
func genFirstFinUnacked() []Packet {
	a := NewConn(ap("192.0.2.1:41001"), ap("192.0.2.10:8080"), 11000, 51000, at(0))
	ps := a.Handshake()
	ps = append(ps, a.Exchange(120, 300)...)
	fin := a.FIN(true)
	ps = append(ps, fin)
	ps = append(ps, backoff(a, fin, 4)...)
	a.Wait(3200 * time.Millisecond)
	ps = append(ps, a.RST(true, true))

	b := NewConn(ap("192.0.2.2:41002"), ap("192.0.2.10:8080"), 12000, 52000, at(100*time.Millisecond))
	qs := b.Handshake()
	qs = append(qs, b.Exchange(120, 300)...)
	fin = b.FIN(false)
	qs = append(qs, fin)
	qs = append(qs, backoff(b, fin, 5)...)
	return merge(ps, qs)
}

// genReuseLowerISNNoTS: the server closes first and holds TIME_WAIT; 5 s later the
// client reconnects from the same port with an ISN below the old connection's
// sequence space and no timestamps, and a host that does not check (not Linux, which
// would answer with an ACK of the old connection: see reuse-refused.pcap) accepts
// it: an unsafe reuse.
func genReuseLowerISNNoTS() []Packet {
	c, s := ap("192.0.2.1:40100"), ap("192.0.2.10:80")
	old := NewConn(c, s, 3000000, 70000, at(0))
	old.TS = false
	ps := old.Handshake()
	ps = append(ps, old.Exchange(1000, 2000)...)
	ps = append(ps, old.Close(false)...)
	neu := NewConn(c, s, 1000, 90000, old.Now.Add(5*time.Second))
	neu.TS = false
	ps = append(ps, neu.Full(100, 200, true)...)
	return ps
}

// genReuseTimestamps: like genReuseLowerISNNoTS, but both incarnations use TCP
// timestamps and the new SYN's TSval is newer: safe by RFC 6191 although the ISN is
// lower. A third incarnation comes 61 s after the second closed: past TIME_WAIT, no
// finding.
func genReuseTimestamps() []Packet {
	c, s := ap("192.0.2.1:40200"), ap("192.0.2.10:80")
	old := NewConn(c, s, 3000000, 70000, at(0))
	ps := old.Handshake()
	ps = append(ps, old.Exchange(1000, 2000)...)
	ps = append(ps, old.Close(false)...)
	neu := NewConn(c, s, 1000, 90000, old.Now.Add(2*time.Second))
	neu.cBase = old.cBase + 2000 // the client's 1 ms timestamp clock went on
	ps = append(ps, neu.Full(100, 200, false)...)
	third := NewConn(c, s, 500, 95000, neu.Now.Add(61*time.Second))
	ps = append(ps, third.Full(100, 200, true)...)
	return ps
}

// genReuseByHolder: the client closes first and so holds TIME_WAIT, then sends a
// SYN from the same port 3 s later: the TIME_WAIT holder reused its own 4-tuple (port
// reuse settings, or a second host behind the same NAT address: here the TTL and IP
// ID do not continue).
func genReuseByHolder() []Packet {
	c, s := ap("192.0.2.1:40300"), ap("192.0.2.10:443")
	old := NewConn(c, s, 100000, 70000, at(0))
	old.ClientTTL = 64
	ps := old.Handshake()
	ps = append(ps, old.Exchange(200, 4000)...)
	ps = append(ps, old.Close(true)...)
	neu := NewConn(c, s, 900000, 80000, old.Now.Add(3*time.Second))
	neu.ClientTTL = 128
	neu.CIPID = 7
	ps = append(ps, neu.Full(200, 4000, true)...)
	return ps
}

// genReuseAnswers: three reuses within TIME_WAIT on three 4-tuples, answered by an
// RST, not answered at all, and accepted with an ISN that is exactly beyond the old
// sequence space.
func genReuseAnswers() []Packet {
	s := ap("192.0.2.10:80")
	var all [][]Packet
	for i, answer := range []string{"rst", "none", "accept"} {
		c := ap("192.0.2.1:4040" + string(rune('0'+i)))
		old := NewConn(c, s, 100000, 70000, at(time.Duration(i)*10*time.Second))
		ps := old.Handshake()
		ps = append(ps, old.Exchange(100, 100)...)
		ps = append(ps, old.Close(false)...)
		neu := NewConn(c, s, old.CNext+1, 90000, old.Now.Add(time.Second))
		ps = append(ps, neu.Send(true, capture.SYN, 0))
		switch answer {
		case "rst":
			neu.Send(false, capture.RST|capture.ACK, 0)
			p := neu.Send(false, capture.RST|capture.ACK, 0)
			p.Seq, p.Ack = 0, neu.CNext
			ps = append(ps, p)
		case "accept":
			ps = append(ps, neu.Send(false, capture.SYN|capture.ACK, 0), neu.ACK(true))
			ps = append(ps, neu.Exchange(100, 100)...)
			ps = append(ps, neu.Close(true)...)
		}
		all = append(all, ps)
	}
	return merge(all...)
}

// genSeqWrap: a close whose FIN sequence numbers straddle the 2^32 wrap, with a lost
// final ACK: serial arithmetic must still match the ACKs to the FINs.
func genSeqWrap() []Packet {
	c := NewConn(ap("192.0.2.1:40500"), ap("192.0.2.10:80"), 0xffffff00, 0xfffffff0, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(300, 100)...)
	ps = append(ps, c.FIN(true), c.ACK(false))
	fin := c.FIN(false)
	ps = append(ps, fin)
	ps = append(ps, backoff(c, fin, 2)...)
	ps = append(ps, c.ACK(true))
	return ps
}

// genStaleSegments: the server closes first and holds TIME_WAIT; 2 s later the client
// reuses its port (higher ISN, accepted). While the new connection runs, a delayed
// copy of an old data segment and a replay of the old client FIN arrive: both fit
// the old incarnation's sequence space, not the new one's (stale segments).
func genStaleSegments() []Packet {
	c, s := ap("192.0.2.1:40600"), ap("192.0.2.10:80")
	old := NewConn(c, s, 100000, 70000, at(0))
	ps := old.Handshake()
	data := old.Data(true, 500)
	ps = append(ps, data, old.ACK(false))
	ps = append(ps, old.Data(false, 1000), old.ACK(true))
	ps = append(ps, old.FIN(false))
	oldFin := old.FIN(true)
	ps = append(ps, oldFin, old.ACK(false))
	neu := NewConn(c, s, 900000, 800000, old.Now.Add(2*time.Second))
	neu.cBase, neu.sBase = old.cBase+2000, old.sBase+2000 // the same hosts: their clocks went on
	ps = append(ps, neu.Handshake()...)
	ps = append(ps, neu.Data(true, 300), neu.ACK(false))
	stale := data
	stale.Time = neu.Now
	ps = append(ps, stale)
	neu.Wait(500 * time.Millisecond)
	ps = append(ps, neu.Data(false, 700), neu.ACK(true))
	replay := oldFin
	replay.Time = neu.Now
	ps = append(ps, replay)
	neu.Wait(time.Millisecond)
	ps = append(ps, neu.Close(true)...)
	return ps
}

// reuseFromTimeWait starts the next incarnation of old's 4-tuple after a pause,
// as two Linux hosts make it when the server holds TIME_WAIT and takes the client's
// SYN (tcp_timewait_state_process): the server's ISN is its old snd_nxt + 65537, the
// client's ISN has moved on by clientStep (Linux's ISN clock runs at about 16 per
// microsecond), and both timestamp clocks go on (1 ms).
func reuseFromTimeWait(old *Conn, pause time.Duration, clientStep uint32) *Conn {
	start := old.Now.Add(pause)
	neu := NewConn(old.Client, old.Server, old.CNext+clientStep, old.SNext+65537, start)
	ms := uint32(start.Sub(old.start) / time.Millisecond)
	neu.cBase, neu.sBase = old.cBase+ms, old.sBase+ms
	neu.CIPID, neu.SIPID = old.CIPID, old.SIPID
	return neu
}

// genStaleEarlierIncarnations: four incarnations of one 4-tuple within 7 s, each
// closed first by the server (which holds TIME_WAIT) and reused 2 s later from
// TIME_WAIT, Linux-style (reuseFromTimeWait). While the third runs, a delayed copy
// of the first incarnation's client data and one of the second's server data
// arrive, and a client segment whose ACK acknowledges nothing the server sent in
// any incarnation (a blind or corrupted segment); while the fourth runs, a replay of
// the first incarnation's server FIN. Each old copy fits the sequence space of the
// incarnation it came from, not the current one's, and must be attributed to it,
// however many incarnations ago; the blind segment fits none and is no data of the
// current one.
func genStaleEarlierIncarnations() []Packet {
	c1 := NewConn(ap("192.0.2.1:40900"), ap("192.0.2.10:80"), 1000000, 70000, at(0))
	ps := c1.Handshake()
	data1 := c1.Data(true, 300)
	ps = append(ps, data1, c1.ACK(false), c1.Data(false, 1000), c1.ACK(true))
	fin1 := c1.FIN(false)
	ps = append(ps, fin1, c1.ACK(true), c1.FIN(true), c1.ACK(false))

	c2 := reuseFromTimeWait(c1, 2*time.Second, 30000000)
	ps = append(ps, c2.Handshake()...)
	ps = append(ps, c2.Data(true, 200), c2.ACK(false))
	data2 := c2.Data(false, 1400)
	ps = append(ps, data2, c2.ACK(true))
	ps = append(ps, c2.Close(false)...)

	c3 := reuseFromTimeWait(c2, 2*time.Second, 30000000)
	ps = append(ps, c3.Handshake()...)
	ps = append(ps, c3.Data(true, 100), c3.ACK(false))
	stale1 := data1
	stale1.Time = c3.Now
	ps = append(ps, stale1)
	c3.Wait(100 * time.Millisecond)
	stale2 := data2
	stale2.Time = c3.Now
	ps = append(ps, stale2)
	c3.Wait(100 * time.Millisecond)
	blind := c3.Data(true, 200)
	c3.CNext -= 200                       // the server drops it: nothing it acknowledges
	blind.Ack = c3.SNext + 1<<30          // beyond anything the server ever sent
	ps = append(ps, blind, c3.ACK(false)) // the server's answer: an ACK of what it has
	ps = append(ps, c3.Data(false, 800), c3.ACK(true))
	ps = append(ps, c3.Close(false)...)

	c4 := reuseFromTimeWait(c3, 2*time.Second, 30000000)
	ps = append(ps, c4.Handshake()...)
	ps = append(ps, c4.Data(true, 100), c4.ACK(false))
	replay := fin1
	replay.Time = c4.Now
	ps = append(ps, replay)
	c4.Wait(100 * time.Millisecond)
	ps = append(ps, c4.Close(true)...)
	return ps
}

// genLateAndRSTInTimeWait: the client closes first and holds TIME_WAIT. 2 s later a
// late data segment from the server reaches it; 5 s later an RST from the server
// ends the TIME_WAIT early (on a host without RFC 1337 protection).
func genLateAndRSTInTimeWait() []Packet {
	c := NewConn(ap("192.0.2.1:40700"), ap("192.0.2.10:80"), 100000, 70000, at(0))
	ps := c.Handshake()
	late := c.Data(false, 400)
	ps = append(ps, late, c.ACK(true))
	ps = append(ps, c.Close(true)...)
	late.Time = c.Now.Add(2 * time.Second)
	ps = append(ps, late)
	c.Wait(5 * time.Second)
	ps = append(ps, c.RST(false, false))
	return ps
}

// genReuseTSBackwards: the server holds TIME_WAIT; a SYN from the client's address and
// port arrives 4 s later with a lower ISN and a TSval far below the old connection's
// (another host behind the same NAT address, its timestamp clock unrelated), and the
// server, not checking, accepts it: unsafe, with NAT evidence.
func genReuseTSBackwards() []Packet {
	c, s := ap("192.0.2.1:40800"), ap("192.0.2.10:80")
	old := NewConn(c, s, 5000000, 70000, at(0))
	ps := old.Handshake()
	ps = append(ps, old.Exchange(200, 300)...)
	ps = append(ps, old.Close(false)...)
	neu := NewConn(c, s, 1000, 90000, old.Now.Add(4*time.Second))
	neu.cBase = old.cBase - 1000000
	ps = append(ps, neu.Full(200, 300, true)...)
	return ps
}

// AllFiles returns every generated capture: the format and link-type files (Files),
// the teardown scenarios (TeardownFiles), the hostile traffic (HostileFiles) and the
// handshake scenarios (HandshakeFiles).
func AllFiles() ([]File, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	more, err := TeardownFiles()
	if err != nil {
		return nil, err
	}
	hostile, err := HostileFiles()
	if err != nil {
		return nil, err
	}
	handshake, err := HandshakeFiles()
	if err != nil {
		return nil, err
	}
	return append(append(append(files, more...), hostile...), handshake...), nil
}

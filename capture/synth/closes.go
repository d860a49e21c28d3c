package synth

import (
	"time"
)

const us = time.Microsecond

// genSilentCloser: the client closes first (Linux) and its FIN is acknowledged;
// then nothing more comes from it. The server keeps the connection half open and
// sends its FIN 90 s later, after the client's orphaned FIN_WAIT_2 ran out
// (tcp_fin_timeout, 60 s): Linux retransmits the FIN with backoff six times, gets
// no answer, and ends it with an RST. The client never acknowledged the server's
// FIN, so it never entered TIME_WAIT: nothing reaches it there.
func genSilentCloser() []Packet {
	c := NewConn(ap("192.0.2.1:41100"), ap("192.0.2.10:8080"), 21000, 61000, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	ps = append(ps, c.FIN(true), c.ACK(false))
	c.Wait(90 * time.Second)
	fin := c.FIN(false)
	ps = append(ps, fin)
	ps = append(ps, backoff(c, fin, 6)...)
	c.Wait(10 * time.Second)
	ps = append(ps, c.RST(false, true))
	return ps
}

// genSimultaneousCloseTail: the tail of the exchange that creates TIME_WAIT, on
// Linux. A simultaneous close whose FINs cross and whose final ACKs follow 10 and
// 24 µs later, the client's final ACK repeated 2 ms later (its answer to the
// server's ACK): none of it is late. 3 s later an old copy of the server's data
// reaches both TIME_WAIT holders: that one is late. A second connection closes
// four-way; the server, in LAST_ACK, sends its FIN again and the client in TIME_WAIT
// answers it: the answer is not late either.
func genSimultaneousCloseTail() []Packet {
	c := NewConn(ap("192.0.2.1:41200"), ap("192.0.2.10:80"), 31000, 71000, at(0))
	ps := c.Handshake()
	data := c.Data(false, 400)
	ps = append(ps, c.Data(true, 100), data, c.ACK(true))
	c.Gap = 0
	cfin := c.FIN(true)
	c.Wait(5 * us)
	sfin := c.FIN(false)
	sfin.Ack = cfin.Seq // crossed: sent before the client's FIN arrived
	c.Wait(5 * us)
	cack := c.ACK(true)
	c.Wait(14 * us)
	sack := c.ACK(false)
	c.Wait(2 * time.Millisecond)
	again := c.ACK(true)
	ps = append(ps, cfin, sfin, cack, sack, again)
	late := data
	late.Time = c.Now.Add(3 * time.Second)
	ps = append(ps, late)

	d := NewConn(ap("192.0.2.1:41201"), ap("192.0.2.10:80"), 32000, 72000, at(10*time.Millisecond))
	qs := d.Handshake()
	qs = append(qs, d.Exchange(100, 200)...)
	qs = append(qs, d.FIN(true), d.ACK(false))
	fin := d.FIN(false)
	qs = append(qs, fin, d.ACK(true))
	d.Wait(200 * time.Millisecond)
	fin.Time = d.Now
	qs = append(qs, fin, d.ACK(true))
	return merge(ps, qs)
}

// genBSDFinOnAck: a simultaneous close between two FreeBSD/macOS hosts. While its
// FIN is unacknowledged such a stack sets FIN on every segment it sends, so each
// end's ACK of the other's FIN carries its FIN again, microseconds after that FIN,
// the acknowledgement advanced past it. Nothing was lost.
func genBSDFinOnAck() []Packet {
	c := NewConn(ap("192.0.2.1:41300"), ap("192.0.2.10:80"), 41000, 81000, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	c.Gap = 0
	cfin := c.FIN(true)
	c.Wait(3 * us)
	sfin := c.FIN(false)
	sfin.Ack = cfin.Seq // crossed
	c.Wait(40 * us)
	cfin2 := c.FIN(true) // the ACK of the server's FIN, FIN set again
	cfin2.Seq = cfin.Seq
	c.CNext = cfin.Seq + 1
	c.Wait(6 * us)
	sfin2 := c.FIN(false)
	sfin2.Seq = sfin.Seq
	c.SNext = sfin.Seq + 1
	return append(ps, cfin, sfin, cfin2, sfin2)
}

// genFinalAckSecondAck: the server's FIN (Linux, passive closer) is sent again
// 17 ms later; the client's ACK comes at +27 ms and a second one at +76 ms (its
// TIME_WAIT answering the copy). LAST_ACK ended at the first. A second connection:
// the server's FIN is ACKed at the tap and sent again 0.3 ms after that ACK, sooner
// than the ACK could reach the server (round trip from the tap 1 ms): the stack
// re-sent it, nothing was lost, no final ACK is missing.
func genFinalAckSecondAck() []Packet {
	c := NewConn(ap("192.0.2.1:41400"), ap("192.0.2.10:80"), 51000, 91000, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	ps = append(ps, c.FIN(true), c.ACK(false))
	c.Gap = 0
	fin := c.FIN(false)
	again := fin
	again.Time = fin.Time.Add(17 * time.Millisecond)
	again.TSval += 17
	c.Now = fin.Time.Add(27 * time.Millisecond)
	ack1 := c.ACK(true)
	c.Now = fin.Time.Add(76 * time.Millisecond)
	ack2 := c.ACK(true)
	ps = append(ps, fin, again, ack1, ack2)

	d := NewConn(ap("192.0.2.1:41401"), ap("192.0.2.10:80"), 52000, 92000, at(time.Second))
	qs := d.Handshake()
	qs = append(qs, d.Exchange(100, 300)...)
	qs = append(qs, d.FIN(true), d.ACK(false))
	d.Gap = 0
	fin = d.FIN(false)
	d.Wait(200 * us)
	ack := d.ACK(true)
	d.Wait(300 * us)
	early := fin
	early.Time, early.IPID = d.Now, d.SIPID // a new IP ID, as Linux gives every segment
	qs = append(qs, fin, ack, early)
	return merge(ps, qs)
}

// genSimultaneousUnacked: a simultaneous close (Linux) in which the client's ACK of
// the server's FIN is seen but the server's ACK of the client's FIN never is: the
// client sits in CLOSING and retransmits its FIN nine times with backoff (200 ms
// doubling) until the capture ends. The close is not complete (Suricata reports it in state last_ack).
func genSimultaneousUnacked() []Packet {
	c := NewConn(ap("192.0.2.1:41500"), ap("192.0.2.10:80"), 61000, 101000, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	c.Gap = 100 * us
	cfin := c.FIN(true)
	sfin := c.FIN(false)
	sfin.Ack = cfin.Seq // crossed
	ps = append(ps, cfin, sfin, c.ACK(true))
	retry := cfin
	retry.Ack = sfin.Seq + 1
	retry.Time = cfin.Time.Add(200 * time.Millisecond)
	retry.TSval += 200
	ps = append(ps, retry)
	return append(ps, backoff(c, retry, 8)...)
}

// genLoopbackFinCopies: macOS on IPv6 loopback sends its FIN twice, byte for byte
// the same (no IP ID in IPv6, the same millisecond timestamp), 40 µs apart, and the
// server answers each copy with an ACK of its own (their timestamps differ: its
// millisecond clock ticked in between). A capture that duplicates packets would
// have duplicated the ACK as well: these copies were sent. The frames are Ethernet
// here, like the other generated teardown captures.
func genLoopbackFinCopies() []Packet {
	c := NewConn(ap("[::1]:41600"), ap("[::1]:8080"), 71000, 111000, at(0))
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	c.Now = c.Now.Add(time.Millisecond - 100*us) // 100 µs before a millisecond tick
	c.Gap = 0
	fin := c.FIN(true)
	c.Wait(40 * us)
	ack1 := c.ACK(false)
	c.Wait(20 * us)
	copy2 := fin
	copy2.Time = c.Now
	c.Wait(80 * us) // past the tick: the server's TSval moves on
	ack2 := c.ACK(false)
	c.Wait(5 * time.Millisecond)
	sfin := c.FIN(false)
	c.Wait(50 * us)
	return append(ps, fin, ack1, copy2, ack2, sfin, c.ACK(true))
}

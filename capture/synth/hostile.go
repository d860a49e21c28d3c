package synth

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/finack/finack/capture"
)

// Hostile traffic: what an attacker, a broken capture setup or a bad clock puts in a
// capture, each mixed with real-looking connections whose findings are known, so a
// test can check they survive it (testdata/pcaps/gen-hostile-*). Every file holds
// the same two real connections from 192.0.2.1 to 192.0.2.10:80 (RealConnections):
// one whose server's FIN lost its final ACK twice before the third transmission was
// acknowledged (missing_final_ack, recovered; fin_retransmit), and one clean close.

// HostileFiles returns the generated hostile captures, small enough to commit.
func HostileFiles() ([]File, error) {
	var out []File
	var b bytes.Buffer
	if err := WriteSYNFlood(&b, HostileFloodSYNs); err != nil {
		return nil, err
	}
	out = append(out, File{"gen-hostile-syn-flood.pcap", bytes.Clone(b.Bytes())})
	for _, g := range []struct {
		name string
		gen  func() ([]byte, error)
	}{
		{"gen-hostile-rst-scan.pcap", genRSTScan},
		{"gen-hostile-seq-wrap.pcap", genHostileSeqWrap},
		{"gen-hostile-time-backwards.pcap", genTimeBackwards},
		{"gen-hostile-duplicated.pcapng", genDuplicated},
		{"gen-hostile-snaplen-options.pcapng", genSnaplenOptions},
		{"gen-hostile-escapes.pcapng", genEscapes},
	} {
		data, err := g.gen()
		if err != nil {
			return nil, err
		}
		out = append(out, File{g.name, data})
	}
	return out, nil
}

// HostileFloodSYNs is the number of spoofed SYNs in gen-hostile-syn-flood.pcap.
const HostileFloodSYNs = 200

// HostileServer is the server every hostile capture's real connections talk to.
var HostileServer = ap("192.0.2.10:80")

// RealConnections returns the two real connections of the hostile captures,
// starting at start, client ports 40700 and 40701 (or, with v6, the same on
// 2001:db8::1 to [2001:db8::10]:80): packets, in time order.
//
//   - port 40700: handshake, one exchange, the client closes; the server's FIN is
//     sent three times (200 and 400 ms apart) before the client's final ACK comes:
//     four_way, client closer and TIME_WAIT holder; missing_final_ack recovered
//     and fin_retransmit (fin_or_ack_lost) by the server.
//   - port 40701: the same exchange and a clean close by the server.
func RealConnections(start time.Time, v6 bool) []Packet {
	c, s := ap("192.0.2.1:40700"), HostileServer
	c2 := ap("192.0.2.1:40701")
	if v6 {
		c, s, c2 = ap("[2001:db8::1]:40700"), ap("[2001:db8::10]:80"), ap("[2001:db8::1]:40701")
	}
	a := NewConn(c, s, 1_000_000, 2_000_000, start)
	ps := a.Handshake()
	ps = append(ps, a.Exchange(200, 1400)...)
	ps = append(ps, a.FIN(true), a.ACK(false))
	fin := a.FIN(false)
	ps = append(ps, fin)
	ps = append(ps, backoff(a, fin, 2)...)
	ps = append(ps, a.ACK(true))

	b := NewConn(c2, s, 3_000_000, 4_000_000, start.Add(300*time.Microsecond))
	return merge(ps, b.Full(100, 300, false))
}

// rng is a small deterministic generator (splitmix64): the hostile captures must be
// the same bytes on every run and every Go version.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// spoofed returns the i-th spoofed source: an address in 198.18.0.0/15 (the
// benchmarking range) and a random-looking port, distinct for every i below 2^20
// so that flood connections never share a 4-tuple.
func spoofed(r *rng, i int) netip.AddrPort {
	a := 0xc6120000 + uint32(i%(1<<17)) // 198.18.0.0 + i mod 2^17
	port := 1024 + uint16(r.next()%8064)*8 + uint16(i>>17)
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), port)
}

// WriteSYNFlood writes a pcap (Ethernet) of n spoofed SYNs to HostileServer, 10 µs
// apart, each from its own source (spoofed), with random ISNs; the server answers
// every fourth with a SYN-ACK that nobody acknowledges (a half-open connection).
// The real connections (RealConnections) start after the first quarter of the
// flood. It streams: a flood of millions costs no memory to write.
func WriteSYNFlood(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw, err := NewPcapWriter(bw, layers.LinkTypeEthernet, PcapOptions{})
	if err != nil {
		return err
	}
	start := at(time.Hour)
	real := RealConnections(start.Add(time.Duration(n/4)*10*time.Microsecond), false)
	r := rng(1)
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * 10 * time.Microsecond)
		for len(real) > 0 && real[0].Time.Before(t) {
			if err := pw.WritePacket(real[0]); err != nil {
				return err
			}
			real = real[1:]
		}
		src := spoofed(&r, i)
		isn := uint32(r.next())
		syn := Packet{Time: t, Src: src, Dst: HostileServer, Seq: isn, Flags: capture.SYN, Window: 1024,
			IPID: uint16(r.next()), TTL: uint8(32 + r.next()%200), MSS: 1460}
		if err := pw.WritePacket(syn); err != nil {
			return err
		}
		if i%4 == 3 {
			sa := Packet{Time: t.Add(2 * time.Microsecond), Src: HostileServer, Dst: src, Seq: uint32(r.next()), Ack: isn + 1,
				Flags: capture.SYN | capture.ACK, Window: 64240, MSS: 1460, SACKPerm: true, HasWScale: true, WScale: 7}
			if err := pw.WritePacket(sa); err != nil {
				return err
			}
		}
	}
	for _, p := range real {
		if err := pw.WritePacket(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// genRSTScan: 200 RSTs (every other one with ACK) from spoofed sources to random
// ports of HostileServer's address, with random numbers, 100 µs apart, around the
// real connections. Each is a connection of its own, closed by reset, roles
// guessed. And 20 blind RSTs into the real connections' 4-tuples, both ways, while
// they are open, at sequence numbers far from theirs: receivers drop them (RFC 5961),
// and the real connections close as they would without them.
func genRSTScan() ([]byte, error) {
	start := at(2 * time.Hour)
	r := rng(2)
	var ps []Packet
	for i := 0; i < 200; i++ {
		dst := netip.AddrPortFrom(HostileServer.Addr(), uint16(1+r.next()%65535))
		p := Packet{Time: start.Add(time.Duration(i) * 100 * time.Microsecond), Src: spoofed(&r, i), Dst: dst,
			Seq: uint32(r.next()), Flags: capture.RST, IPID: uint16(r.next()), TTL: 50}
		if i%2 == 1 {
			p.Flags |= capture.ACK
			p.Ack = uint32(r.next())
		}
		ps = append(ps, p)
	}
	real := RealConnections(start.Add(5*time.Millisecond), false)
	// Blind RSTs into the real connections while they are open, both ways, with
	// sequence numbers an attacker guesses (kept away from the real ones, which
	// are near 1e6 and 2e6, so that none lands in the window by chance).
	first, fin := real[3].Time, real[len(real)-1].Time // after both handshakes, before the first FIN
	for _, p := range real {
		if p.Flags&capture.FIN != 0 {
			fin = p.Time
			break
		}
	}
	for i := 0; i < 20; i++ {
		c := ap("192.0.2.1:40700")
		if i%4 >= 2 {
			c = ap("192.0.2.1:40701")
		}
		from, to := c, HostileServer
		if i%2 == 1 {
			from, to = HostileServer, c
		}
		seq := uint32(r.next())
		if seq < 1<<23 {
			seq |= 1 << 31
		}
		ps = append(ps, Packet{Time: first.Add(time.Duration(1+i) * (fin.Sub(first) / 22)), Src: from, Dst: to,
			Seq: seq, Flags: capture.RST, IPID: uint16(r.next()), TTL: 50})
	}
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, merge(ps, real))
}

// genHostileSeqWrap: the real connections with ISNs that put every boundary on the
// 2^32 wrap, plus three more on ports 40702-40704:
//
//   - the real lost-final-ACK connection: client ISN 2^32-1 (its SYN takes the last
//     number, its data starts at 0); server ISN chosen so that its FIN occupies
//     sequence number 2^32-1 exactly and the final ACK acknowledges 0;
//   - the real clean connection: client data running across the wrap;
//   - 40702: a connection closed by the server (TIME_WAIT held by it), then a new
//     SYN 2 s later from the same port whose ISN is past the old sequence space
//     only across the wrap (old snd_nxt 2^32-16, new ISN 16): safe by sequence;
//   - 40703: the same with a new ISN 2^31-16 behind the old one (serial arithmetic
//     says "before"), no timestamps: unsafe.
func genHostileSeqWrap() ([]byte, error) {
	start := at(3 * time.Hour)
	c, s := ap("192.0.2.1:40700"), HostileServer
	a := NewConn(c, s, 0xffffffff, 0xffffffff-1400-1, start) // server: SYN 1, data 1400, FIN at 2^32-1
	ps := a.Handshake()
	ps = append(ps, a.Exchange(200, 1400)...)
	ps = append(ps, a.FIN(true), a.ACK(false))
	fin := a.FIN(false)
	ps = append(ps, fin)
	ps = append(ps, backoff(a, fin, 2)...)
	ps = append(ps, a.ACK(true))

	b := NewConn(ap("192.0.2.1:40701"), s, 0xffffff00, 0x7fffffff, start.Add(300*time.Microsecond))
	ps = merge(ps, b.Full(1000, 300, false))

	for i, newISN := range []uint32{16, 0x80000000 - 16} {
		cl := netip.AddrPortFrom(c.Addr(), uint16(40702+i))
		old := NewConn(cl, s, 0xffffffff-16-200-2, 5000, start.Add(time.Duration(i+1)*10*time.Millisecond))
		old.TS = i == 0
		q := old.Handshake()
		q = append(q, old.Exchange(200, 300)...)
		q = append(q, old.Close(false)...) // the server closes first and holds TIME_WAIT
		neu := NewConn(cl, s, newISN, 9000, old.Now.Add(2*time.Second))
		neu.TS = old.TS
		neu.cBase = old.cBase + 3000 // the client's timestamp clock goes on
		q = append(q, neu.Full(100, 100, true)...)
		ps = merge(ps, q)
	}
	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, ps)
}

// genTimeBackwards: capture timestamps that go backwards, around the real
// connections (whose own timestamps stay in order):
//
//   - 40710: a clean connection whose packets are stamped an hour early (a second
//     capture point with a wrong clock, merged by a tool that does not sort), so
//     the file's timestamps jump back and forth between it and the real ones;
//   - 40711: a clean connection whose clock steps back 30 s between its exchange
//     and its close (an NTP step during the capture).
//
// (A step back in the middle of a FIN's retransmissions is in cmd/finack's
// TestClockStepInFinRetransmissions: its durations are meaningless and not pinned
// in an expected report.)
func genTimeBackwards() ([]byte, error) {
	start := at(4 * time.Hour)
	real := RealConnections(start, false)
	s := HostileServer
	early := NewConn(ap("192.0.2.1:40710"), s, 7000, 8000, start.Add(-time.Hour))
	skewed := early.Full(100, 100, true)
	// Interleave by position, not time: every third packet of the file is skewed.
	var ps []Packet
	for len(real) > 0 || len(skewed) > 0 {
		for k := 0; k < 2 && len(real) > 0; k++ {
			ps = append(ps, real[0])
			real = real[1:]
		}
		if len(skewed) > 0 {
			ps = append(ps, skewed[0])
			skewed = skewed[1:]
		}
	}
	step := NewConn(ap("192.0.2.1:40711"), s, 9000, 10000, ps[len(ps)-1].Time.Add(10*time.Millisecond))
	ps = append(ps, step.Handshake()...)
	ps = append(ps, step.Exchange(100, 100)...)
	step.Wait(-30 * time.Second)
	ps = append(ps, step.Close(true)...)

	return pcapBytes(layers.LinkTypeEthernet, PcapOptions{}, ps)
}

// genDuplicated: every packet captured twice, on two interfaces (eth0 and eth1 of
// one pcapng file: a host capture plus a mirror port), with the same IP ID and TCP
// timestamp: the real connections, and an IPv6 pair of them. The mirror port lags:
// the IPv4 copies come 4 µs after their original, the IPv6 copies 1.5 ms after, so
// behind the next packet (packets are 1 ms apart), sometimes behind the next one of
// the same end. Findings must be those of the capture without the copies.
func genDuplicated() ([]byte, error) {
	ps := merge(RealConnections(at(5*time.Hour), false), RealConnections(at(5*time.Hour+time.Second), true))
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgOptions{Comment: "finack-gen: every packet on two interfaces"},
		Interface{Link: layers.LinkTypeEthernet, Name: "eth0"}, Interface{Link: layers.LinkTypeEthernet, Name: "eth1"})
	if err != nil {
		return nil, err
	}
	var copies []Packet
	for _, p := range ps {
		cp := p
		lag := 4 * time.Microsecond
		if p.Src.Addr().Is6() {
			lag = 1500 * time.Microsecond
		}
		cp.Interface, cp.Time = 1, p.Time.Add(lag)
		copies = append(copies, cp)
	}
	for _, p := range merge(ps, copies) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// genSnaplenOptions: the real connections captured with snap lengths that cut the
// TCP options: 60 bytes on eth0 (inside the timestamp option: Ethernet 14, IPv4
// 20, TCP 20, then 6 of the 12 option bytes), and on eth1 an IPv6 pair captured
// with 80 bytes (4 bytes short of the whole timestamp option), and 40 bytes on
// eth2, which cuts every frame inside its IP header (undecodable). The findings of
// the real connections do not depend on the options; what the timestamps would
// have told (which transmission the final ACK echoes) is lost.
func genSnaplenOptions() ([]byte, error) {
	v4 := RealConnections(at(6*time.Hour), false)
	v6 := RealConnections(at(6*time.Hour+time.Second), true)
	for i := range v6 {
		v6[i].Interface = 1
	}
	noise := NewConn(ap("192.0.2.2:40720"), HostileServer, 100, 200, at(6*time.Hour+2*time.Second))
	noise.ClientIface, noise.ServerIface = 2, 2
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgOptions{},
		Interface{Link: layers.LinkTypeEthernet, Name: "eth0", Snaplen: 60},
		Interface{Link: layers.LinkTypeEthernet, Name: "eth1", Snaplen: 14 + 40 + 20 + 6},
		Interface{Link: layers.LinkTypeEthernet, Name: "eth2", Snaplen: 40})
	if err != nil {
		return nil, err
	}
	for _, p := range merge(v4, v6, noise.Full(10, 10, true)) {
		if err := w.WritePacket(p); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// Escapes is text with terminal control sequences: clear screen, a colour, a
// window title (OSC), a bell, a backspace and a carriage return, and an invalid
// UTF-8 byte. gen-hostile-escapes.pcapng carries it in its section comment,
// interface name and description, and a packet comment.
const Escapes = "\x1b[2J\x1b[31mred\x1b]0;owned\x07\b\rX\xff"

// genEscapes: the real connections in a pcapng whose text fields hold Escapes.
func genEscapes() ([]byte, error) {
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, NgOptions{Comment: "comment " + Escapes},
		Interface{Link: layers.LinkTypeEthernet, Name: "eth" + Escapes, Description: "desc " + Escapes})
	if err != nil {
		return nil, err
	}
	for i, p := range RealConnections(at(7*time.Hour), false) {
		if i == 0 {
			err = w.WriteCommentedFrame(0, p.Time, Encode(layers.LinkTypeEthernet, p), "packet "+Escapes)
		} else {
			err = w.WritePacket(p)
		}
		if err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

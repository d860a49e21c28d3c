package synth

import (
	"bufio"
	"container/heap"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/finack/finack/capture"
)

// BigOptions shape a large generated capture for benchmarks.
type BigOptions struct {
	Seed uint64
	// Packets is the size to reach (the last connections finish, so a few more).
	Packets int
	// Concurrency is how many connections are open at once, about.
	Concurrency int
	// Clients and Servers: how many hosts of each (IPv4; a fifth of the pairs use
	// IPv6 addresses instead).
	Clients, Servers int
}

// BigStats says what WriteBig wrote.
type BigStats struct {
	Packets, Connections int
	// By scenario, the number of connections.
	Scenarios map[string]int
}

// WriteBig writes a large, realistic capture to w (Ethernet, pcap, microseconds),
// deterministic from the seed: many short connections between many hosts, IPv4 and
// IPv6, in every close shape, with lost final ACKs, FIN retransmissions, resets,
// half-closes, reuse of 4-tuples within TIME_WAIT and stale segments, interleaved in
// time as concurrent connections are. Memory stays proportional to Concurrency.
func WriteBig(w io.Writer, opt BigOptions) (BigStats, error) {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 1000
	}
	if opt.Clients <= 0 {
		opt.Clients = 2000
	}
	if opt.Servers <= 0 {
		opt.Servers = 50
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw, err := NewPcapWriter(bw, layers.LinkTypeEthernet, PcapOptions{})
	if err != nil {
		return BigStats{}, err
	}
	g := &bigGen{opt: opt, rnd: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		now: Epoch, stats: BigStats{Scenarios: map[string]int{}}, ports: map[netip.Addr]uint16{}}
	// A connection starts every mean gap; a connection lasts about 30 ms of
	// capture time, so Concurrency open at once needs a gap of 30 ms / Concurrency.
	g.gap = 30 * time.Millisecond / time.Duration(opt.Concurrency)
	var q pktHeap
	for g.stats.Packets < opt.Packets || q.Len() > 0 {
		// Start connections until the next one would start after the earliest
		// pending packet (or the target is reached).
		for g.stats.Packets+q.pending < opt.Packets && (q.Len() == 0 || !g.now.After(q.items[0].p[0].Time)) {
			g.left = opt.Packets - g.stats.Packets - q.pending
			ps := g.connection()
			q.pending += len(ps)
			heap.Push(&q, &pktList{p: ps})
		}
		if q.Len() == 0 {
			break
		}
		top := q.items[0]
		if err := pw.WritePacket(top.p[0]); err != nil {
			return g.stats, err
		}
		g.stats.Packets++
		q.pending--
		top.p = top.p[1:]
		if len(top.p) == 0 {
			heap.Pop(&q)
		} else {
			heap.Fix(&q, 0)
		}
	}
	return g.stats, bw.Flush()
}

type bigGen struct {
	opt   BigOptions
	rnd   *rand.Rand
	now   time.Time
	gap   time.Duration
	stats BigStats
	left  int // packets still to write when a connection starts
	ports map[netip.Addr]uint16
	// recent 4-tuples closed by the server first (the server holds TIME_WAIT), for
	// reuse within 2MSL
	recent []reuseCand
}

type reuseCand struct {
	c, s         netip.AddrPort
	cNext, sNext uint32
	cBase        uint32
	at           time.Time
	data         Packet // a data segment of the old connection, for stale copies
}

func (g *bigGen) host(client bool, i int) netip.Addr {
	v6 := i%5 == 4
	if client {
		if v6 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		}
		return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
	}
	if v6 {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
	}
	return netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)})
}

// connection makes the packets of the next connection, starting at g.now, and
// moves g.now on.
func (g *bigGen) connection() []Packet {
	r := g.rnd
	g.now = g.now.Add(time.Duration(r.ExpFloat64() * float64(g.gap)))
	g.stats.Connections++
	roll := r.IntN(100)
	// Reuse a 4-tuple the server still holds in TIME_WAIT (5%), sending a stale
	// copy of the old data into the new connection half of the time.
	if roll < 5 && len(g.recent) > 0 {
		i := r.IntN(len(g.recent))
		old := g.recent[i]
		// Only once the old connection's last packet is out, and well within
		// TIME_WAIT.
		if d := g.now.Sub(old.at); d > 0 && d < 50*time.Second {
			g.recent[i] = g.recent[len(g.recent)-1]
			g.recent = g.recent[:len(g.recent)-1]
			return g.reuse(old)
		}
	}
	ci := r.IntN(g.opt.Clients)
	si := r.IntN(g.opt.Servers)
	// IPv6 clients (every fifth) talk to IPv6 servers (every fifth), IPv4 to IPv4.
	if ci%5 == 4 {
		si = min(si-si%5+4, g.opt.Servers-1)
		if si%5 != 4 {
			si = 4
		}
	} else if si%5 == 4 {
		si--
	}
	ca, sa := g.host(true, ci), g.host(false, si)
	port := g.ports[ca]
	if port < 32768 {
		port = 32768 + uint16(r.IntN(1000))
	}
	g.ports[ca] = port + 1
	if port+1 > 60999 {
		g.ports[ca] = 32768
	}
	c := NewConn(netip.AddrPortFrom(ca, port), netip.AddrPortFrom(sa, []uint16{80, 443, 8080, 5432, 6379}[si%5]),
		r.Uint32(), r.Uint32(), g.now)
	c.Gap = time.Duration(100+r.IntN(900)) * time.Microsecond
	ps := c.Handshake()
	for n := 1 + r.IntN(2); n > 0; n-- {
		ps = append(ps, c.Exchange(100+r.IntN(400), 200+r.IntN(1200))...)
	}
	switch {
	case roll < 50:
		g.stats.Scenarios["client_close"]++
		ps = append(ps, c.Close(true)...)
	case roll < 70:
		g.stats.Scenarios["server_close"]++
		data := ps[len(ps)-2]
		ps = append(ps, c.FIN(false), c.FIN(true), c.ACK(false))
		g.remember(c, data)
	case roll < 77:
		g.stats.Scenarios["reset"]++
		ps = append(ps, c.RST(r.IntN(2) == 0, true))
	case roll < 83:
		g.stats.Scenarios["lost_final_ack"]++
		ps = append(ps, c.FIN(true), c.ACK(false))
		fin := c.FIN(false)
		ps = append(ps, fin)
		ps = append(ps, backoff(c, fin, 1+r.IntN(3))...)
		ps = append(ps, c.ACK(true))
	case roll < 87:
		g.stats.Scenarios["fin_retransmit_spurious"]++
		fin := c.FIN(true)
		ps = append(ps, fin, c.ACK(false))
		again := fin
		again.Time = c.Now.Add(200 * time.Millisecond)
		c.Now = again.Time.Add(c.Gap)
		ps = append(ps, again, c.ACK(false), c.FIN(false), c.ACK(true))
	case roll < 92:
		g.stats.Scenarios["half_close"]++
		ps = append(ps, c.FIN(true), c.ACK(false), c.Data(false, 1000), c.ACK(true), c.Data(false, 1000), c.ACK(true), c.FIN(false), c.ACK(true))
	case roll < 94:
		g.stats.Scenarios["simultaneous"]++
		a := c.Send(true, capture.FIN|capture.ACK, 0)
		b := c.Send(false, capture.FIN, 0)
		b.Flags |= capture.ACK
		b.Ack = a.Seq // it had not seen a's FIN
		ps = append(ps, a, b, c.ACK(true), c.ACK(false))
	case roll < 97:
		g.stats.Scenarios["first_fin_unacked"]++
		fin := c.FIN(true)
		ps = append(ps, fin)
		ps = append(ps, backoff(c, fin, 2)...)
		c.Wait(2 * time.Second)
		ps = append(ps, c.RST(true, true))
	case g.left < 20*g.opt.Concurrency:
		// Among the last connections: still open when the capture ends. Only
		// there, so that the connections open at once stay about Concurrency
		// however long the capture (none is left open for ever in the middle).
		g.stats.Scenarios["open"]++
	default:
		// Idle, then reset by the server (a load balancer's idle timeout).
		g.stats.Scenarios["idle_reset"]++
		c.Wait(2 * time.Second)
		ps = append(ps, c.RST(false, true))
	}
	return ps
}

func (g *bigGen) remember(c *Conn, data Packet) {
	if len(g.recent) >= 4096 {
		g.recent = g.recent[1:]
	}
	g.recent = append(g.recent, reuseCand{c: c.Client, s: c.Server, cNext: c.CNext, sNext: c.SNext, cBase: c.cBase, at: c.Now, data: data})
}

// reuse opens a new connection on a 4-tuple the server holds in TIME_WAIT, with a
// higher ISN and a continuing timestamp clock (Linux accepts it), and half of the
// time a stale copy of the old connection's data arrives in the middle of it.
func (g *bigGen) reuse(old reuseCand) []Packet {
	g.stats.Scenarios["reuse_in_2msl"]++
	c := NewConn(old.c, old.s, old.cNext+100000+g.rnd.Uint32N(1<<20), old.sNext+65537, g.now)
	c.cBase = old.cBase + uint32(g.now.Sub(old.at)/time.Millisecond)
	c.Gap = 300 * time.Microsecond
	ps := c.Handshake()
	ps = append(ps, c.Exchange(200, 800)...)
	if g.rnd.IntN(2) == 0 {
		g.stats.Scenarios["stale_segment"]++
		stale := old.data
		stale.Time = c.Now
		c.Now = c.Now.Add(c.Gap)
		ps = append(ps, stale)
	}
	ps = append(ps, c.Close(true)...)
	return ps
}

// pktList is one connection's packets still to write; pktHeap orders connections by
// their next packet's time (ties: the one started first).
type pktList struct{ p []Packet }

type pktHeap struct {
	items   []*pktList
	pending int
}

func (h pktHeap) Len() int { return len(h.items) }
func (h pktHeap) Less(i, j int) bool {
	return h.items[i].p[0].Time.Before(h.items[j].p[0].Time)
}
func (h pktHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pktHeap) Push(x any)   { h.items = append(h.items, x.(*pktList)) }
func (h *pktHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

package capture_test

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

// bigPackets returns n packets of short request/response connections (11
// packets each), the shape of a busy server's capture. Every third connection is
// IPv6; interfaces rotate over three for pcapng.
func bigPackets(n int) []synth.Packet {
	var ps []synth.Packet
	t := synth.Epoch
	for i := 0; len(ps) < n; i++ {
		cli, srv := netip.AddrPortFrom(cli4.Addr(), uint16(10000+i%50000)), srv4
		if i%3 == 2 {
			cli, srv = netip.AddrPortFrom(cli6.Addr(), uint16(10000+i%50000)), srv6
		}
		c := synth.NewConn(cli, srv, uint32(i)*7919, uint32(i)*104729, t)
		c.Gap = 10 * time.Microsecond
		c.ClientIface, c.ServerIface = i%3, (i+1)%3
		if i%5 == 0 {
			c.VLAN = []uint16{42}
		}
		ps = append(ps, c.Full(100, 1000, i%2 == 0)...)
		t = c.Now
	}
	return ps[:n]
}

var allocIfaces = []synth.Interface{{Link: layers.LinkTypeEthernet}, {Link: 101}, {Link: 113, Nanosecond: true}}

type allocCase struct {
	name, filter string
	data         []byte
	// allocs is the allocations per packet allowed: 0. (pcapgo boxes a pcapng
	// interface's link type into ci.AncillaryData for every packet it reads,
	// which allocates for link types >= 256, Linux SLL2; the enhanced packet
	// blocks of these files are read without pcapgo, fastpcapng.go.)
	allocs float64
}

func allocCases(t testing.TB, n int) []allocCase {
	ps := bigPackets(n)
	pcap := pcapBytes(t, 1, synth.PcapOptions{}, ps)
	return []allocCase{
		{"pcap ethernet", "", pcap, 0},
		{"pcap ethernet filtered", "tcp port 80 or vlan", pcap, 0},
		{"pcap ns big-endian", "", pcapBytes(t, 1, synth.PcapOptions{Nanosecond: true, BigEndian: true}, ps), 0},
		{"pcap linux sll2", "", pcapBytes(t, 276, synth.PcapOptions{}, ps), 0},
		{"pcapng ethernet+raw+sll", "", ngBytes(t, ps, allocIfaces...), 0},
		{"pcapng filtered", "ip or ip6", ngBytes(t, ps, allocIfaces...), 0},
		{"gzip pcap", "", synth.Gzip(pcap), 0},
		{"pcapng linux sll2", "", ngBytes(t, ps, synth.Interface{Link: 276}, synth.Interface{Link: 276}, synth.Interface{Link: 276}), 0},
	}
}

// TestNextAllocatesNothing: reading, filtering and decoding a packet allocates
// nothing once the reader's buffers exist.
func TestNextAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	for _, tc := range allocCases(t, 20000) {
		t.Run(tc.name, func(t *testing.T) {
			r, err := capture.Open([]string{writeTemp(t, "big", tc.data)}, capture.Options{Filter: tc.filter, Compile: bpf.Compile})
			if err != nil {
				t.Fatal(err)
			}
			defer synth.CheckClose(t, r)
			var seg capture.Segment
			for i := 0; i < 100; i++ { // warm up: buffers, per-link-type filters
				if err := r.Next(&seg); err != nil {
					t.Fatal(err)
				}
			}
			var err2 error
			allocs := testing.AllocsPerRun(5000, func() {
				if err := r.Next(&seg); err != nil {
					err2 = err
				}
			})
			if err2 != nil {
				t.Fatal(err2)
			}
			if allocs > tc.allocs {
				t.Errorf("%.2f allocations per Next, want at most %v", allocs, tc.allocs)
			}
		})
	}
}

// BenchmarkNext reads captures packet by packet; one op is one frame read and
// decoded (or skipped). Reported: ns/packet, allocs/op.
func BenchmarkNext(b *testing.B) {
	const n = 200000
	for _, tc := range allocCases(b, n) {
		b.Run(tc.name, func(b *testing.B) {
			path := writeTemp(b, "big", tc.data)
			open := func() *capture.Reader {
				r, err := capture.Open([]string{path}, capture.Options{Filter: tc.filter, Compile: bpf.Compile})
				if err != nil {
					b.Fatal(err)
				}
				return r
			}
			r := open()
			var seg capture.Segment
			var frames uint64
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.data) / n))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := r.Next(&seg); err == io.EOF {
					b.StopTimer()
					frames += r.Stats().Packets
					synth.CheckClose(b, r)
					r = open()
					b.StartTimer()
					i--
				} else if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			frames += r.Stats().Packets
			synth.CheckClose(b, r)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(frames), "ns/packet")
		})
	}
}

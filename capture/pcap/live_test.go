//go:build cgo

package pcap_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/pcap"
	"github.com/finack/finack/capture/synth"
)

// liveLoopback opens lo for the TCP traffic of one local listener, or skips: live
// capture needs root (or cap_net_raw,cap_net_admin).
func liveLoopback(t *testing.T) (*pcap.Live, net.Listener) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the loopback interface is named lo on Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CI runs as root)")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	t.Cleanup(func() { synth.CheckClose(t, ln) })
	port := ln.Addr().(*net.TCPAddr).Port
	l, err := pcap.Open(pcap.Options{Interface: "lo", Filter: "tcp port " + itoa(port), BufferSize: 4 << 20})
	if err != nil {
		t.Fatalf("Open lo: %v", err)
	}
	t.Cleanup(func() { synth.CheckClose(t, l) }) // Close flushes what SaveTo buffered
	return l, ln
}

func itoa(n int) string {
	b := make([]byte, 0, 8)
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// connections makes n short connections to ln and waits until they are closed.
func connections(t *testing.T, ln net.Listener, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b := make([]byte, 16)
			_, err = io.ReadFull(c, b)
			if err == nil {
				_, err = c.Write(b)
			}
			if cerr := c.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Errorf("server side of connection %d: %v", i, err) // and serve the rest
			}
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("0123456789abcdef")); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		b := make([]byte, 16)
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not finish")
	}
	time.Sleep(300 * time.Millisecond) // the last FIN/ACKs
}

// TestLiveLoopback captures real connections on lo: the segments decode (ports,
// flags), the frames saved with SaveTo read back as the same capture, libpcap's
// counts are there, and Next allocates nothing per packet, as Reader.Next.
func TestLiveLoopback(t *testing.T) {
	l, ln := liveLoopback(t)
	dir := t.TempDir()
	saved, err := os.Create(filepath.Join(dir, "lo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SaveTo(saved); err != nil {
		t.Fatal(err)
	}
	const conns = 40
	connections(t, ln, conns)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)

	var seg capture.Segment
	var segs, syns, fins int
	read := func() error {
		err := l.Next(&seg)
		if err == capture.ErrWait {
			return err
		}
		if err != nil {
			t.Fatal(err)
		}
		segs++
		if seg.Src.Port() != port && seg.Dst.Port() != port {
			t.Fatalf("segment %v → %v: not the listener's port %d", seg.Src, seg.Dst, port)
		}
		if seg.Flags.Has(capture.SYN) && !seg.Flags.Has(capture.ACK) {
			syns++
		}
		if seg.Flags.Has(capture.FIN) {
			fins++
		}
		return nil
	}
	for range 20 { // warm up
		if read() != nil {
			t.Fatal("no packets captured")
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if read() != nil {
			t.Fatal("ran out of packets")
		}
	})
	if allocs != 0 {
		t.Errorf("Live.Next: %v allocations per packet, want 0", allocs)
	}
	for read() == nil {
	}
	if syns != conns || fins != 2*conns {
		t.Errorf("%d SYNs and %d FINs in %d segments, want %d and %d", syns, fins, segs, conns, 2*conns)
	}
	st := l.Stats()
	ks, err := l.KernelStats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Segments != uint64(segs) || st.Packets != st.Segments || ks.Received < st.Packets || ks.Dropped != 0 {
		t.Errorf("stats %+v, kernel %+v: want %d segments, every packet a segment, no drops", st, ks, segs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := saved.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Next(&seg); err == nil || err == capture.ErrWait {
		t.Errorf("Next after Close: %v", err)
	}
	if after, _ := l.KernelStats(); after != ks && after.Received < ks.Received {
		t.Errorf("KernelStats after Close %+v, before %+v", after, ks)
	}

	r, err := capture.Open([]string{saved.Name()}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	n := 0
	for {
		var s capture.Segment
		if err := r.Next(&s); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != segs {
		t.Errorf("the saved file holds %d segments, the capture read %d", n, segs)
	}
}

// TestLiveLimit: SetLimit ends the capture with io.EOF after that many frames.
func TestLiveLimit(t *testing.T) {
	l, ln := liveLoopback(t)
	l.SetLimit(7)
	connections(t, ln, 3)
	var seg capture.Segment
	n := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		err := l.Next(&seg)
		if err == io.EOF {
			break
		}
		if err == nil {
			n++
		} else if err != capture.ErrWait {
			t.Fatal(err)
		}
	}
	if n != 7 || l.Stats().Packets != 7 {
		t.Errorf("%d segments, %d packets before io.EOF: want 7", n, l.Stats().Packets)
	}
}

// TestOpenLiveErrors: errors a user can act on.
func TestOpenLiveErrors(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux (without root every interface is a permission error)")
	}
	_, err := pcap.Open(pcap.Options{Interface: "finack-nosuch0"})
	if !errors.Is(err, pcap.ErrNoInterface) {
		t.Errorf("missing interface: %v", err)
	}
	_, err = pcap.Open(pcap.Options{Interface: "lo", Filter: "tcp port banana"})
	var fe *capture.FilterError
	if !errors.As(err, &fe) || fe.Expr != "tcp port banana" {
		t.Errorf("bad filter: %v", err)
	}
	if _, err = pcap.Open(pcap.Options{Interface: "lo", SnapLen: 64}); err == nil {
		t.Error("snap length 64 accepted")
	}
	ifs, err := pcap.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range ifs {
		found = found || it.Name == "lo"
	}
	if !found {
		t.Errorf("Interfaces() lacks lo: %+v", ifs)
	}
}

// TestLiveAnySLL2: -i any captures Linux cooked frames (SLL2 where libpcap has it),
// which decode like any other.
func TestLiveAnySLL2(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("needs root on Linux")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer synth.CheckClose(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	l, err := pcap.Open(pcap.Options{Interface: "any", Filter: "tcp port " + itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, l)
	if lt := int(l.LinkType()); lt != 276 && lt != 113 {
		t.Fatalf("-i any: link type %d (%s), want Linux SLL2 (276) or SLL (113)", lt, l.LinkName())
	}
	t.Logf("-i any: %s", l.LinkName())
	connections(t, ln, 2)
	var seg capture.Segment
	n := 0
	for l.Next(&seg) == nil {
		n++
	}
	if n < 2*7 {
		t.Errorf("%d segments of 2 connections on any", n)
	}
}

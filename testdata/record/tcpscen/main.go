// Command tcpscen plays one side of a TCP teardown scenario with real sockets.
// It is driven by testdata/record/record.sh, which runs "tcpscen server ..." in
// the server's network namespace and "tcpscen client ..." in the client's.
//
// Usage:
//
//	tcpscen server -scen KIND -addr IP:PORT -sync DIR [flags]
//	tcpscen client -scen KIND -addr IP:PORT -sync DIR [flags]
//
// The two processes and the script synchronise through empty files in the
// directory given by -sync (the namespaces share the file system): signal(name)
// creates DIR/name, wait(name) polls for it with a timeout. Every wait is
// bounded, and a watchdog ends the process after -timeout whatever happens.
//
// Scenario kinds (the same kind is given to both sides):
//
//	client-close   request/response, the client closes first; with -barrier the
//	               client signals c-exchanged and waits for c-go before closing
//	               (record.sh installs nft rules in between). The server closes
//	               -close-delay after it read EOF (default 300ms: longer than the
//	               delayed-ACK limit, so the close is four-way). With -hold the
//	               server does not close until "end".
//	server-close   request/response, the server closes right after responding.
//	reuse          -n connections from the fixed client port -lport (SO_REUSEADDR),
//	               each: request of -size bytes, response, the server closes first,
//	               then the client; -gap between connections.
//	rst-close      request/response, then the client closes with SO_LINGER {1, 0}.
//	rst-data-after-close
//	               connection 1: the server closes with unread data pending;
//	               connection 2: the client writes after the server closed.
//	simultaneous   both sides shut down writing; the server does so as soon as the
//	               client signals c-fin (record.sh drops the client's first FIN at
//	               the server's input so that the FINs cross).
//	half-close     the client sends its request and shuts down writing; the server
//	               then sends -chunks chunks of 1000 bytes -chunk-gap apart and closes.
//	unfinished     request/response, the client shuts down writing; both sides keep
//	               their sockets open until "end".
//	many           -n short sequential connections with kernel-chosen ports; per
//	               connection i: i%40==9 -> the client resets (linger 0), i%10==4 ->
//	               the server closes first (i%100 < P with -server-pct P), otherwise
//	               the client closes first.
//	half-open      the client connects from the fixed port -lport (record.sh drops
//	               every non-SYN segment it sends, so the server stays in SYN_RECV),
//	               signals c-open1, resets that socket (SO_LINGER 0; the RST is
//	               dropped too), signals c-closed1, waits for c-go and connects again
//	               from the same port: a new SYN with a new ISN on the 4-tuple the
//	               server still holds half-open. Then as client-close.
//	syn-retry      the client connects from the fixed port -lport while record.sh
//	               drops its SYNs; the attempt must fail (ETIMEDOUT once
//	               net.ipv4.tcp_syn_retries is spent); it signals c-failed, waits for
//	               c-go and connects again from the same port. Then as client-close.
//	simopen        simultaneous open: no listener. The server binds -addr and
//	               connects to -peer, the client binds -local:-lport and connects
//	               to -addr (-peer must be that address); both signal ready
//	               (s-ready, c-ready) and connect when "go" appears. Then a request
//	               from the client, a response, the client closes first.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

const (
	reqSize  = 300
	respSize = 500
)

var (
	syncDir  string
	start    = time.Now()
	role     string
	waitTime = 30 * time.Second
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%8.3f %s: %s\n", time.Since(start).Seconds(), role, fmt.Sprintf(format, args...))
}

func fatalf(format string, args ...any) {
	logf("FATAL: "+format, args...)
	os.Exit(1)
}

func signal(name string) {
	if err := os.WriteFile(filepath.Join(syncDir, name), nil, 0o644); err != nil {
		fatalf("signal %s: %v", name, err)
	}
	logf("signal %s", name)
}

func wait(name string) {
	deadline := time.Now().Add(waitTime)
	p := filepath.Join(syncDir, name)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(p); err == nil {
			logf("got %s", name)
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	fatalf("timed out waiting for %s", name)
}

func payload(n int, tag byte) []byte {
	b := bytes.Repeat([]byte{'.'}, n)
	if n > 0 {
		b[0] = tag
	}
	if n > 1 {
		b[n-1] = '\n'
	}
	return b
}

func must(err error, what string) {
	if err != nil {
		fatalf("%s: %v", what, err)
	}
}

func readN(c net.Conn, n int, what string) []byte {
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	must(err, "read "+what)
	return b
}

// drain reads until EOF or error and reports which.
func drain(c net.Conn) (int64, error) {
	n, err := io.Copy(io.Discard, c)
	return n, err
}

func closeWrite(c net.Conn) {
	must(c.(*net.TCPConn).CloseWrite(), "shutdown(SHUT_WR)")
	logf("shutdown(SHUT_WR)")
}

func closeConn(c net.Conn, how string) {
	if err := c.Close(); err != nil {
		logf("close (%s): %v", how, err)
		return
	}
	logf("close (%s)", how)
}

func resetConn(c net.Conn) {
	must(c.(*net.TCPConn).SetLinger(0), "SO_LINGER 0")
	closeConn(c, "SO_LINGER {1,0}: RST")
}

// serverFirst: in many, whether the server closes connection i first (besides
// -server-closes): i%10==4 by default, i%100 < P with -server-pct P.
func (o opts) serverFirst(i int) bool {
	if o.serverPct < 0 {
		return i%10 == 4
	}
	return i%100 < o.serverPct
}

type opts struct {
	scen  string
	addr  string
	lport int
	local string
	n     int
	// serverCloses: in many, the server closes every connection first.
	serverCloses bool
	size         int
	firstSize    int
	gap          time.Duration
	closeDelay   time.Duration
	barrier      bool
	hold         bool
	chunks       int
	chunkGap     time.Duration
	cc           string
	// peer: the server's remote address in simopen.
	peer string
	// serverPct: in many, the server closes connection i first when
	// i%100 < serverPct (instead of i%10==4); the rest follow the usual mix.
	serverPct int
}

// control sets the congestion control (best effort: the capture's shape does
// not depend on it; a network namespace may only choose, as its default, the
// algorithms in net.ipv4.tcp_allowed_congestion_control, but a socket of a
// CAP_NET_ADMIN process may use any loaded one) and, for a fixed client port,
// SO_REUSEADDR.
func (o opts) control(reuse bool) func(network, address string, rc syscall.RawConn) error {
	return func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if o.cc != "" {
				if err := syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, o.cc); err != nil {
					logf("TCP_CONGESTION %s: %v (using the default)", o.cc, err)
				}
			}
			if reuse {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

// reqSize is the request size of connection i of the reuse scenario.
func (o opts) reqSize(i int) int {
	if i == 0 && o.firstSize > 0 {
		return o.firstSize
	}
	return o.size
}

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "client") {
		fmt.Fprintln(os.Stderr, "usage: tcpscen server|client -scen KIND -addr IP:PORT -sync DIR [flags]")
		os.Exit(2)
	}
	role = os.Args[1]
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	var o opts
	var timeout time.Duration
	fs.StringVar(&o.scen, "scen", "", "scenario kind")
	fs.StringVar(&o.addr, "addr", "", "server address IP:PORT (listen or connect)")
	fs.StringVar(&syncDir, "sync", "", "directory for synchronisation files")
	fs.IntVar(&o.lport, "lport", 0, "client: fixed local port (reuse)")
	fs.StringVar(&o.local, "local", "", "client: local IP to bind with -lport")
	fs.IntVar(&o.n, "n", 1, "number of connections (reuse, many)")
	fs.BoolVar(&o.serverCloses, "server-closes", false, "many: the server closes every connection first")
	fs.IntVar(&o.serverPct, "server-pct", -1, "many: the server closes connection i first when i%100 < `P` (default: when i%10==4)")
	fs.IntVar(&o.size, "size", reqSize, "request size in bytes (reuse)")
	fs.IntVar(&o.firstSize, "first-size", 0, "request size of the first connection (reuse; default -size)")
	fs.DurationVar(&o.gap, "gap", time.Second, "pause between connections (reuse)")
	fs.DurationVar(&o.closeDelay, "close-delay", 300*time.Millisecond, "server: delay between EOF and close (client-close)")
	fs.BoolVar(&o.barrier, "barrier", false, "client: signal c-exchanged and wait for c-go before closing")
	fs.BoolVar(&o.hold, "hold", false, "server: after EOF keep the socket open until \"end\"")
	fs.IntVar(&o.chunks, "chunks", 10, "server: chunks sent after the client's FIN (half-close)")
	fs.DurationVar(&o.chunkGap, "chunk-gap", 50*time.Millisecond, "server: pause between chunks (half-close)")
	fs.StringVar(&o.peer, "peer", "", "server: address IP:PORT to connect to (simopen)")
	fs.StringVar(&o.cc, "cc", "cubic", "congestion control of every socket (\"\": the namespace's default)")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "watchdog: exit with status 3 after this long")
	fs.DurationVar(&waitTime, "wait", 30*time.Second, "timeout of each synchronisation wait")
	_ = fs.Parse(os.Args[2:])
	if o.scen == "" || o.addr == "" || syncDir == "" {
		fatalf("-scen, -addr and -sync are required")
	}
	time.AfterFunc(timeout, func() {
		logf("watchdog: %v elapsed, exiting", timeout)
		os.Exit(3)
	})
	if role == "server" {
		server(o)
	} else {
		client(o)
	}
	logf("done")
}

// ---------------------------------------------------------------- server

func server(o opts) {
	if o.scen == "simopen" {
		simopenServer(o)
		return
	}
	lc := net.ListenConfig{KeepAlive: -1, Control: o.control(false)}
	// Go (1.24+) listens with MPTCP by default on Linux; plain TCP here, as the
	// clients are plain TCP anyway and ss should not show an MPTCP listener.
	lc.SetMultipathTCP(false)
	ln, err := lc.Listen(context.Background(), "tcp", o.addr)
	must(err, "listen")
	logf("listening on %s", ln.Addr())
	signal("s-ready")
	accept := func() net.Conn {
		c, err := ln.Accept()
		must(err, "accept")
		logf("accepted %s", c.RemoteAddr())
		return c
	}
	switch o.scen {
	case "client-close", "half-open", "syn-retry":
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		if o.hold {
			signal("s-eof")
			wait("end")
		} else {
			time.Sleep(o.closeDelay)
		}
		closeConn(c, "after EOF")
	case "server-close":
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		closeConn(c, "server closes first")
	case "reuse":
		for i := 0; i < o.n; i++ {
			c := accept()
			readN(c, o.reqSize(i), "request")
			_, err := c.Write(payload(respSize, 'R'))
			must(err, "write response")
			closeConn(c, "server closes first")
		}
	case "rst-close":
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		closeConn(c, "after reset")
	case "rst-data-after-close":
		// Connection 1: 200 bytes beyond the request stay unread at close: RST.
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		wait("c-resp1")
		time.Sleep(50 * time.Millisecond) // the extra bytes arrived with the request; be sure
		closeConn(c, "with 200 unread bytes pending")
		// Connection 2: close normally; the client writes afterwards.
		c = accept()
		readN(c, reqSize, "request")
		_, err = c.Write(payload(respSize, 'R'))
		must(err, "write response")
		closeConn(c, "server closes first")
	case "simultaneous":
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		wait("c-fin")
		closeWrite(c)
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		closeConn(c, "after EOF")
	case "half-close":
		c := accept()
		n, err := drain(c)
		logf("read %d bytes, then %v", n, errOrEOF(err))
		for i := 0; i < o.chunks; i++ {
			_, err := c.Write(payload(1000, byte('a'+i%26)))
			must(err, "write chunk")
			time.Sleep(o.chunkGap)
		}
		logf("sent %d chunks after the client's FIN", o.chunks)
		closeConn(c, "after half-close data")
	case "unfinished":
		c := accept()
		readN(c, reqSize, "request")
		_, err := c.Write(payload(respSize, 'R'))
		must(err, "write response")
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		signal("s-eof")
		wait("end")
		closeConn(c, "after the capture ended")
	case "many":
		for i := 0; i < o.n; i++ {
			c := accept()
			req := readN(c, 100, "request")
			_, err := c.Write(payload(200, 'R'))
			must(err, "write response")
			switch req[0] {
			case 'S':
				closeConn(c, "server closes first")
			default: // 'C' and 'R'
				n, err := drain(c)
				if err != nil || n != 0 {
					logf("conn %d: read %d more bytes, then %v", i, n, errOrEOF(err))
				}
				closeConn(c, "after EOF/RST")
			}
		}
	default:
		fatalf("unknown scenario %q", o.scen)
	}
	_ = ln.Close()
}

// simopenServer plays the server's side of a simultaneous open: it connects from
// its own address -addr to the client's -peer, with no listener anywhere.
func simopenServer(o opts) {
	local, err := net.ResolveTCPAddr("tcp", o.addr)
	must(err, "-addr")
	if o.peer == "" {
		fatalf("simopen needs -peer")
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1, Control: o.control(true), LocalAddr: local}
	signal("s-ready")
	wait("go")
	t0 := time.Now()
	c, err := d.Dial("tcp", o.peer)
	must(err, "simultaneous connect")
	logf("connected %s -> %s in %v", c.LocalAddr(), c.RemoteAddr(), time.Since(t0).Round(time.Millisecond))
	readN(c, reqSize, "request")
	_, err = c.Write(payload(respSize, 'R'))
	must(err, "write response")
	n, err := drain(c)
	logf("read %d more bytes, then %v", n, errOrEOF(err))
	time.Sleep(o.closeDelay)
	closeConn(c, "after EOF")
}

func errOrEOF(err error) string {
	if err == nil {
		return "EOF"
	}
	return err.Error()
}

// ---------------------------------------------------------------- client

func dialer(o opts, lport int) *net.Dialer {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1, Control: o.control(lport != 0)}
	if lport != 0 {
		local := net.ParseIP(o.local)
		if local == nil {
			fatalf("-lport needs -local IP")
		}
		d.LocalAddr = &net.TCPAddr{IP: local, Port: lport}
	}
	return d
}

func dial(o opts, lport int) net.Conn {
	d := dialer(o, lport)
	// With a fixed local port, connect() fails with EADDRNOTAVAIL while the
	// previous connection on the same 4-tuple still exists locally (LAST_ACK
	// until the peer's final ACK arrives): retry briefly, bounded.
	for attempt := 1; attempt <= 200; attempt++ {
		t0 := time.Now()
		c, err := d.Dial("tcp", o.addr)
		if err == nil {
			logf("connected %s -> %s in %v (attempt %d)", c.LocalAddr(), c.RemoteAddr(), time.Since(t0).Round(time.Millisecond), attempt)
			return c
		}
		if lport != 0 && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EADDRINUSE)) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		fatalf("dial: %v", err)
	}
	fatalf("dial: local port %d stayed busy", lport)
	return nil
}

func exchange(c net.Conn) {
	_, err := c.Write(payload(reqSize, 'Q'))
	must(err, "write request")
	readN(c, respSize, "response")
}

func client(o opts) {
	switch o.scen {
	case "client-close":
		c := dial(o, 0)
		exchange(c)
		if o.barrier {
			signal("c-exchanged")
			wait("c-go")
		}
		closeConn(c, "client closes first")
	case "server-close":
		c := dial(o, 0)
		exchange(c)
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		closeConn(c, "after EOF")
	case "reuse":
		for i := 0; i < o.n; i++ {
			if i > 0 && o.gap > 0 {
				time.Sleep(o.gap)
			}
			c := dial(o, o.lport)
			_, err := c.Write(payload(o.reqSize(i), 'Q'))
			must(err, "write request")
			n, err := drain(c)
			logf("conn %d: read %d bytes, then %v", i, n, errOrEOF(err))
			closeConn(c, "after EOF")
		}
	case "rst-close":
		c := dial(o, 0)
		exchange(c)
		time.Sleep(50 * time.Millisecond)
		resetConn(c)
	case "rst-data-after-close":
		c := dial(o, 0)
		_, err := c.Write(append(payload(reqSize, 'Q'), payload(200, 'X')...))
		must(err, "write request + 200 extra bytes")
		readN(c, respSize, "response")
		signal("c-resp1")
		n, err := drain(c)
		logf("conn 1: read %d more bytes, then %v", n, errOrEOF(err))
		closeConn(c, "after RST")
		c = dial(o, 0)
		exchange(c)
		n, err = drain(c)
		logf("conn 2: read %d more bytes, then %v", n, errOrEOF(err))
		time.Sleep(50 * time.Millisecond)
		_, err = c.Write(payload(100, 'L'))
		logf("conn 2: wrote 100 bytes after the server's FIN: %v", err)
		time.Sleep(100 * time.Millisecond)
		_, err = c.Write(payload(100, 'L'))
		logf("conn 2: second write after the RST: %v", err)
		closeConn(c, "after RST")
	case "simultaneous":
		c := dial(o, 0)
		exchange(c)
		signal("c-exchanged")
		wait("c-go")
		closeWrite(c)
		signal("c-fin")
		n, err := drain(c)
		logf("read %d more bytes, then %v", n, errOrEOF(err))
		closeConn(c, "after EOF")
	case "half-close":
		c := dial(o, 0)
		_, err := c.Write(payload(reqSize, 'Q'))
		must(err, "write request")
		closeWrite(c)
		n, err := drain(c)
		logf("read %d bytes after shutdown, then %v", n, errOrEOF(err))
		closeConn(c, "after EOF")
	case "unfinished":
		c := dial(o, 0)
		exchange(c)
		closeWrite(c)
		signal("c-shut")
		wait("end")
		closeConn(c, "after the capture ended")
	case "half-open":
		c := dial(o, o.lport)
		signal("c-open1")
		resetConn(c)
		signal("c-closed1")
		wait("c-go")
		c = dial(o, o.lport)
		exchange(c)
		closeConn(c, "client closes first")
	case "syn-retry":
		d := dialer(o, o.lport)
		d.Timeout = 60 * time.Second // the kernel's tcp_syn_retries decides
		t0 := time.Now()
		c, err := d.Dial("tcp", o.addr)
		if err == nil {
			_ = c.Close()
			fatalf("the first attempt connected; its SYNs should have been dropped")
		}
		if !errors.Is(err, syscall.ETIMEDOUT) {
			fatalf("the first attempt failed with %v, not ETIMEDOUT", err)
		}
		logf("attempt 1 gave up after %v: %v", time.Since(t0).Round(time.Millisecond), err)
		signal("c-failed")
		wait("c-go")
		c = dial(o, o.lport)
		exchange(c)
		closeConn(c, "client closes first")
	case "simopen":
		d := dialer(o, o.lport)
		signal("c-ready")
		wait("go")
		t0 := time.Now()
		c, err := d.Dial("tcp", o.addr)
		must(err, "simultaneous connect")
		logf("connected %s -> %s in %v", c.LocalAddr(), c.RemoteAddr(), time.Since(t0).Round(time.Millisecond))
		exchange(c)
		closeConn(c, "client closes first")
	case "many":
		counts := map[byte]int{}
		for i := 0; i < o.n; i++ {
			kind := byte('C')
			switch {
			case o.serverCloses, o.serverFirst(i):
				kind = 'S'
			case i%40 == 9:
				kind = 'R'
			}
			counts[kind]++
			c := dial(o, 0)
			_, err := c.Write(payload(100, kind))
			must(err, "write request")
			readN(c, 200, "response")
			switch kind {
			case 'C':
				closeConn(c, "client closes first")
			case 'S':
				n, err := drain(c)
				if err != nil || n != 0 {
					logf("conn %d: read %d more bytes, then %v", i, n, errOrEOF(err))
				}
				closeConn(c, "after EOF")
			case 'R':
				resetConn(c)
			}
		}
		logf("connections: client-closed %d, server-closed %d, reset %d",
			counts['C'], counts['S'], counts['R'])
	default:
		fatalf("unknown scenario %q", o.scen)
	}
}

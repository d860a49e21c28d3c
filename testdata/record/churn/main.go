// Command churn makes short TCP connections at a steady rate, for the live-capture
// soak run (testdata/record/soak.sh) and the live tests: a server in one network
// namespace, a client in another.
//
//	churn server -addr IP:PORT
//	churn client -addr IP:PORT -local IP[,IP...] -rate N [-workers W] [-duration D] [-n N]
//
// Every connection sends a 100-byte request and gets a 200-byte response, then closes
// in one of three ways, chosen by connection number i: i%10==4: the server closes
// first; i%50==9: the client resets (SO_LINGER 0); otherwise the client closes first
// (the server closes when it reads EOF). The first request byte tells the server
// which ('s', 'r', 'c'). The client spreads its connections over the -local addresses
// (each has its own ephemeral port range) and prints a line of counts every 10 s
// to stderr, and the totals at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	reqSize  = 100
	respSize = 200
)

func main() {
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "client") {
		fmt.Fprintln(os.Stderr, "usage: churn server|client -addr IP:PORT [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "", "server address IP:PORT")
	local := fs.String("local", "", "client: comma-separated source addresses")
	rate := fs.Int("rate", 1000, "client: connections per second")
	workers := fs.Int("workers", 64, "client: connections in flight at most")
	duration := fs.Duration("duration", 0, "client: stop after this long (0: until SIGINT/SIGTERM or -n)")
	n := fs.Int64("n", 0, "client: stop after this many connections (0: no limit)")
	fs.Parse(os.Args[2:])
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "churn: -addr is required")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if os.Args[1] == "server" {
		server(ctx, *addr)
		return
	}
	if *duration > 0 {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, *duration)
		defer c()
	}
	client(ctx, *addr, *local, *rate, *workers, *n)
}

func server(ctx context.Context, addr string) {
	lc := net.ListenConfig{}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "churn server: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "churn server: listening on %s\n", addr)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	resp := make([]byte, respSize)
	for i := range resp {
		resp[i] = 'x'
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		go serve(c.(*net.TCPConn), resp)
	}
}

func serve(c *net.TCPConn, resp []byte) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := make([]byte, reqSize)
	if _, err := io.ReadFull(c, req); err != nil {
		return
	}
	if _, err := c.Write(resp); err != nil {
		return
	}
	switch req[0] {
	case 's': // the server closes first
		return
	default: // wait for the client's FIN (or RST)
		io.Copy(io.Discard, c)
	}
}

type counts struct {
	ok, failed, started atomic.Int64
}

func client(ctx context.Context, addr, local string, rate, workers int, limit int64) {
	var locals []*net.TCPAddr
	for _, s := range strings.Split(local, ",") {
		if s = strings.TrimSpace(s); s != "" {
			locals = append(locals, &net.TCPAddr{IP: net.ParseIP(s)})
		}
	}
	if len(locals) == 0 {
		locals = []*net.TCPAddr{nil}
	}
	var cnt counts
	jobs := make(chan int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := make([]byte, reqSize)
			resp := make([]byte, respSize)
			for i := range jobs {
				if one(addr, locals[i%int64(len(locals))], i, req, resp) {
					cnt.ok.Add(1)
				} else {
					cnt.failed.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	report := func() {
		el := time.Since(start).Seconds()
		fmt.Fprintf(os.Stderr, "churn client: %.0fs: %d connections ok, %d failed (%.0f/s)\n",
			el, cnt.ok.Load(), cnt.failed.Load(), float64(cnt.ok.Load())/el)
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	// Pace connections in batches every 10 ms.
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	var i int64
	var owed float64
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			report()
		case <-pace.C:
			owed += float64(rate) / 100
			for owed >= 1 {
				if limit > 0 && i >= limit {
					break loop
				}
				select {
				case jobs <- i:
					i++
					owed--
				default: // every worker busy: skip rather than queue up
					owed = 0
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
	report()
}

// one makes connection i; it reports whether the exchange completed.
func one(addr string, local *net.TCPAddr, i int64, req, resp []byte) bool {
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = local
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return false
	}
	tc := c.(*net.TCPConn)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	mode := byte('c')
	switch {
	case i%10 == 4:
		mode = 's'
	case i%50 == 9:
		mode = 'r'
	}
	req[0] = mode
	ok := false
	if _, err := tc.Write(req); err == nil {
		if _, err := io.ReadFull(tc, resp); err == nil {
			ok = true
		}
	}
	switch mode {
	case 's': // wait for the server's FIN, then close
		io.Copy(io.Discard, tc)
	case 'r':
		tc.SetLinger(0)
	}
	tc.Close()
	return ok
}

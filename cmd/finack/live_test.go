package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"golang.org/x/sys/unix"

	"github.com/finack/finack/analyzer"
)

// Live capture against the real Linux TCP stack: two network namespaces joined by a
// veth pair (as testdata/record/record.sh builds them), testdata/record/tcpscen
// playing the connections, nftables dropping final ACKs, and the finack binary
// capturing on the server's veth end as a user would run it, stopped with SIGINT.
// They need root (CI runs as root) and skip, saying so, without it.

// liveNetns is one pair of namespaces for a test.
type liveNetns struct {
	nsA, nsB     string // client, server
	vethA, vethB string
	dir          string // binaries and files, readable by every user
	finack       string
	tcpscen      string
}

const (
	liveCli  = "10.78.0.1"
	liveSrv  = "10.78.0.2"
	livePort = "7077"
)

var liveNetnsSeq atomic.Int32

// newLiveNetns builds the binaries and the namespaces, or skips the test.
func newLiveNetns(t *testing.T) *liveNetns {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: live capture on network namespaces takes a few seconds")
	}
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux only")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces and capture (CI runs as root; run the tests with sudo to include it)")
	}
	for _, tool := range []string{"ip", "nft", "ss"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/deps --test installs it)", tool)
		}
	}
	// A directory every user can read and write: finack -Z drops to nobody.
	dir, err := os.MkdirTemp("", "finack-live-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	n := liveNetnsSeq.Add(1)
	id := fmt.Sprintf("%d%d", os.Getpid()%10000000, n)
	e := &liveNetns{nsA: "fkl-a-" + id, nsB: "fkl-b-" + id, vethA: "fkla" + id, vethB: "fklb" + id, dir: dir,
		finack: filepath.Join(dir, "finack"), tcpscen: filepath.Join(dir, "tcpscen")}
	for _, b := range []struct{ out, pkg string }{{e.finack, "."}, {e.tcpscen, "../../testdata/record/tcpscen"}} {
		if out, err := exec.Command("go", "build", "-o", b.out, b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	for _, ns := range []string{e.nsA, e.nsB} {
		e.sh(t, "ip", "netns", "add", ns)
		// Every process the test starts in the namespaces is ended by its own
		// cleanup (liveProc), which runs before this one.
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
			}
		})
	}
	e.sh(t, "ip", "link", "add", e.vethA, "netns", e.nsA, "type", "veth", "peer", "name", e.vethB, "netns", e.nsB)
	e.sh(t, "ip", "-n", e.nsA, "addr", "add", liveCli+"/24", "dev", e.vethA)
	e.sh(t, "ip", "-n", e.nsB, "addr", "add", liveSrv+"/24", "dev", e.vethB)
	for _, p := range [][2]string{{e.nsA, e.vethA}, {e.nsB, e.vethB}} {
		e.sh(t, "ip", "-n", p[0], "link", "set", "lo", "up")
		if _, err := exec.LookPath("ethtool"); err == nil {
			// Offloads off: every segment captured as TCP sent it. As without
			// ethtool, the test goes on if they stay on.
			args := []string{"ip", "netns", "exec", p[0], "ethtool", "-K", p[1], "tso", "off", "gso", "off", "gro", "off"}
			if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
				t.Logf("%s: %v (offloads stay on)\n%s", strings.Join(args, " "), err, out)
			}
		}
		e.sh(t, "ip", "-n", p[0], "link", "set", p[1], "up")
		e.sh(t, "ip", "netns", "exec", p[0], "sysctl", "-qw", "net.ipv4.tcp_timestamps=1", "net.ipv4.tcp_rfc1337=0",
			"net.ipv4.tcp_orphan_retries=0", "net.ipv4.tcp_fin_timeout=60")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, _ := exec.Command("ip", "-n", e.nsA, "-br", "link", "show", e.vethA).Output()
		b, _ := exec.Command("ip", "-n", e.nsB, "-br", "link", "show", e.vethB).Output()
		if strings.Contains(string(a), " UP ") && strings.Contains(string(b), " UP ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("veth did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

func (e *liveNetns) sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// liveProc is a finack (or other) process started in a namespace; its stdout lines
// are kept with the time each arrived.
type liveProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	times  []time.Time
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// start runs argv in namespace ns (ip netns exec execs it: the pid is the program's).
func (e *liveNetns) start(t *testing.T, ns string, cred *syscall.Credential, argv ...string) *liveProc {
	t.Helper()
	p := &liveProc{done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	p.cmd.Dir = e.dir
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("killing %s: %v", p.cmd.Args, err)
			}
			<-p.done
		}
	})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.times = append(p.times, time.Now())
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *liveProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *liveProc) output() ([]string, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...), append([]time.Time(nil), p.times...)
}

// startFinack runs finack in the server's namespace and waits until it listens.
func (e *liveNetns) startFinack(t *testing.T, cred *syscall.Credential, args ...string) *liveProc {
	t.Helper()
	p := e.start(t, e.nsB, cred, append([]string{e.finack}, args...)...)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderrText(), "listening on") {
		select {
		case <-p.done:
			t.Fatalf("finack %s exited: %v\n%s", strings.Join(args, " "), p.err, p.stderrText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("finack did not start listening:\n%s", p.stderrText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// wait waits for the process to end by itself and returns its exit code.
func (p *liveProc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("killing %s: %v", p.cmd.Args, err)
		}
		<-p.done
		t.Fatalf("%s did not end within %v:\n%s", p.cmd.Args, timeout, p.stderrText())
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.cmd.Args, p.err)
	return -1
}

// interrupt sends SIGINT, as Ctrl-C would, and waits for the exit code.
func (p *liveProc) interrupt(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	return p.wait(t, 20*time.Second)
}

// scenario plays one tcpscen scenario between the namespaces; finalAckDrops > 0
// drops that many of the client's final ACKs before they leave its namespace (as
// record.sh's final-ack-dropped does), then lets the next one through.
func (e *liveNetns) scenario(t *testing.T, scen string, finalAckDrops int) {
	t.Helper()
	syncDir := filepath.Join(e.dir, fmt.Sprintf("sync-%s-%d", scen, time.Now().UnixNano()))
	if err := os.Mkdir(syncDir, 0o777); err != nil {
		t.Fatal(err)
	}
	addr := liveSrv + ":" + livePort
	srv := e.start(t, e.nsB, nil, e.tcpscen, "server", "-scen", scen, "-addr", addr, "-sync", syncDir)
	waitFile(t, filepath.Join(syncDir, "s-ready"), 10*time.Second)
	cliArgs := []string{e.tcpscen, "client", "-scen", scen, "-addr", addr, "-sync", syncDir}
	if finalAckDrops > 0 {
		cliArgs = append(cliArgs, "-barrier")
	}
	cli := e.start(t, e.nsA, nil, cliArgs...)
	if finalAckDrops > 0 {
		waitFile(t, filepath.Join(syncDir, "c-exchanged"), 10*time.Second)
		time.Sleep(250 * time.Millisecond)
		rules := fmt.Sprintf(`table inet finacktest {
	chain output {
		type filter hook output priority filter; policy accept;
		tcp dport %s tcp flags == ack numgen inc mod 1000000 < %d counter drop
	}
}
`, livePort, finalAckDrops)
		cmd := exec.Command("ip", "netns", "exec", e.nsA, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v\n%s", err, out)
		}
		if err := os.WriteFile(filepath.Join(syncDir, "c-go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*liveProc{cli, srv} {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("tcpscen %s exited %d:\n%s", p.cmd.Args[4], code, p.stderrText())
		}
	}
	if finalAckDrops > 0 {
		// The server leaves LAST_ACK when an ACK gets through.
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, _ := exec.Command("ip", "netns", "exec", e.nsB, "ss", "-Htan", "state", "last-ack").Output()
			if strings.TrimSpace(string(out)) == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the server's socket stayed in LAST_ACK")
			}
			time.Sleep(50 * time.Millisecond)
		}
		e.sh(t, "ip", "netns", "exec", e.nsA, "nft", "delete", "table", "inet", "finacktest")
	}
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inNetns runs fn on an OS thread moved into network namespace ns: sockets fn
// creates belong to ns, and stay there whatever thread uses them later. The thread
// goes back to its own namespace before it is unlocked (if it cannot, it stays
// locked and ends with the goroutine).
func inNetns(ns string, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer func() { _ = orig.Close() }() // read only, for its descriptor
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer func() { _ = f.Close() }() // read only, for its descriptor
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("setns: %v", err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

// scrape fetches a URL from inside namespace ns.
func (e *liveNetns) scrape(t *testing.T, ns, url string) (string, error) {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = inNetns(ns, func() error {
			var d net.Dialer
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return string(b), err
}

// metricValue returns the value of the sample named exactly series ("name" or
// `name{labels}`) in a Prometheus exposition, and whether it is there.
func metricValue(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

type liveRecord struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	analyzer.Finding
	Live *pipeline.LiveSummary `json:"live"`
}

// TestLiveCapture: finack -i on the server's veth while real connections close, one
// with its final ACK dropped three times. While it runs: the missing_final_ack shows
// as provisional within a second or two of the retransmitted FIN, and the metrics
// endpoint counts packets, connections and TIME_WAIT per local host. On SIGINT: the
// report (NDJSON) has the final finding (recovered), the close shapes, libpcap's
// counts; the file -w saved gives the same connections and findings when read with
// -r. Two more finack processes on the same veth stop by themselves at -c 5 and
// --duration 2s.
func TestLiveCapture(t *testing.T) {
	e := newLiveNetns(t)
	saved := filepath.Join(e.dir, "saved.pcap")
	const metricsAddr = "127.0.0.1:9177" // inside the server's namespace
	main := e.startFinack(t, nil, "-i", e.vethB, "-o", "ndjson", "--metrics-addr", metricsAddr, "-w", saved, "--interval", "1s")
	count := e.startFinack(t, nil, "-i", e.vethB, "-o", "json", "-c", "5")
	dur := e.startFinack(t, nil, "-i", e.vethB, "-o", "json", "--duration", "2s", "tcp", "port", livePort)
	e.scenario(t, "client-close", 3) // the final ACK dropped 3 times: missing_final_ack, recovered
	e.scenario(t, "server-close", 0) // the server holds TIME_WAIT: a local host's TIME_WAIT

	// Live output: the provisional finding came while the connection was tracked.
	lines, times := main.output()
	var prov *liveRecord
	var provAt time.Time
	for i, l := range lines {
		var r liveRecord
		if json.Unmarshal([]byte(l), &r) == nil && r.Type == "finding" && r.Status == "provisional" && r.Kind == analyzer.MissingFinalAck {
			prov, provAt = &r, times[i]
			break
		}
	}
	if prov == nil {
		t.Fatalf("no provisional missing_final_ack during the run; output so far:\n%s\nstderr:\n%s", strings.Join(lines, "\n"), main.stderrText())
	}
	// Its time is the first FIN; the second transmission, which makes it a finding,
	// came about 0.2 s later; delivery is immediate, the analysis runs every 250 ms.
	if lag := provAt.Sub(prov.Time); lag > 3*time.Second || lag < 0 {
		t.Errorf("provisional missing_final_ack printed %v after its first FIN (want within a second or two)", lag)
	} else {
		t.Logf("provisional missing_final_ack printed %v after the first FIN (%s)", lag.Round(time.Millisecond), prov.Outcome)
	}

	// Metrics, scraped inside the namespace. TIME_WAIT per host is refreshed every
	// second: poll briefly.
	want := map[string]float64{
		`finack_time_wait_sockets{host="` + liveSrv + `"}`:            1, // server-close: the server's TIME_WAIT
		"finack_remote_time_wait_sockets":                             1, // client-close: the client's
		`finack_sockets{host="` + liveSrv + `",state="TIME_WAIT"}`:    1,
		`finack_sockets{host="` + liveSrv + `",state="LAST_ACK"}`:     0,
		`finack_provisional_findings_total{kind="missing_final_ack"}`: 1,
		`finack_findings_total{kind="missing_final_ack"}`:             0, // final once TIME_WAIT is over
		"finack_tracked_connections":                                  2,
		"finack_connections_total":                                    0,
		"finack_kernel_dropped_packets_total":                         0,
		"finack_evicted_connections_total":                            0,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		body, err = e.scrape(t, e.nsB, "http://"+metricsAddr+"/metrics")
		ok := err == nil
		for series, v := range want {
			if got, found := metricValue(body, series); !found || got != v {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("scrape: %v", err)
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for series, v := range want {
		if got, found := metricValue(body, series); !found || got != v {
			t.Errorf("metric %s = %v (present %v), want %v", series, got, found, v)
		}
	}
	if n, _ := metricValue(body, "finack_packets_total"); n < 20 {
		t.Errorf("finack_packets_total %v, want the packets of two connections", n)
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}

	// Ctrl-C: the report.
	if code := main.interrupt(t); code != pipeline.ExitOK {
		t.Fatalf("finack exited %d after SIGINT:\n%s", code, main.stderrText())
	}
	lines, _ = main.output()
	var sum *liveRecord
	var sumLine string
	var conns []analyzer.Connection
	finals := map[string]analyzer.Finding{}
	for _, l := range lines {
		var r liveRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line %q: %v", l, err)
		}
		switch {
		case r.Type == "summary":
			sum, sumLine = &r, l
		case r.Type == "connection":
			var c analyzer.Connection
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("stdout line %q: %v", l, err)
			}
			conns = append(conns, c)
		case r.Type == "finding" && r.Status == "final":
			finals[string(r.Kind)+" "+r.Sender] = r.Finding
		}
	}
	if sum == nil {
		t.Fatalf("no summary after SIGINT:\n%s", strings.Join(lines, "\n"))
	}
	var s struct {
		Summary report.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(`{"summary":`+sumLine+`}`), &s); err != nil {
		t.Fatalf("summary %q: %v", sumLine, err)
	}
	var ls pipeline.LiveSummary
	if err := json.Unmarshal(s.Summary.Live, &ls); err != nil {
		t.Fatalf("summary.live %s: %v", s.Summary.Live, err)
	}
	if ls.StoppedBy != "signal" || ls.Dropped != 0 || ls.Received < s.Summary.Packets || ls.HeldAtEnd != 2 || ls.Warning != "" {
		t.Errorf("summary.live %+v: want stopped by signal, no drops, received >= %d packets, 2 held", ls, s.Summary.Packets)
	}
	if s.Summary.Connections != 2 || s.Summary.Closes[analyzer.FourWay]+s.Summary.Closes[analyzer.ThreeWay] != 2 {
		t.Errorf("summary: %d connections, closes %v: want 2 FIN closes", s.Summary.Connections, s.Summary.Closes)
	}
	mfa, ok := finals["missing_final_ack server"]
	if !ok || mfa.Outcome != analyzer.OutcomeRecovered || mfa.Count == nil || *mfa.Count != 3 {
		t.Errorf("final missing_final_ack %+v: want outcome recovered, count 3", mfa)
	}
	if len(conns) != 2 {
		t.Errorf("%d connection records, want the 2 still tracked at the stop", len(conns))
	}
	if !strings.Contains(main.stderrText(), "packets") || !strings.Contains(main.stderrText(), "tracked") {
		t.Errorf("no --interval line on stderr:\n%s", main.stderrText())
	}

	// The saved file, read with -r: the same connections and findings.
	fileOut, fileErr, code := runIn(t, e.dir, "-r", saved, "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("finack -r %s: exit %d: %s", saved, code, fileErr)
	}
	var fileDoc report.Document
	if err := json.Unmarshal([]byte(fileOut), &fileDoc); err != nil {
		t.Fatal(err)
	}
	if fileDoc.Summary.Packets != s.Summary.Packets || fmt.Sprint(fileDoc.Summary.Closes) != fmt.Sprint(s.Summary.Closes) ||
		fmt.Sprint(fileDoc.Summary.FindingCounts) != fmt.Sprint(s.Summary.FindingCounts) {
		t.Errorf("-r of the -w file: packets %d closes %v findings %v; live: packets %d closes %v findings %v",
			fileDoc.Summary.Packets, fileDoc.Summary.Closes, fileDoc.Summary.FindingCounts,
			s.Summary.Packets, s.Summary.Closes, s.Summary.FindingCounts)
	}
	norm := func(cs []analyzer.Connection) string {
		var b strings.Builder
		for _, c := range cs {
			c.IdleBeforeEndMS = nil // the file does not record when the capture stopped
			j, _ := json.Marshal(c)
			b.Write(j)
			b.WriteByte('\n')
		}
		return b.String()
	}
	if a, b := norm(fileDoc.Connections), norm(conns); a != b {
		t.Errorf("connections differ:\n-r of the -w file:\n%slive:\n%s", a, b)
	}
	for _, f := range fileDoc.Findings {
		g, ok := finals[string(f.Kind)+" "+f.Sender]
		if !ok || !pipeline.SameOutcome(&f, &g) || fmt.Sprint(f.Frames) != fmt.Sprint(g.Frames) {
			t.Errorf("finding of the -w file %+v; live final %+v", f, g)
		}
	}

	// -c 5 and --duration 2s stopped by themselves.
	for _, c := range []struct {
		p       *liveProc
		by      string
		packets uint64
	}{{count, "count", 5}, {dur, "duration", 0}} {
		if code := c.p.wait(t, 10*time.Second); code != pipeline.ExitOK {
			t.Errorf("%s: exit %d: %s", c.by, code, c.p.stderrText())
			continue
		}
		lines, _ := c.p.output()
		var doc struct {
			Summary struct {
				Packets uint64               `json:"packets"`
				Filter  string               `json:"filter"`
				Live    pipeline.LiveSummary `json:"live"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
			t.Errorf("%s: stdout is not one JSON document: %v", c.by, err)
			continue
		}
		if doc.Summary.Live.StoppedBy != c.by || (c.packets > 0 && doc.Summary.Packets != c.packets) {
			t.Errorf("%s: stopped by %q after %d packets", c.by, doc.Summary.Live.StoppedBy, doc.Summary.Packets)
		}
		if c.by == "duration" {
			if el := doc.Summary.Live.Seconds; el < 2 || el > 4 {
				t.Errorf("--duration 2s ran %vs", el)
			}
			if doc.Summary.Filter != "tcp port "+livePort {
				t.Errorf("filter %q", doc.Summary.Filter)
			}
		}
	}
}

// TestLiveDropPrivileges: finack -Z nobody keeps capturing after every thread has
// switched to nobody's uid and gid, and the file -w writes belongs to nobody. Text
// output: the report starts with the interface and libpcap's counts.
func TestLiveDropPrivileges(t *testing.T) {
	e := newLiveNetns(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	saved := filepath.Join(e.dir, "nobody.pcap")
	p := e.startFinack(t, nil, "-i", e.vethB, "-Z", "nobody", "-w", saved)
	pid := p.cmd.Process.Pid
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	uidRe := regexp.MustCompile(`(?m)^(Uid|Gid):\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`)
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // the thread ended
		}
		for _, m := range uidRe.FindAllStringSubmatch(string(b), -1) {
			want := nobody.Uid
			if m[1] == "Gid" {
				want = nobody.Gid
			}
			for _, id := range m[2:] {
				if id != want {
					t.Errorf("%s: %s, want %s everywhere", task, m[0], want)
				}
			}
		}
	}
	e.scenario(t, "client-close", 0)
	if code := p.interrupt(t); code != pipeline.ExitOK {
		t.Fatalf("exit %d:\n%s", code, p.stderrText())
	}
	lines, _ := p.output()
	out := strings.Join(lines, "\n")
	for _, want := range []string{"interface    " + e.vethB, "kernel       ", "connections  1 TCP", "closes       four_way 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	fi, err := os.Stat(saved)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.Itoa(int(st.Uid)) != nobody.Uid {
		t.Errorf("%s belongs to uid %d, want nobody (%s)", saved, st.Uid, nobody.Uid)
	}
}

// TestLiveErrors: one line on stderr and exit 2 for a missing interface, a filter
// that does not compile, a user who may not capture (naming the capabilities that
// would do), and live flags misused.
func TestLiveErrors(t *testing.T) {
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"-r", "client-close.pcap", "--duration", "5s"}, "--duration: only with -i"},
		{[]string{"-r", "client-close.pcap", "--metrics-addr", "127.0.0.1:0"}, "--metrics-addr: only with -i"},
		{[]string{"-i", "lo", "-r", "client-close.pcap"}, "-i: captures live; -r reads files"},
		{[]string{"-i", "lo", "-o", "junit"}, "-o:"},
		{[]string{"-i", "lo", "-s", "100"}, "-s: snapshot length"},
		{[]string{"-i", "lo", "--baseline", "x.json"}, "--baseline: not available with -i"},
		{[]string{"-i", "lo", "-w", "-"}, "-w:"},
		{[]string{"-i", "lo", "--metrics-addr", "9177"}, "--metrics-addr: want HOST:PORT"},
		{[]string{"-i", "lo", "--fail-on", "nonsense"}, "--fail-on:"},
		{[]string{"-i", "lo", "--workers", "2"}, "--workers: only with -r"},
		{[]string{"-r", "client-close.pcap", "--workers", "0"}, "--workers: must be 1 to 64"},
		{[]string{"-r", "client-close.pcap", "--idle-timeout", "-2s"}, "--idle-timeout: must not be negative"},
	}
	if os.Geteuid() == 0 {
		usage = append(usage,
			struct {
				args []string
				want string
			}{[]string{"-i", "finack-nosuch0"}, "-i finack-nosuch0: no such interface"},
			struct {
				args []string
				want string
			}{[]string{"-i", "lo", "tcp", "port", "banana"}, `filter "tcp port banana"`},
			struct {
				args []string
				want string
			}{[]string{"-i", "lo", "-Z", "finack-no-such-user"}, `-Z: unknown user "finack-no-such-user"`},
		)
	}
	for _, tc := range usage {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, tc.args...)
			if code != pipeline.ExitError || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q: want 2 and one line with %q", code, errOut, tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
		})
	}

	t.Run("no permission", func(t *testing.T) {
		const want = "permission denied: capturing needs root or the capabilities cap_net_raw,cap_net_admin"
		if os.Geteuid() != 0 {
			// Unprivileged already: finack itself must refuse (unless it was given
			// the capabilities, which a test cannot take away).
			_, errOut, code := runIn(t, pcapDir, "-i", "lo")
			if code == pipeline.ExitError && strings.Contains(errOut, "permission denied") {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr %q: want %q", errOut, want)
				}
				return
			}
			t.Skipf("capturing on lo did not fail for uid %d (capabilities?): exit %d %q", os.Geteuid(), code, errOut)
		}
		if testing.Short() {
			t.Skip("-short: builds the binary")
		}
		// As root: the binary, run as nobody with no capabilities.
		dir, err := os.MkdirTemp("", "finack-perm-")
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.RemoveAll(dir); err != nil {
				t.Error(err)
			}
		}()
		if err := os.Chmod(dir, 0o755); err != nil { // nobody runs the binary in it
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "finack")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		cmd := exec.Command(bin, "-i", "lo", "-c", "1")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != pipeline.ExitError {
			t.Fatalf("as nobody: %v, stderr %q", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), want) || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 || stdout.Len() != 0 {
			t.Errorf("stderr %q: want one line with %q", stderr.String(), want)
		}
	})
}

// TestListInterfaces: -D lists lo and any, numbered as tcpdump -D numbers them.
func TestListInterfaces(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("interface names are Linux's")
	}
	out, errOut, code := runIn(t, pcapDir, "-D")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^\d+\.lo \[.*Loopback`).MatchString(out) || !regexp.MustCompile(`(?m)^\d+\.any `).MatchString(out) {
		t.Errorf("-D output:\n%s", out)
	}
}

// TestLiveInterfaceGone: when the interface goes away under it, finack prints the
// report of what it captured, then one line, and exits 2.
func TestLiveInterfaceGone(t *testing.T) {
	e := newLiveNetns(t)
	p := e.startFinack(t, nil, "-i", e.vethB, "-o", "json")
	e.scenario(t, "client-close", 0)
	e.sh(t, "ip", "-n", e.nsA, "link", "del", e.vethA) // takes its peer along
	if code := p.wait(t, 10*time.Second); code != pipeline.ExitError {
		t.Fatalf("exit %d, want 2:\n%s", code, p.stderrText())
	}
	lines, _ := p.output()
	var doc struct {
		Summary struct {
			Connections int                  `json:"connections"`
			Live        pipeline.LiveSummary `json:"live"`
		} `json:"summary"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
		t.Fatalf("no report: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if doc.Summary.Connections != 1 || doc.Summary.Live.StoppedBy != "error" || doc.Error == "" {
		t.Errorf("report: %d connections, stopped by %q, error %q", doc.Summary.Connections, doc.Summary.Live.StoppedBy, doc.Error)
	}
	last := strings.TrimSpace(p.stderrText())
	if i := strings.LastIndexByte(last, '\n'); i >= 0 {
		last = last[i+1:]
	}
	if !strings.HasPrefix(last, "finack: -i "+e.vethB+": capture stopped:") {
		t.Errorf("last stderr line %q", last)
	}
}

// TestLiveDropsWarning: when the kernel drops packets (here: finack stopped with
// SIGSTOP while 5,000 datagrams fill a 64 KiB buffer), the report says how many and
// warns, prominently, that findings may be artifacts of the drops.
func TestLiveDropsWarning(t *testing.T) {
	e := newLiveNetns(t)
	p := e.startFinack(t, nil, "-i", e.vethB, "-B", "64")
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	err := inNetns(e.nsA, func() error {
		c, err := net.Dial("udp4", liveSrv+":9")
		if err != nil {
			return err
		}
		b := make([]byte, 100)
		for range 5000 {
			_, _ = c.Write(b) // an ICMP error may make a write fail: the datagrams still went out
		}
		return c.Close()
	})
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if code := p.interrupt(t); code != pipeline.ExitOK {
		t.Fatalf("exit %d:\n%s", code, p.stderrText())
	}
	lines, _ := p.output()
	out := strings.Join(lines, "\n")
	m := regexp.MustCompile(`(?m)^kernel +(\d+) packets received by filter, (\d+) dropped by kernel`).FindStringSubmatch(out)
	if m == nil || m[2] == "0" {
		t.Fatalf("no kernel drops reported:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^WARNING +\d+ packets were dropped .*findings may be artifacts of the drops`).MatchString(out) {
		t.Errorf("no WARNING line in the report:\n%s", out)
	}
	if !strings.Contains(p.stderrText(), "finack: WARNING: ") {
		t.Errorf("no warning on stderr:\n%s", p.stderrText())
	}
	t.Logf("kernel: %s received, %s dropped", m[1], m[2])
}

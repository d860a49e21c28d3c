package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/metrics"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestLiveHTML: a live run with --html and --metrics-addr serves its page at / while
// it runs, rebuilt every --interval (here at every tick: the page served after the
// last packet counts every packet) and reloading itself as often, and at the stop
// writes the page of its report to the file and serves that one. Over final-ack-dropped.pcap:
// one incident (the unanswered FIN: missing_final_ack and fin_retransmit), the
// client in TIME_WAIT at the stop.
func TestLiveHTML(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	m := metrics.New(ln, version)
	defer synth.CheckClose(t, m)
	r, err := capture.Open([]string{filepath.Join(pcapDir, "final-ack-dropped.pcap")}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, r)
	prof, _ := analyzer.LookupProfile("linux")
	page := filepath.Join(t.TempDir(), "live.html")
	cfg := pipeline.LiveConfig{
		Options: report.Options{Output: "text", TimeWait: reassembly.DefaultTimeWait, View: report.ViewOptions{Profile: prof},
			MaxConns: pipeline.DefaultMaxConns, IdleTimeout: pipeline.DefaultIdleTimeout, HTML: page},
		Live: pipeline.LiveOptions{Iface: "test0", MaxFindings: pipeline.DefaultMaxFindings, Snaplen: capture.DefaultSnapLen,
			Interval: time.Nanosecond, Tick: -1},
	}
	var out, errb bytes.Buffer
	run := pipeline.NewLiveRun(cfg, synth.FileSource{R: r}, &out, &errb, m)
	var stop atomic.Bool
	stoppedBy, readErr := run.Loop(&stop)

	during := synth.HTTPGet(t, "http://"+m.Addr()+"/")
	for _, want := range []string{`<meta http-equiv="refresh" content="1">`, "<th>packets</th><td>14 (14 TCP segments)</td>", "<title>finack: live capture on test0</title>", `id="chart-timewait-svg"`, `id="chart-closes-svg"`} {
		if !strings.Contains(during, want) {
			t.Errorf("page served during the run lacks %q", want)
		}
	}
	if code := run.Finish(stoppedBy, readErr); code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	final := string(raw)
	if served := synth.HTTPGet(t, "http://"+m.Addr()+"/"); served != final {
		t.Error("the page served after the stop is not the one written")
	}
	if strings.Contains(final, `http-equiv="refresh"`) {
		t.Error("the page of the stopped run reloads itself")
	}
	if n := strings.Count(final, "<tr data-kinds="); n != 1 {
		t.Errorf("%d incident rows, want 1", n)
	}
	for _, want := range []string{`data-kinds="missing_final_ack fin_retransmit"`, "findings</th><td>missing_final_ack 1, fin_retransmit 1</td>",
		`<g class="series" data-series="10.77.0.1">`} {
		if !strings.Contains(final, want) {
			t.Errorf("final page lacks %q", want)
		}
	}
	// The client's TIME_WAIT at the stop is the series' last point.
	ser := final[strings.Index(final, `data-series="10.77.0.1"`):]
	ser = ser[:strings.Index(ser, "</g>")]
	pts := rePoint.FindAllStringSubmatch(ser, -1)
	if len(pts) == 0 || pts[len(pts)-1][2] != "1" {
		t.Errorf("TIME_WAIT series of 10.77.0.1: %v, want it to end at 1", pts)
	}

	// In the browser: no console message.
	bin := chromiumOrEmpty()
	if bin == "" {
		t.Log("no headless Chromium: the page is not loaded in a browser (TestHTMLInBrowser says so too)")
		return
	}
	shot := filepath.Join(artifactDir(t), "live-final-ack-dropped.png")
	if _, console := browse(t, bin, page, "--screenshot="+shot); len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	t.Logf("screenshot: %s", shot)
}

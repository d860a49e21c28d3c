package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
)

// TestPortWrap records 20,000 real connections from one client to one server port,
// each closed by the server first, with the client's port range cut to 1,000 ports:
// the client's ports wrap around about 40 times while the server holds every
// 4-tuple in TIME_WAIT (Linux uses every other port of the range for connect).
// finack's TIME_WAIT peak, count at the end, total and port-pressure figures must
// equal an independent count replayed from the capture's closes by
// testdata/record/twcount.awk over tshark's fields; the states at the end must
// equal the kernel's socket table; and every reuse must be one tshark flags.
func TestPortWrap(t *testing.T) {
	needNetns(t, "tshark", "awk")
	dir := t.TempDir()
	out := recordScenarios(t, dir, []string{"WRAP_N=20000", "WRAP_PORTS=40000 40999"}, "port-wrap")
	if strings.Contains(out, "KERNEL DROPS") {
		// The capture is not the scenario (a busy machine): the comparisons below
		// would test the drops, not finack.
		t.Fatalf("tcpdump lost packets while recording; is something else loading the machine?\n%s", tail(out, 5))
	}
	pcap := filepath.Join(dir, "port-wrap.pcap")

	// The independent count.
	fields := exec.Command("tshark", "-r", pcap, "-T", "fields", "-E", "separator= ",
		"-e", "frame.time_epoch", "-e", "ip.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "tcp.dstport",
		"-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset", "-e", "tcp.len")
	awk := exec.Command("awk", "-v", "server=10.77.0.2:7077", "-v", "tw=60", "-f", "../../testdata/record/twcount.awk")
	pipe, err := fields.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	awk.Stdin = pipe
	if err := fields.Start(); err != nil {
		t.Fatal(err)
	}
	counted, err := awk.Output()
	if err != nil {
		t.Fatalf("twcount.awk: %v", err)
	}
	if err := fields.Wait(); err != nil {
		t.Fatalf("tshark: %v", err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(counted)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		want[k] = v
	}

	report, errOut, code := runIn(t, dir, "-r", "port-wrap.pcap", "-o", "json", "--states", "--port-range", "40000-40999")
	if code != pipeline.ExitOK {
		t.Fatalf("finack: exit %d: %s", code, errOut)
	}
	var doc struct {
		Summary struct {
			Connections int            `json:"connections"`
			Findings    map[string]int `json:"findings"`
		} `json:"summary"`
		States   map[string]map[string]int `json:"states"`
		TimeWait struct {
			Hosts []struct {
				Host   string    `json:"host"`
				Peak   int       `json:"peak"`
				PeakAt time.Time `json:"peak_at"`
				AtEnd  int       `json:"at_end"`
				Total  int       `json:"total"`
			} `json:"hosts"`
			PortPressure []struct {
				Client    string    `json:"client"`
				Server    string    `json:"server"`
				PeakPorts int       `json:"peak_ports"`
				PeakAt    time.Time `json:"peak_at"`
				Flagged   bool      `json:"flagged"`
			} `json:"port_pressure"`
		} `json:"time_wait"`
	}
	if err := json.Unmarshal([]byte(report), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Connections != 20000 || len(doc.TimeWait.Hosts) != 1 || len(doc.TimeWait.PortPressure) != 1 {
		t.Fatalf("connections %d, TIME_WAIT hosts %d, port pairs %d: want 20000, 1, 1",
			doc.Summary.Connections, len(doc.TimeWait.Hosts), len(doc.TimeWait.PortPressure))
	}
	h, pp := doc.TimeWait.Hosts[0], doc.TimeWait.PortPressure[0]
	epoch := func(t time.Time) string { return fmt.Sprintf("%.6f", float64(t.UnixMicro())/1e6) }
	got := map[string]string{
		"tw_peak": strconv.Itoa(h.Peak), "tw_peak_at": epoch(h.PeakAt), "tw_at_end": strconv.Itoa(h.AtEnd),
		"tw_total": strconv.Itoa(h.Total), "ports_peak": strconv.Itoa(pp.PeakPorts), "ports_peak_at": epoch(pp.PeakAt),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: finack %s, independent count %s", k, got[k], w)
		}
	}
	if h.Host != "10.77.0.2" || h.Peak < 400 || !pp.Flagged {
		t.Errorf("TIME_WAIT host %s peak %d, port pressure flagged %v: want the server, hundreds, flagged", h.Host, h.Peak, pp.Flagged)
	}
	// The reuses: one per connection after each port's first.
	if n := doc.Summary.Findings["reuse_in_2msl"]; n != 20000-pp.PeakPorts {
		t.Errorf("reuse_in_2msl %d, want %d (every connection but each port's first)", n, 20000-pp.PeakPorts)
	}
	// The states at the end against the kernel's own table.
	kernel := kernelStates(t, filepath.Join(dir, "port-wrap.ss.txt"))
	g, _ := json.Marshal(doc.States)
	k, _ := json.Marshal(kernel)
	if string(g) != string(k) {
		t.Errorf("states at the end:\nfinack %s\nkernel %s", g, k)
	}
}

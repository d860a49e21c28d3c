package main

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/capture/synth"
)

// jsonReport is the part of -o json the cross-checks read.
type jsonReport struct {
	Summary struct {
		Last time.Time `json:"last_packet"`
	} `json:"summary"`
	Findings []struct {
		Kind        string   `json:"kind"`
		Outcome     string   `json:"outcome"`
		Frames      []uint64 `json:"frames"`
		Incarnation int      `json:"incarnation"`
	} `json:"findings"`
	Connections []struct {
		Client         string `json:"client"`
		Server         string `json:"server"`
		Incarnation    int    `json:"incarnation"`
		FirstFrame     uint64 `json:"first_frame"`
		TimeWaitHolder string `json:"time_wait_holder"`
		TimeWaitUntil  string `json:"time_wait_until"`
		RolesKnown     bool   `json:"roles_known"`
	} `json:"connections"`
}

func reportOf(t *testing.T, file string) jsonReport {
	t.Helper()
	out, errOut, code := runIn(t, pcapDir, "-r", file, "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("finack -r %s: exit %d: %s", file, code, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// recordedCaptures are the captures recorded from the real kernel: each has the
// kernel's own socket table (ss) beside it.
func recordedCaptures(t *testing.T) []string {
	t.Helper()
	ss, err := filepath.Glob(filepath.Join(pcapDir, "*.ss.txt"))
	if err != nil || len(ss) == 0 {
		t.Fatalf("no recorded captures with an ss snapshot in %s", pcapDir)
	}
	var files []string
	for _, s := range ss {
		files = append(files, strings.TrimSuffix(filepath.Base(s), ".ss.txt")+".pcap")
	}
	return files
}

// timeWaitSockets reads the TIME-WAIT lines of an ss snapshot: local → peer.
func timeWaitSockets(t *testing.T, path string) map[[2]netip.AddrPort]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, f)
	tw := map[[2]netip.AddrPort]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[0] != "TIME-WAIT" {
			continue
		}
		local, err1 := netip.ParseAddrPort(fields[3])
		peer, err2 := netip.ParseAddrPort(fields[4])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: unreadable line %q", path, sc.Text())
		}
		tw[[2]netip.AddrPort{local, peer}] = true
	}
	return tw
}

// TestTimeWaitMatchesKernel checks finack's TIME_WAIT holders at the end of every
// recorded capture against the kernel's own socket table (ss), taken in both network
// namespaces right before the capture stopped: every TIME-WAIT socket the kernel had
// must be a TIME_WAIT finack reports as running at the end of the capture, and the
// other way round.
func TestTimeWaitMatchesKernel(t *testing.T) {
	for _, file := range recordedCaptures(t) {
		t.Run(file, func(t *testing.T) {
			kernel := timeWaitSockets(t, filepath.Join(pcapDir, strings.TrimSuffix(file, ".pcap")+".ss.txt"))
			rep := reportOf(t, file)
			ours := map[[2]netip.AddrPort]bool{}
			for _, c := range rep.Connections {
				if c.TimeWaitUntil == "" {
					continue
				}
				until, err := time.Parse(time.RFC3339Nano, c.TimeWaitUntil)
				if err != nil {
					t.Fatal(err)
				}
				if !until.After(rep.Summary.Last) {
					continue // TIME_WAIT over before the capture ended
				}
				cl, sv := netip.MustParseAddrPort(c.Client), netip.MustParseAddrPort(c.Server)
				if c.TimeWaitHolder == "client" || c.TimeWaitHolder == "both" {
					ours[[2]netip.AddrPort{cl, sv}] = true
				}
				if c.TimeWaitHolder == "server" || c.TimeWaitHolder == "both" {
					ours[[2]netip.AddrPort{sv, cl}] = true
				}
			}
			for k := range kernel {
				if !ours[k] {
					t.Errorf("kernel has %s → %s in TIME-WAIT; finack does not", k[0], k[1])
				}
			}
			for k := range ours {
				if !kernel[k] {
					t.Errorf("finack has %s → %s in TIME_WAIT; the kernel did not", k[0], k[1])
				}
			}
		})
	}
}

// TestReusedPortsMatchTshark compares, on the recorded captures, the SYNs tshark flags
// tcp.analysis.reused_ports with the incarnations finack starts with a SYN on a
// 4-tuple already used. One known difference, checked here rather than ignored: when
// the TIME_WAIT holder refuses a SYN (reuse_in_2msl outcome refused), the client's
// RST ends the attempt for tshark, which flags the retried SYN as another reuse;
// finack keeps it in the same incarnation (same ISN) and lists it in the finding.
func TestReusedPortsMatchTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (.ci/deps --test installs it)")
	}
	for _, file := range recordedCaptures(t) {
		t.Run(file, func(t *testing.T) {
			cmd := exec.Command(tshark, "-r", filepath.Join(pcapDir, file), "-Y", "tcp.analysis.reused_ports", "-T", "fields", "-e", "frame.number")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			theirs := map[uint64]bool{}
			for _, l := range strings.Fields(string(out)) {
				n, err := strconv.ParseUint(l, 10, 64)
				if err != nil {
					t.Fatalf("tshark printed %q", l)
				}
				theirs[n] = true
			}
			rep := reportOf(t, file)
			ours := map[uint64]bool{}
			for _, c := range rep.Connections {
				if c.Incarnation > 1 && c.RolesKnown {
					ours[c.FirstFrame] = true
				}
			}
			retried := map[uint64]bool{}
			for _, f := range rep.Findings {
				if f.Kind == "reuse_in_2msl" && f.Outcome == "refused" || f.Kind == "syn_refused" {
					for _, fr := range f.Frames {
						retried[fr] = true
					}
				}
			}
			for n := range ours {
				if !theirs[n] {
					t.Errorf("finack starts a reused incarnation at frame %d; tshark does not flag it", n)
				}
			}
			for n := range theirs {
				if !ours[n] && !retried[n] {
					t.Errorf("tshark flags frame %d as reused_ports; finack has no reuse there", n)
				}
			}
			if len(ours) == 0 && len(theirs) > 0 {
				t.Errorf("tshark flags %d frames, finack none", len(theirs))
			}
		})
	}
}

// ssStates maps the states ss prints to the names netstat (and finack) use.
var ssStates = map[string]string{
	"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
	"FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "CLOSING": "CLOSING",
	"TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
}

// kernelStates reads an ss snapshot (both namespaces) as host → state → count,
// leaving out listening sockets (netstat -n does not show them either).
func kernelStates(t *testing.T, path string) map[string]map[string]int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || line[0] == ' ' || line[0] == '\t' || f[0] == "State" || f[0] == "LISTEN" || strings.HasPrefix(f[0], "#") {
			continue
		}
		st, ok := ssStates[f[0]]
		if !ok {
			t.Fatalf("%s: unknown state in %q", path, line)
		}
		local, err := netip.ParseAddrPort(f[3])
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		h := local.Addr().Unmap().String()
		if out[h] == nil {
			out[h] = map[string]int{}
		}
		out[h][st]++
	}
	return out
}

// TestStatesMatchKernel compares finack's netstat view at the end of every recorded
// capture with the kernel's own socket tables (ss in both namespaces, taken right
// before the capture stopped): every host, every state, every count.
func TestStatesMatchKernel(t *testing.T) {
	for _, file := range recordedCaptures(t) {
		t.Run(file, func(t *testing.T) {
			kernel := kernelStates(t, filepath.Join(pcapDir, strings.TrimSuffix(file, ".pcap")+".ss.txt"))
			out, errOut, code := runIn(t, pcapDir, "-r", file, "-o", "json", "--states")
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var doc struct {
				States map[string]map[string]int `json:"states"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(doc.States)
			want, _ := json.Marshal(kernel)
			if string(got) != string(want) {
				t.Errorf("states at the end of the capture:\nfinack %s\nkernel %s", got, want)
			}
		})
	}
}

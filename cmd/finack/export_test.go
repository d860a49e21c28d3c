package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/gopacket/gopacket/layers"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture/synth"
)

// exportReport is what the export tests read from a -o json report.
type exportReport struct {
	Findings    []analyzer.Finding    `json:"findings"`
	Connections []analyzer.Connection `json:"connections"`
	Export      *report.ExportInfo    `json:"export"`
}

func readReport(t *testing.T, out string) exportReport {
	t.Helper()
	var r exportReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return r
}

// connString is a connection as the exported file must show it again: everything
// but the frame numbers (mapped), the incarnation index (earlier incarnations may be
// left out) and the history and timing fields, which repeat the packets.
func connString(c analyzer.Connection, first, last uint64) string {
	return fmt.Sprintf("%s→%s vlan%v frames %d-%d packets %d close %s closer %s tw %s until %q fins %v rsts %v reused %v",
		c.Client, c.Server, c.VLAN, first, last, c.Packets, c.Close, c.ActiveCloser, c.TimeWaitHolder, c.TimeWaitUntil, c.FINs, c.RSTs, c.Reused)
}

func findingString(f analyzer.Finding, frames []uint64) string {
	count := "-"
	if f.Count != nil {
		count = fmt.Sprint(*f.Count)
	}
	return fmt.Sprintf("%s %s→%s frames %v count %s outcome %s verdict %s cause %s sender %s time %s",
		f.Kind, f.Client, f.Server, frames, count, f.Outcome, f.Verdict, f.Cause, f.Sender, f.Time.Format(time.RFC3339Nano))
}

// checkExport re-reads an exported file with finack: it must hold exactly the
// connections the report selected (those its findings are about), each as the
// original report describes it with frame numbers mapped, and the same findings.
func checkExport(t *testing.T, dir string, orig exportReport, exported string) {
	t.Helper()
	x := orig.Export
	m := map[uint64]uint64{}
	for _, p := range x.Frames {
		m[p[0]] = p[1]
	}
	var want, got []string
	doc := report.Document{Findings: orig.Findings, Connections: orig.Connections}
	sel, _ := report.SelectConnections(&doc)
	for _, ci := range sel {
		c := orig.Connections[ci]
		want = append(want, connString(c, m[c.FirstFrame], m[c.LastFrame]))
	}
	out, errOut, code := runIn(t, dir, "-r", exported, "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("finack -r %s: exit %d: %s", exported, code, errOut)
	}
	again := readReport(t, out)
	for _, c := range again.Connections {
		got = append(got, connString(c, c.FirstFrame, c.LastFrame))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("connections of the exported file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	want, got = nil, nil
	for i, f := range orig.Findings {
		// The exported file ends with its last packet, where the original went on
		// (other connections): a FIN sender the original saw give up, by silence
		// past its next retransmission, is still retransmitting when the exported
		// file ends. docs/ci.md says so.
		if f.Outcome == analyzer.OutcomeNever && len(f.Frames) > 0 && f.Frames[len(f.Frames)-1] == maxFrame(x.Frames) {
			f.Outcome = analyzer.OutcomeUnresolved
		}
		want = append(want, findingString(f, x.FindingFrames[i]))
	}
	for _, f := range again.Findings {
		got = append(got, findingString(f, f.Frames))
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings of the exported file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if x.Packets != len(x.Frames) {
		t.Errorf("export.packets %d, %d frames mapped", x.Packets, len(x.Frames))
	}
}

func maxFrame(pairs [][2]uint64) uint64 {
	if len(pairs) == 0 {
		return 0
	}
	return pairs[len(pairs)-1][0]
}

// tcpdumpLines prints a capture with tcpdump, one line per packet.
func tcpdumpLines(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("tcpdump", "-nn", "-tt", "-r", path).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	if len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestExportRecorded exports the connections with findings of recorded and
// generated captures, some of whose connections have none, and reads the file
// back with finack (the same connections and findings, frames mapped as the report
// says) and with tcpdump (each packet as tcpdump printed it in the original, with
// its original timestamp).
func TestExportRecorded(t *testing.T) {
	_, err := exec.LookPath("tcpdump")
	haveTcpdump := err == nil
	for _, name := range []string{"final-ack-never.pcap", "reuse-refused.pcap", "gen-first-fin-unacked.pcap",
		"gen-reuse-answers.pcap", "gen-ethernet-vlan-qinq.pcap", "final-ack-dropped-v6.pcap", "gen-ipv4-mapped-twins.pcap"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			copyCapture(t, name, dir, name)
			out, errOut, code := runIn(t, dir, "-r", name, "--export", "ev.pcap", "-o", "json")
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			orig := readReport(t, out)
			if orig.Export == nil || orig.Export.File != "ev.pcap" || orig.Export.Format != "pcap" {
				t.Fatalf("export %+v", orig.Export)
			}
			checkExport(t, dir, orig, "ev.pcap")

			first, _ := os.ReadFile(filepath.Join(dir, "ev.pcap"))
			runIn(t, dir, "-r", name, "--export", "ev.pcap")
			if second, _ := os.ReadFile(filepath.Join(dir, "ev.pcap")); !bytes.Equal(first, second) {
				t.Error("two exports differ")
			}

			if !haveTcpdump {
				t.Skip("tcpdump not installed")
			}
			o, e := tcpdumpLines(t, filepath.Join(dir, name)), tcpdumpLines(t, filepath.Join(dir, "ev.pcap"))
			if len(e) != len(orig.Export.Frames) {
				t.Fatalf("tcpdump prints %d packets of the export, the report maps %d", len(e), len(orig.Export.Frames))
			}
			for _, p := range orig.Export.Frames {
				if o[p[0]-1] != e[p[1]-1] {
					t.Errorf("frame %d → %d: tcpdump prints\n %s\nin the export,\n %s\nin the original", p[0], p[1], e[p[1]-1], o[p[0]-1])
				}
			}
		})
	}
}

// mixedCapture writes a pcapng with 20 clean connections on an Ethernet interface
// and two whose server FIN is retransmitted twice before the final ACK, one on
// Ethernet and one on a raw-IP interface.
func mixedCapture(t *testing.T, path string) {
	t.Helper()
	var ps []synth.Packet
	start := synth.Epoch
	for i := 0; i < 20; i++ {
		c := synth.NewConn(netip.MustParseAddrPort(fmt.Sprintf("198.51.100.1:%d", 40000+i)), netip.MustParseAddrPort("198.51.100.2:80"),
			uint32(1000*i), uint32(7000*i), start.Add(time.Duration(i)*3*time.Millisecond))
		ps = append(ps, c.Full(100, 200, true)...)
	}
	for i, iface := range []int{0, 1} {
		c := synth.NewConn(netip.MustParseAddrPort(fmt.Sprintf("198.51.100.9:%d", 50000+i)), netip.MustParseAddrPort("198.51.100.2:80"),
			uint32(90000+i), uint32(190000+i), start.Add(time.Duration(10+i)*time.Millisecond))
		c.ClientIface, c.ServerIface = iface, iface
		ps = append(ps, c.Handshake()...)
		ps = append(ps, c.Exchange(100, 200)...)
		ps = append(ps, c.FIN(true), c.ACK(false))
		fin := c.FIN(false)
		ps = append(ps, fin)
		for _, d := range []time.Duration{200 * time.Millisecond, 600 * time.Millisecond} {
			again := fin
			again.Time = fin.Time.Add(d)
			ps = append(ps, again)
		}
		c.Now = fin.Time.Add(601 * time.Millisecond)
		ps = append(ps, c.ACK(true))
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Time.Before(ps[j].Time) })
	var b bytes.Buffer
	w, err := synth.NewNgWriter(&b, synth.NgOptions{}, synth.Interface{Link: layers.LinkTypeEthernet}, synth.Interface{Link: layers.LinkTypeRaw, Nanosecond: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExportMixedLinkTypes: connections on two link types go into a pcapng (with a
// comment per packet naming its frame and findings), not into a pcap.
func TestExportMixedLinkTypes(t *testing.T) {
	dir := t.TempDir()
	mixedCapture(t, filepath.Join(dir, "mixed.pcapng"))
	out, errOut, code := runIn(t, dir, "-r", "mixed.pcapng", "--export", "ev.pcapng", "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	orig := readReport(t, out)
	if n := len(orig.Connections); n != 22 || orig.Export.Connections != 2 || orig.Export.Format != "pcapng" {
		t.Fatalf("%d connections, export %+v", n, orig.Export)
	}
	checkExport(t, dir, orig, "ev.pcapng")

	if _, err := exec.LookPath("tshark"); err == nil {
		cmd := exec.Command("tshark", "-r", filepath.Join(dir, "ev.pcapng"), "-T", "fields", "-e", "frame.number", "-e", "frame.comment")
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		if len(lines) != len(orig.Export.Frames) {
			t.Fatalf("tshark reads %d packets, the report maps %d", len(lines), len(orig.Export.Frames))
		}
		for _, p := range orig.Export.Frames {
			if want := fmt.Sprintf("%d\tfinack: frame %d of mixed.pcapng", p[1], p[0]); !strings.HasPrefix(lines[p[1]-1], want) {
				t.Errorf("tshark: %q, want it to start %q", lines[p[1]-1], want)
			}
		}
		if !strings.Contains(string(got), "; evidence of missing_final_ack, fin_retransmit") {
			t.Errorf("no comment names the findings:\n%s", got)
		}
	}

	out, errOut, code = runIn(t, dir, "-r", "mixed.pcapng", "--export", "ev.pcap")
	if code != pipeline.ExitError || out != "" || strings.Count(errOut, "\n") != 1 ||
		!strings.HasPrefix(errOut, "finack: --export: ev.pcap: the connections span link types") || !strings.Contains(errOut, ".pcapng") {
		t.Errorf("pcap of two link types: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ev.pcap")); err == nil {
		t.Error("a half-written export was left behind")
	}
}

// TestExportOutputs: the mapping in the text and NDJSON reports, several captures
// into one file, and what --export refuses.
func TestExportOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"client-close.pcap", "final-ack-dropped.pcap", "final-ack-never.pcap"} {
		copyCapture(t, f, dir, f)
	}
	out, _, code := runIn(t, dir, "-r", "final-ack-dropped.pcap", "--export", "ev.pcap")
	want := "\nexport       14 packets of 1 connection(s) to ev.pcap (pcap); frames there:\n" +
		"  missing_final_ack  10.77.0.1:42910 → 10.77.0.2:7077 #1  frames 10,11,12,13,14 → 10,11,12,13,14\n"
	if code != pipeline.ExitOK || !strings.Contains(out, want) {
		t.Errorf("text: exit %d, report:\n%s", code, out)
	}
	out, _, _ = runIn(t, dir, "-r", "final-ack-dropped.pcap", "--export", "ev.pcap", "-o", "ndjson")
	if !strings.Contains(out, `{"type":"export","file":"ev.pcap","format":"pcap","packets":14,"connections":1,`) {
		t.Errorf("ndjson: no export record:\n%s", out)
	}

	// Separate captures follow each other in one file.
	out, _, code = runIn(t, dir, "--separate", "-r", "final-ack-dropped.pcap", "-r", "final-ack-never.pcap", "-r", "client-close.pcap",
		"--export", "all.pcap", "-o", "json")
	var multi struct {
		Captures []exportReport `json:"captures"`
	}
	if err := json.Unmarshal([]byte(out), &multi); err != nil || code != pipeline.ExitOK {
		t.Fatalf("exit %d: %v", code, err)
	}
	next := uint64(1)
	for _, c := range multi.Captures {
		for _, p := range c.Export.Frames {
			if p[1] != next {
				t.Fatalf("exported frame %d, want %d", p[1], next)
			}
			next++
		}
	}
	if next-1 != 14+16 {
		t.Errorf("%d packets exported, want 30 (14 of final-ack-dropped, 16 of final-ack-never)", next-1)
	}

	for _, args := range [][]string{
		{"-r", "-", "--export", "x.pcap"},
		{"-r", "-", "--ladder"},
	} {
		_, errOut, code := runIn(t, dir, args...)
		if code != pipeline.ExitError || !strings.Contains(errOut, "stdin") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	_, errOut, code := runIn(t, dir, "-r", "client-close.pcap", "--export", "no/such/dir/x.pcap")
	if code != pipeline.ExitError || !strings.HasPrefix(errOut, "finack: --export: open no/such/dir/x.pcap") {
		t.Errorf("unwritable export: exit %d, stderr %q", code, errOut)
	}
}

func TestOutputIsNotAnInput(t *testing.T) {
	dir := t.TempDir()
	copyCapture(t, "final-ack-dropped.pcap", dir, "c.pcap")
	before, _ := os.ReadFile(filepath.Join(dir, "c.pcap"))
	for _, flagName := range []string{"--export", "--write-baseline"} {
		_, errOut, code := runIn(t, dir, "-r", "c.pcap", flagName, "./c.pcap")
		if code != pipeline.ExitError || !strings.HasPrefix(errOut, "finack: "+flagName+": ./c.pcap is one of the captures read") {
			t.Errorf("%s: exit %d, stderr %q", flagName, code, errOut)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "c.pcap")); !bytes.Equal(before, after) {
		t.Error("the capture was overwritten")
	}
}

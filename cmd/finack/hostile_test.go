package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

// Hostile traffic (capture/synth/hostile.go, testdata/pcaps/gen-hostile-*): floods,
// scans, wrapped sequence numbers, clocks going backwards, every packet twice,
// options cut by the snap length, escape sequences in the file's text. Each capture
// holds the real connections of synth.RealConnections, whose findings must come out
// exactly as without the hostile traffic.

// hostileDoc is the part of -o json these tests read.
type hostileDoc struct {
	Summary struct {
		Packets     uint64                 `json:"packets"`
		Connections int                    `json:"connections"`
		Closes      map[analyzer.Shape]int `json:"closes"`
		Findings    map[analyzer.Kind]int  `json:"findings"`
		Dropped     *report.Dropped        `json:"dropped"`
	} `json:"summary"`
	Findings    []analyzer.Finding    `json:"findings"`
	Connections []analyzer.Connection `json:"connections"`
	Error       string                `json:"error"`
}

func parseHostile(t *testing.T, out string) hostileDoc {
	t.Helper()
	var d hostileDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("-o json does not parse: %v", err)
	}
	return d
}

// findingText is kind/outcome-or-cause/count and the frames, for comparison.
func findingText(f analyzer.Finding) string {
	s := string(f.Kind)
	for _, x := range []string{string(f.Outcome), string(f.Verdict), string(f.Cause)} {
		if x != "" {
			s += "/" + x
		}
	}
	if f.Count != nil {
		s += fmt.Sprintf(" count %d", *f.Count)
	}
	if f.AckAfterTap {
		s += " ack_lost_after_tap"
	}
	return s
}

// checkRealConnections checks the real connections of synth.RealConnections with
// client address cli (and that nothing else was found about them): port 40700 a
// four-way close by the client whose server FIN went out three times before the
// final ACK; port 40701 a clean close by the server.
func checkRealConnections(t *testing.T, d hostileDoc, cli string) {
	t.Helper()
	ep := func(port int) string {
		if strings.Contains(cli, ":") {
			return fmt.Sprintf("[%s]:%d", cli, port)
		}
		return fmt.Sprintf("%s:%d", cli, port)
	}
	lost, clean := ep(40700), ep(40701)
	var got []string
	for _, f := range d.Findings {
		if cl := analyzer.EndpointString(f.Client); cl == lost || cl == clean {
			got = append(got, cl+" "+findingText(f))
			if cl == lost && len(f.Frames) < 3 {
				t.Errorf("%s: frames %v", findingText(f), f.Frames)
			}
		}
	}
	want := []string{lost + " missing_final_ack/recovered count 2", lost + " fin_retransmit/fin_or_ack_lost count 2"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("findings of the real connections:\n got %s\nwant %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
	seen := 0
	for _, c := range d.Connections {
		var want string
		switch analyzer.EndpointString(c.Client) {
		case lost:
			want = "four_way/client/client FIN 1/3"
		case clean:
			want = "four_way/server/server FIN 1/1"
		default:
			continue
		}
		seen++
		got := fmt.Sprintf("%s/%s/%s FIN %d/%d", c.Close, c.ActiveCloser, c.TimeWaitHolder, c.FINs.Client, c.FINs.Server)
		if got != want || c.Incarnation != 1 || !c.RolesKnown {
			t.Errorf("connection %s #%d: %s (roles known %v), want %s", c.Client, c.Incarnation, got, c.RolesKnown, want)
		}
	}
	if seen != 2 {
		t.Errorf("%d real connections from %s, want 2", seen, cli)
	}
}

// hostileJSON runs finack -o json on a committed hostile capture.
func hostileJSON(t *testing.T, file string) hostileDoc {
	t.Helper()
	r := runProc(t, procOptions{dir: pcapDir}, "-r", file, "-o", "json")
	if r.code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	return parseHostile(t, r.stdout)
}

// TestHostileCaptures: in every hostile capture, the real connections come out as
// they would alone, and the hostile traffic as what it is.
func TestHostileCaptures(t *testing.T) {
	for _, tc := range []struct {
		file  string
		v6    bool
		check func(t *testing.T, d hostileDoc)
	}{
		{"gen-hostile-syn-flood.pcap", false, func(t *testing.T, d hostileDoc) {
			n := synth.HostileFloodSYNs
			halfOpen := 0
			for _, c := range d.Connections {
				if strings.HasPrefix(analyzer.EndpointString(c.Client), "198.18.") {
					if c.Close != analyzer.NoClose || !c.RolesKnown || c.Packets > 2 {
						t.Errorf("flood connection %s: %s, roles known %v, %d packets", c.Client, c.Close, c.RolesKnown, c.Packets)
					}
					if c.Packets == 2 {
						halfOpen++
					}
				}
			}
			if d.Summary.Connections != n+2 || d.Summary.Closes[analyzer.NoClose] != n || halfOpen != n/4 || len(d.Findings) != 2 {
				t.Errorf("%d connections, %d without a close, %d answered, %d findings; want %d, %d, %d, 2",
					d.Summary.Connections, d.Summary.Closes[analyzer.NoClose], halfOpen, len(d.Findings), n+2, n, n/4)
			}
		}},
		{"gen-hostile-rst-scan.pcap", false, func(t *testing.T, d hostileDoc) {
			resets, blind := 0, uint32(0)
			for _, c := range d.Connections {
				if strings.HasPrefix(analyzer.EndpointString(c.Client), "192.0.2.1:") {
					blind += c.RSTs.Client + c.RSTs.Server // RFC 5961: dropped; checkRealConnections: still four_way
				}
				if strings.HasPrefix(analyzer.EndpointString(c.Client), "198.18.") || strings.HasPrefix(analyzer.EndpointString(c.Server), "198.18.") {
					if c.Close != analyzer.Reset || c.RolesKnown || c.Packets != 1 {
						t.Errorf("scan connection %s → %s: %s, roles known %v", c.Client, c.Server, c.Close, c.RolesKnown)
					}
					resets++
				}
			}
			if resets != 200 || d.Summary.Connections != 202 || len(d.Findings) != 2 || blind != 20 {
				t.Errorf("%d RST connections of %d, %d findings, %d blind RSTs seen in the real connections; want 200 of 202, 2, 20", resets, d.Summary.Connections, len(d.Findings), blind)
			}
		}},
		{"gen-hostile-seq-wrap.pcap", false, func(t *testing.T, d hostileDoc) {
			var reuse []string
			for _, f := range d.Findings {
				if f.Kind == analyzer.ReuseIn2MSL {
					reuse = append(reuse, analyzer.EndpointString(f.Client)+" "+string(f.Verdict))
				}
			}
			want := "192.0.2.1:40702 safe_by_sequence; 192.0.2.1:40703 unsafe"
			if strings.Join(reuse, "; ") != want {
				t.Errorf("reuses %q, want %q", strings.Join(reuse, "; "), want)
			}
		}},
		{"gen-hostile-time-backwards.pcap", false, func(t *testing.T, d hostileDoc) {
			if len(d.Findings) != 2 || d.Summary.Closes[analyzer.FourWay] != 4 {
				t.Errorf("%d findings, closes %v: want the real connection's 2, four_way 4", len(d.Findings), d.Summary.Closes)
			}
		}},
		{"gen-hostile-duplicated.pcapng", true, func(t *testing.T, d hostileDoc) {
			if len(d.Findings) != 4 || d.Summary.Packets != 96 {
				t.Errorf("%d findings from %d frames: the copies must add nothing", len(d.Findings), d.Summary.Packets)
			}
		}},
		{"gen-hostile-snaplen-options.pcapng", true, func(t *testing.T, d hostileDoc) {
			for _, f := range d.Findings {
				if strings.Contains(f.Message, "echoes") {
					t.Errorf("%s cites an echoed timestamp the snap length cut: %s", f.Kind, f.Message)
				}
			}
		}},
		{"gen-hostile-escapes.pcapng", false, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := hostileJSON(t, tc.file)
			checkRealConnections(t, d, "192.0.2.1")
			if tc.v6 {
				checkRealConnections(t, d, "2001:db8::1")
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

// floodSYNs is the size of the SYN flood TestSYNFloodMemory generates (set
// FINACK_FLOOD_SYNS for another, e.g. 1000000).
func floodSYNs() int {
	if n, err := strconv.Atoi(os.Getenv("FINACK_FLOOD_SYNS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// Memory per connection that never completes (a flood SYN): the trackers pack a
// quiet half-open connection into a record of about 65 bytes (reassembly/pack.go) and
// the report's records go through the external sort, so what stays is the flow
// table (about 150 bytes a 4-tuple) and the collector's headroom (half of the live
// heap, or 16 MiB: gcpace.go). The bound, a base plus a cost per connection,
// leaves room over what -o json with the default --workers takes.
const (
	floodBaseRSS      = 128 << 20
	floodBytesPerConn = 700
)

// TestSYNFloodMemory: a SYN flood of floodSYNs() half-open connections from spoofed
// sources, generated to a temporary file (a million SYNs is 96 MB), with the real
// connections inside: finack ends, reports every connection, finds the real
// connections' findings exactly, and stays within the memory bound above.
func TestSYNFloodMemory(t *testing.T) {
	n := floodSYNs()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "flood.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteSYNFlood(f, n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r := runProc(t, procOptions{dir: dir, timeout: 10*time.Second + time.Duration(n)*50*time.Microsecond}, "-r", "flood.pcap", "-o", "json")
	if r.code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	d := parseHostile(t, r.stdout)
	if d.Summary.Connections != n+2 || d.Summary.Closes[analyzer.NoClose] != n {
		t.Errorf("%d connections (%d without a close), want %d (%d)", d.Summary.Connections, d.Summary.Closes[analyzer.NoClose], n+2, n)
	}
	checkRealConnections(t, d, "192.0.2.1")
	bound := int64(floodBaseRSS + n*floodBytesPerConn)
	t.Logf("%d flood SYNs: peak RSS %d MiB (%d bytes per connection), %v", n, r.maxRSS>>20, r.maxRSS/int64(n+2), r.elapsed.Round(time.Millisecond))
	if r.maxRSS > bound {
		t.Errorf("peak RSS %d MiB for %d connections, bound %d MiB", r.maxRSS>>20, n+2, bound>>20)
	}

	// Capped: --max-connections holds a tenth of the flood at most; the rest is
	// evicted, counted in the summary, and every connection is still reported.
	capN := n / 10
	r = runProc(t, procOptions{dir: dir, timeout: 10*time.Second + time.Duration(n)*50*time.Microsecond},
		"-r", "flood.pcap", "-o", "json", "--max-connections", strconv.Itoa(capN))
	if r.code != pipeline.ExitOK {
		t.Fatalf("--max-connections %d: exit %d: %s", capN, r.code, r.stderr)
	}
	d = parseHostile(t, r.stdout)
	// (A real connection evicted in the middle comes back as one picked up
	// mid-stream: more connections, never fewer.)
	if d.Summary.Connections < n+2 || d.Summary.Dropped == nil || d.Summary.Dropped.Evicted < uint64(n-capN) {
		t.Errorf("--max-connections %d: %d connections (want at least %d), dropped %+v (want at least %d evicted)", capN, d.Summary.Connections, n+2, d.Summary.Dropped, n-capN)
	}
	capBound := int64(floodBaseRSS + capN*floodBytesPerConn)
	t.Logf("--max-connections %d: peak RSS %d MiB, %+v", capN, r.maxRSS>>20, d.Summary.Dropped)
	if n >= 1_000_000 && r.maxRSS > capBound {
		// The base (the flow table's buckets, the sorters' batches) dominates below
		// a million.
		t.Errorf("--max-connections %d: peak RSS %d MiB, bound %d MiB", capN, r.maxRSS>>20, capBound>>20)
	}
}

// writePcap writes packets to dir/name as an Ethernet pcap.
func writePcap(t *testing.T, dir, name string, ps []synth.Packet) {
	t.Helper()
	var b bytes.Buffer
	w, err := synth.NewPcapWriter(&b, layers.LinkTypeEthernet, synth.PcapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestClockStepInFinRetransmissions: the capture clock steps back 10 s between a
// FIN's second and third transmissions. The finding stays: its kind, outcome and
// count come from the order of the frames; what comes from the clock (intervals,
// time in LAST_ACK) is measured as the clock says, negative included.
func TestClockStepInFinRetransmissions(t *testing.T) {
	c := synth.NewConn(netip.MustParseAddrPort("192.0.2.1:40712"), synth.HostileServer, 11000, 12000, synth.Epoch)
	ps := c.Handshake()
	ps = append(ps, c.FIN(true), c.ACK(false))
	fin := c.FIN(false)
	ps = append(ps, fin)
	for i, back := range []time.Duration{0, -10 * time.Second} {
		p := fin
		p.Time = fin.Time.Add(time.Duration(200<<i)*time.Millisecond + back)
		p.IPID += uint16(i + 1)
		ps = append(ps, p)
		c.Now = p.Time.Add(time.Millisecond)
	}
	ps = append(ps, c.ACK(true))
	dir := t.TempDir()
	writePcap(t, dir, "step.pcap", ps)
	r := runProc(t, procOptions{dir: dir}, "-r", "step.pcap", "-o", "json")
	if r.code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	d := parseHostile(t, r.stdout)
	var got []string
	for _, f := range d.Findings {
		got = append(got, findingText(f))
		if f.Kind == analyzer.MissingFinalAck && f.AckAfterTap {
			// The ACK (frame 9) is dated before the third FIN (frame 8), so the
			// rule that compares times takes it for an ACK seen before the
			// retransmission, though frame order says otherwise: durations and
			// time comparisons across a clock step mean nothing
			// (docs/limitations.md), so the flag is tolerated here.
			t.Logf("known limitation: ack_lost_after_tap from a clock step: %s", f.Message)
		}
	}
	sort.Strings(got)
	want := []string{"fin_retransmit/fin_or_ack_lost count 2", "missing_final_ack/recovered count 2"}
	for i := range got {
		got[i] = strings.TrimSuffix(got[i], " ack_lost_after_tap")
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// TestDuplicatesOutOfOrder: copies from a second interface arriving 1.5 ms late,
// after the next packet of the same direction. Findings must be those of the
// capture without copies: the tracker recognises a copy up to three segments of
// the same end after its original and within 2 ms.
func TestDuplicatesOutOfOrder(t *testing.T) {
	var all []synth.Packet
	for _, p := range synth.RealConnections(synth.Epoch, false) {
		cp := p
		cp.Interface, cp.Time = 1, p.Time.Add(1500*time.Microsecond)
		all = append(all, p, cp)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	var b bytes.Buffer
	w, err := synth.NewNgWriter(&b, synth.NgOptions{}, synth.Interface{Link: 1, Name: "eth0"}, synth.Interface{Link: 1, Name: "eth1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dup.pcapng"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runProc(t, procOptions{dir: dir}, "-r", "dup.pcapng", "-o", "json")
	if r.code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	d := parseHostile(t, r.stdout)
	if len(d.Findings) != 2 {
		var got []string
		for _, f := range d.Findings {
			got = append(got, analyzer.EndpointString(f.Client)+" "+findingText(f))
		}
		t.Fatalf("late copies taken for retransmissions: %d findings (want 2): %s", len(d.Findings), strings.Join(got, "; "))
	}
	checkRealConnections(t, d, "192.0.2.1")
}

// TestBlindRST: an RST whose sequence number is nowhere near the connection's
// (a blind reset attempt, RFC 5961) does not close it: the connection goes on
// and closes with FINs: an RST counts only within the window the tap allows for
// (reassembly's rstWindow, RFC 5961 §3.2).
func TestBlindRST(t *testing.T) {
	c := synth.NewConn(netip.MustParseAddrPort("192.0.2.1:40701"), synth.HostileServer, 3_000_000, 4_000_000, synth.Epoch)
	ps := c.Handshake()
	ps = append(ps, c.Exchange(100, 300)...)
	ps = append(ps, synth.Packet{Time: c.Now, Src: c.Client, Dst: c.Server, Seq: 12345, Flags: capture.RST, TTL: 50})
	c.Wait(time.Millisecond)
	ps = append(ps, c.Exchange(100, 300)...)
	ps = append(ps, c.Close(false)...)
	dir := t.TempDir()
	writePcap(t, dir, "blind.pcap", ps)
	r := runProc(t, procOptions{dir: dir}, "-r", "blind.pcap", "-o", "json")
	if r.code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	d := parseHostile(t, r.stdout)
	if len(d.Connections) != 1 {
		t.Fatalf("%d connections, want 1", len(d.Connections))
	}
	if c := d.Connections[0]; c.Close != analyzer.FourWay {
		t.Errorf("an out-of-window RST closed the connection (%s, reset by %s), want four_way", c.Close, c.ResetBy)
	}
}

// TestNoControlBytesOnTerminal: nothing from the input reaches the terminal
// unescaped. gen-hostile-escapes.pcapng carries escape sequences in its section
// comment, interface name and description and a packet comment (finack prints none
// of them); a file whose name holds them is shown quoted; a damaged one's error
// line too.
func TestNoControlBytesOnTerminal(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "gen-hostile-escapes.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(data, []byte(synth.Escapes)) != 4 {
		t.Fatal("gen-hostile-escapes.pcapng does not carry the escape sequences 4 times")
	}
	dir := t.TempDir()
	evil := "evil" + synth.Escapes + ".pcapng"
	if err := os.WriteFile(filepath.Join(dir, evil), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cut := "cut" + synth.Escapes + ".pcapng"
	if err := os.WriteFile(filepath.Join(dir, cut), data[:len(data)-9], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "not"+synth.Escapes), []byte("NOPE, not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{evil, cut, "not" + synth.Escapes, "missing" + synth.Escapes} {
		for _, form := range [][]string{{"-o", "text", "--connections"}, {"-o", "json"}, {"-o", "ndjson"}, {"-o", "text", "--fail-on", "any"}} {
			r := runProc(t, procOptions{dir: dir}, append([]string{"-r", file}, form...)...)
			for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
				if !utf8.ValidString(out) {
					t.Errorf("%q %v: %s is not valid UTF-8", file, form, name)
				}
				for i, c := range []byte(out) {
					if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
						t.Errorf("%q %v: %s holds control byte %#x at %d: %q", file, form, name, c, i, tail(out[:i+1], 80))
						break
					}
				}
			}
			if file == evil && form[1] == "text" && !strings.Contains(r.stdout, strconv.Quote(evil)) {
				t.Errorf("%v: the file name is not shown quoted:\n%s", form, tail(r.stdout, 300))
			}
		}
	}
}

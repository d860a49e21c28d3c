package main

// Corpus tests: finack over ~150 captures written by other projects (Zeek, tcpdump,
// libpcap, gopacket, PcapPlusPlus, nDPI, tcpflow, pcapng-test-generator), kept beside
// the project in ../shared/pcaps/public with their MANIFEST.tsv (tshark 4.0.17's counts
// per file) and the expectation files those projects keep (Zeek's btest baselines).
// A user's clone has no such folder: the tests skip and say so.
//
// What each comparison may legitimately disagree on is listed in corpusExplained (a
// difference the capture explains) or knownBugs (finack is wrong; the entry says what
// it should say). Both pin what finack reports today, so any change in behaviour on
// these files fails the test until the entry is reviewed.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture/synth"
)

// corpusDeadline is how long finack may take on one capture before the run counts as
// a hang: far above what the largest file takes.
const corpusDeadline = 30 * time.Second

// corpusDirEnv overrides where the public captures are.
const corpusDirEnv = "FINACK_PUBLIC_PCAPS"

// corpusDir returns the public capture folder: ../shared/pcaps/public beside the module
// root (the directory holding go.mod), or $FINACK_PUBLIC_PCAPS. It skips the test when
// the folder is absent.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(corpusDirEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			t.Skipf("public capture corpus not looked for: %v", err)
		}
		dir = filepath.Join(root, "..", "shared", "pcaps", "public")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		t.Skipf("no public capture corpus (%s/MANIFEST.tsv): it lives beside the project, not in a clone; set %s to point at one: %v",
			dir, corpusDirEnv, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// moduleRoot walks up from the working directory to the one holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = up
	}
}

// corpusRow is one line of MANIFEST.tsv. The counts are tshark 4.0.17's.
type corpusRow struct {
	Path      string
	Linktype  string
	Packets   int
	Partial   bool // "N (read before error)": tshark stopped on damage
	Streams   int  // TCP conversations (tshark -z conv,tcp)
	Reused    int  // frames flagged tcp.analysis.reused_ports
	FinRetx   int  // FIN frames flagged as retransmissions
	RSTFrames int
	Why       string
}

func readManifest(t *testing.T, dir string) []corpusRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, f)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var col map[string]int
	var rows []corpusRow
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if col == nil {
			col = map[string]int{}
			for i, name := range fields {
				col[name] = i
			}
			for _, need := range []string{"path", "linktype", "packets", "tcp_streams", "reused_ports_frames", "fin_retrans_frames", "rst_frames", "why_chosen"} {
				if _, ok := col[need]; !ok {
					t.Fatalf("MANIFEST.tsv has no %q column", need)
				}
			}
			continue
		}
		get := func(name string) string {
			if i := col[name]; i < len(fields) {
				return fields[i]
			}
			return ""
		}
		num := func(name string) int {
			s := get(name)
			if i := strings.IndexByte(s, ' '); i >= 0 {
				s = s[:i]
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("MANIFEST.tsv: %s: column %s: %q is not a count", get("path"), name, get(name))
			}
			return n
		}
		rows = append(rows, corpusRow{
			Path: get("path"), Linktype: get("linktype"),
			Packets: num("packets"), Partial: strings.Contains(get("packets"), "before error"),
			Streams: num("tcp_streams"), Reused: num("reused_ports_frames"),
			FinRetx: num("fin_retrans_frames"), RSTFrames: num("rst_frames"),
			Why: get("why_chosen"),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("MANIFEST.tsv lists no capture")
	}
	return rows
}

// corpusDoc is the part of finack -o json the corpus tests read.
type corpusDoc struct {
	Summary struct {
		Packets  uint64            `json:"packets"`
		Skipped  map[string]uint64 `json:"skipped"`
		Conns    int               `json:"connections"`
		Findings map[string]int    `json:"findings"`
	} `json:"summary"`
	Findings []struct {
		Kind        string `json:"kind"`
		Client      string `json:"client"`
		Server      string `json:"server"`
		Incarnation int    `json:"incarnation"`
		Count       *int   `json:"count"`
	} `json:"findings"`
	Connections []corpusConn `json:"connections"`
	Error       string       `json:"error"`
}

type corpusConn struct {
	Client      string   `json:"client"`
	Server      string   `json:"server"`
	RolesKnown  bool     `json:"roles_known"`
	VLAN        []uint16 `json:"vlan"`
	Incarnation int      `json:"incarnation"`
	FirstFrame  uint64   `json:"first_frame"`
	Packets     int      `json:"packets"`
	Close       string   `json:"close"`
	FINs        struct {
		Client int `json:"client"`
		Server int `json:"server"`
	} `json:"fins"`
	RSTs struct {
		Client int `json:"client"`
		Server int `json:"server"`
	} `json:"rsts"`
}

// corpusResult is finack's run over one capture.
type corpusResult struct {
	Row            corpusRow
	Path           string // absolute, as given to -r
	Stdout, Stderr string
	Code           int
	Elapsed        time.Duration
	Hung           bool
	Panic          string
	Doc            *corpusDoc // nil when stdout is empty or not JSON
	DocErr         error
}

var (
	corpusOnce    sync.Once
	corpusResults []*corpusResult
)

// runCorpus runs finack once per capture of the corpus (shared by the corpus tests),
// in-process, -o json, each run with its own deadline.
func runCorpus(t *testing.T) []*corpusResult {
	t.Helper()
	dir := corpusDir(t)
	rows := readManifest(t, dir)
	corpusOnce.Do(func() {
		for _, row := range rows {
			r := runCorpusFile(filepath.Join(dir, filepath.FromSlash(row.Path)))
			r.Row = row
			if strings.TrimSpace(r.Stdout) != "" {
				var d corpusDoc
				if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil {
					r.DocErr = err
				} else {
					r.Doc = &d
				}
			}
			corpusResults = append(corpusResults, r)
		}
	})
	return corpusResults
}

// runCorpusFile runs finack on one file in a goroutine and gives up after
// corpusDeadline. It calls run directly with an absolute path rather than runIn:
// runIn changes the process's working directory, which a run abandoned at its
// deadline would still depend on, and it may call t.Fatal, which only the test's own
// goroutine may do. A panic is recovered and reported with its stack.
func runCorpusFile(file string) *corpusResult {
	done := make(chan *corpusResult, 1)
	go func() {
		r := &corpusResult{Path: file}
		var out, errb bytes.Buffer
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				r.Panic = fmt.Sprintf("%v\n%s", p, debug.Stack())
			}
			r.Elapsed = time.Since(start)
			r.Stdout, r.Stderr = out.String(), errb.String()
			done <- r
		}()
		r.Code = run([]string{"-r", file, "-o", "json"}, &out, &errb)
	}()
	timer := time.NewTimer(corpusDeadline)
	defer timer.Stop()
	select {
	case r := <-done:
		return r
	case <-timer.C:
		return &corpusResult{Path: file, Hung: true, Elapsed: corpusDeadline}
	}
}

// corpusExit2 lists the captures finack must refuse (exit 2, one stderr line naming the
// file, and what the line must say). Every other capture must be read (exit 0).
var corpusExit2 = map[string]struct{ stderr, why string }{
	"gopacket/pcapgo/tests/le/test901.pcapng": {"frame 2",
		"damaged/unsupported: a second section header (where frame 2 would be, byte 480) has an unknown pcapng version; finack reports frame 1, as tshark does before it stops"},
	"gopacket/pcapgo/tests/be/test901.pcapng": {"frame 2",
		"the big-endian twin of le/test901.pcapng: unknown pcapng version in the second section"},
	"libpcap/tests/shb-option-too-long.pcapng": {"section header",
		"damaged: the section header's option runs past its block (tcpdump: block total length in header and trailer don't match)"},
	"libpcap/tests/pcapng-invalid-vers-1.pcapng": {"ersion",
		"unsupported: pcapng version 0.1 (tcpdump: unsupported pcapng savefile version 0.1)"},
	"libpcap/tests/pcapng-invalid-vers-2.pcapng": {"ersion",
		"unsupported: pcapng version 1.1 (tcpdump: unsupported pcapng savefile version 1.1)"},
	"libpcap/tests/pcap-invalid-version-1.pcap": {"ersion",
		"unsupported: pcap version 1.0 (tcpdump: archaic pcap savefile format)"},
	"libpcap/tests/pcap-invalid-version-2.pcap": {"ersion",
		"unsupported: pcap version 2.5 (tcpdump: unsupported pcap savefile version 2.5; Wireshark reads it)"},
}

// TestCorpusNoPanicNoHang reads every capture of the public corpus: no panic, no hang,
// exit 0, or exit 2 with one stderr line naming the file for the captures listed in
// corpusExit2 (damaged or unsupported files).
func TestCorpusNoPanicNoHang(t *testing.T) {
	results := runCorpus(t)
	v := newCorpusVerdicts("exit")
	var total time.Duration
	slowest := results[0]
	ok, refused, bugs := 0, 0, 0
	for _, r := range results {
		total += r.Elapsed
		if r.Elapsed > slowest.Elapsed {
			slowest = r
		}
		t.Run(r.Row.Path, func(t *testing.T) {
			switch {
			case r.Hung:
				t.Fatalf("no answer after %v: hang", corpusDeadline)
			case r.Panic != "":
				t.Fatalf("panic: %s", r.Panic)
			}
			want, refuse := corpusExit2[r.Row.Path]
			got := strconv.Itoa(r.Code)
			if v.judge(t, r.Row.Path, "exit", got, "0 or 2", r.Code == pipeline.ExitOK || r.Code == pipeline.ExitError) {
				bugs++
				return // a known bug, reported by judge
			}
			switch r.Code {
			case pipeline.ExitOK:
				ok++
				if refuse {
					t.Errorf("read without error, but corpusExit2 says finack refuses it (%s): remove the entry if it now reads", want.why)
				}
				if r.Doc == nil {
					t.Errorf("exit 0 without a JSON report: %v; stdout %.200q", r.DocErr, r.Stdout)
				}
				if r.Stderr != "" {
					t.Errorf("exit 0 with stderr %q", r.Stderr)
				}
			case pipeline.ExitError:
				refused++
				lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.Contains(lines[0], r.Path) {
					t.Errorf("exit 2: stderr must be one line naming the file, got %q", r.Stderr)
				}
				if !refuse {
					t.Errorf("exit 2 (%s): not in corpusExit2", strings.TrimSpace(r.Stderr))
				} else if !strings.Contains(r.Stderr, want.stderr) {
					t.Errorf("exit 2 as expected (%s), but stderr %q does not say %q", want.why, strings.TrimSpace(r.Stderr), want.stderr)
				} else {
					t.Logf("refused as expected (%s): %s", want.why, strings.TrimSpace(r.Stderr))
				}
				if r.Stdout != "" && (r.Doc == nil || r.Doc.Error == "") {
					t.Errorf("exit 2 with a report that does not say where reading stopped (error field): %.200q", r.Stdout)
				}
			}
		})
	}
	v.stale(t)
	t.Logf("%d captures: %d read, %d refused (exit 2, corpusExit2), %d known bugs, %d other; finack took %v in all, at most %v (%s)",
		len(results), ok, refused, bugs, len(results)-ok-refused-bugs, total.Round(time.Millisecond), slowest.Elapsed.Round(time.Millisecond), slowest.Row.Path)
	if total > 30*time.Second {
		t.Errorf("finack took %v over the corpus: expected well under a minute", total)
	}
}

// TestCorpusAgainstTshark compares finack's counts with tshark 4.0.17's, precomputed in
// MANIFEST.tsv (this test needs no tshark):
//
//   - packets: frames read (summary.packets; 0 when finack refuses the file header);
//   - tcp_streams: TCP conversations vs finack's connections (incarnations);
//   - reused_ports_frames: SYN or SYN-ACK frames tshark flags tcp.analysis.reused_ports
//     vs finack's incarnations after the first on a 4-tuple that a SYN or SYN-ACK started
//     (roles_known), as in TestReusedPortsMatchTshark;
//   - fin_retrans_frames: FIN frames tshark calls retransmissions vs the sum of
//     fin_retransmit counts;
//   - rst_frames: RST frames vs the sum of rsts over connections.
//
// tshark's notion differs from finack's in known ways (VLANs are not part of its key, a
// FIN is a "retransmission" whenever its sequence number is below data already seen);
// each difference is listed with what the capture shows.
func TestCorpusAgainstTshark(t *testing.T) {
	results := runCorpus(t)
	v := newCorpusVerdicts("tshark ")
	for _, r := range results {
		t.Run(r.Row.Path, func(t *testing.T) {
			if r.Hung || r.Panic != "" {
				t.Skip("no report (see TestCorpusNoPanicNoHang)")
			}
			row := r.Row
			if r.Doc == nil {
				if _, refused := corpusExit2[row.Path]; refused && r.Code == pipeline.ExitError && r.Stdout == "" {
					// Refused at the file header: nothing read.
					v.compare(t, row.Path, "tshark packets", 0, row.Packets)
					return
				}
				t.Skipf("no JSON report (exit %d: %s): see TestCorpusNoPanicNoHang", r.Code, strings.TrimSpace(r.Stderr))
			}
			d := r.Doc
			reused, rsts := 0, 0
			for _, c := range d.Connections {
				if c.Incarnation > 1 && c.RolesKnown {
					reused++
				}
				rsts += c.RSTs.Client + c.RSTs.Server
			}
			finRetx := 0
			for _, f := range d.Findings {
				if f.Kind == string(analyzer.FinRetransmit) && f.Count != nil {
					finRetx += *f.Count
				}
			}
			v.compare(t, row.Path, "tshark packets", int(d.Summary.Packets), row.Packets)
			v.compare(t, row.Path, "tshark tcp_streams", len(d.Connections), row.Streams)
			v.compare(t, row.Path, "tshark reused_ports_frames", reused, row.Reused)
			v.compare(t, row.Path, "tshark fin_retrans_frames", finRetx, row.FinRetx)
			v.compare(t, row.Path, "tshark rst_frames", rsts, row.RSTFrames)
		})
	}
	v.stale(t)
}

// corpusException pins what finack reports for one comparison (file, check) that does
// not match the reference, and why.
type corpusException struct {
	file   string // path in MANIFEST.tsv
	check  string // the comparison, as the tests name it
	finack string // what finack reports today
	why    string
}

// corpusExplained: differences the capture explains; finack is right (or both tools
// are, by their own definitions). Each reason says what the packets show (checked with
// tcpdump -nn and tshark on the file).
var corpusExplained = []corpusException{
	// Differences left after fixing the bugs the corpus found (B2-B10 of the first
	// corpus run): tshark's own definitions, checked on the packets.
	{"zeek/testing/btest/Traces/tcp/rst-inject-rae.pcap", "tshark reused_ports_frames", "0",
		"tshark flags the SYN-ACK (frame 3) that follows an injected RST+ACK (frame 2, ack = the ISN, not ISN+1): in SYN-SENT the client drops such an RST (RFC 9293 §3.10.7.3), so the SYN-ACK completes the same attempt"},
	{"gopacket/layers/testdata/cip.pcap", "tshark reused_ports_frames", "0",
		"tshark flags SYN-ACKs whose server ISN differs from an earlier one within one attempt (port 1054 sends the same SYN every ~20 s, refused by RSTs, finally answered); finack keeps one attempt (same client ISN)"},
	{"nDPI/tests/cfgs/default/pcap/tls_multiple_synack_different_seq.pcapng", "tshark reused_ports_frames", "0",
		"three SYN-ACKs with three server ISNs acknowledge the same client SYN (ack 3420771759): one attempt; tshark flags the two later SYN-ACKs"},
	{"nDPI/tests/cfgs/default/pcap/KakaoTalk_chat.pcap", "tshark reused_ports_frames", "0",
		"frame 46 is a stray SYN-ACK with a new ISN inside an established connection (it still acknowledges the client's ISN+1; the connection goes on with the first ISN); tshark flags it as reuse"},
	{"nDPI/tests/cfgs/default/pcap/rtsp.pcap", "tshark reused_ports_frames", "0",
		"10.1.1.10:52478 (Windows) retries a refused SYN with the same ISN 0.5 s later and the SYN-ACK (frame 301) accepts it: one connect(); tshark flags that SYN-ACK after the RSTs"},
	{"zeek/testing/btest/Traces/tcp/ctu-64702-888.pcap", "tshark fin_retrans_frames", "0",
		"every frame is captured twice (same IP ID, same time): FINs 5/6 and 13/14 are copies, which finack counts as duplicates and tshark as retransmissions"},
	{"zeek/testing/btest/Traces/tcp/ssh-dups.pcap", "tshark fin_retrans_frames", "0",
		"nearly every segment is captured four times, the FINs three times (frames 364-366, 371-373: identical IP ID, TSval and time): copies, not retransmissions"},
	{"nDPI/tests/cfgs/default/pcap/rtsp.pcap", "tshark fin_retrans_frames", "0",
		"every frame is captured four times: FINs 273-276 (IP ID 0xbbb8) and 281-284 are one FIN each"},
	{"nDPI/tests/cfgs/default/pcap/psiphon3.pcap", "tshark fin_retrans_frames", "0",
		"every frame is captured twice, 1 to 12 ms apart, with the same IP ID: FIN 52 is FIN 49 again (ID 0x9f98, 12.5 ms later), FIN 59 is FIN 56 again (ID 0xf2d9, 3.9 ms later); neither copy draws an ACK of its own (the ACKs 57 and 60 are captured twice too, 61 and 62): one FIN per direction, which tshark counts as retransmissions"},
	{"nDPI/tests/cfgs/default/pcap/1kxun.pcap", "tshark fin_retrans_frames", "2",
		"frames 567/568 are one FIN captured twice (IP ID 0x5231, 38 µs apart); frames 779 and 988 are real retransmissions, counted by both"},

	// packets
	{"libpcap/tests/pcap-invalid-version-2.pcap", "tshark packets", "0",
		"the pcap header says version 2.5: libpcap and tcpdump refuse the file ('unsupported pcap savefile version 2.5') as finack does; Wireshark reads its one frame"},

	// tcp_streams
	{"zeek/testing/btest/Traces/vlan-collisions.pcap", "tshark tcp_streams", "3",
		"the same handshake and close are captured untagged, on VLAN 42 and on QinQ 10/20 (frames 1, 2, 6): three connections for finack, whose key holds the VLAN tags; tshark 4.0 leaves VLANs out of its key and sees one"},
	{"zeek/doc/advanced/devel/plugins/connkey-vxlan-fivetuple-plugin-src/Traces/vxlan-overlapping-http-get.pcap", "tshark tcp_streams", "3",
		"one HTTP connection captured plain and inside VXLAN with VNIs 4711 and 4242 (frames 1-3, same inner 4-tuple): three connections for finack (the VNI in the key, as zeek's VXLAN connection key plugin gives for this trace), one for tshark"},
	{"zeek/testing/btest/Traces/vlan-pcp-dei.pcapng", "tshark tcp_streams", "3",
		"one handshake captured on QinQ 10/20, on VLAN 20 and untagged (frames 1-3, same 4-tuple): three connections for finack (VLANs in the key), one for tshark"},
	{"tcpflow/tests/test5-lines-randomized.pcap", "tshark reused_ports_frames", "1",
		"the records are shuffled (timestamps go backwards; the SYN is frame 10, the SYN-ACK frame 4): tshark flags both as port reuse (two streams, frames 1-9 and 10-11); finack, reading in file order, starts an incarnation at the SYN-ACK after the mid-stream frames 1-3 and takes the SYN it acknowledges (frame 10) into it"},
	{"pcapplusplus/Tests/Packet++Test/PacketExamples/tcp-malformed.pcap", "tshark tcp_streams", "1",
		"both frames have a TCP data offset of 28 bytes in a 20-byte TCP segment (tcpdump: bad hdr length 28): tshark rejects the header and counts no conversation; finack still reads the complete 20-byte fixed header (ports, numbers, flags)"},
	{"gopacket/layers/testdata/linux_sll_oversized_addr.pcapng", "tshark tcp_streams", "3",
		"a corrupted capture (flag bits flipped: U+R+F without ACK at frame 34, SYN+RST+ACK with data at frame 96, stray sequence numbers at 59, 63, 66); finack starts an incarnation at the SYN bit of frame 96 and, after its RST, at the next segment, 60.2 s later (frame 101, past the 60 s TIME_WAIT); the RST bit of frame 34 sits far outside the window (RFC 5961: the receiver drops it) and ends nothing; tshark keeps one stream"},

	// fin_retrans_frames
	{"zeek/testing/btest/Traces/tcp/fin_retransmission.pcap", "tshark fin_retrans_frames", "1",
		"the client's FIN (frame 2, sent before the SYN-ACK) carries the SYN's own sequence number 2187051757, so tshark calls it a retransmission too; finack counts frame 4 only, the FIN sent again at that sequence number"},
	{"zeek/testing/btest/Traces/tcp/syn-then-stuff-then-rst.pcap", "tshark fin_retrans_frames", "0",
		"the only FIN (frame 3) carries seq 0, the SYN's sequence number: tshark calls it a retransmission; for finack it is the first FIN"},
	{"zeek/testing/btest/Traces/vlan-collisions.pcap", "tshark fin_retrans_frames", "0",
		"each FIN appears once per VLAN (untagged, 42, 10/20): tshark, with one conversation for the three, calls the copies on the other VLANs retransmissions; finack has one FIN per direction in each of its three connections"},
	{"zeek/doc/advanced/devel/plugins/connkey-vxlan-fivetuple-plugin-src/Traces/vxlan-overlapping-http-get.pcap", "tshark fin_retrans_frames", "0",
		"the connection is captured plain and twice inside VXLAN (UDP 4789, VNIs 4711 and 4242): three connections for finack, whose key holds the VNI, each with one FIN per direction; tshark leaves the VNI out of its key, merges the three copies and counts the repeated FINs"},
	{"tcpflow/tests/test5-lines-randomized.pcap", "tshark fin_retrans_frames", "0",
		"shuffled records: tshark calls the client's FIN (frame 8) a retransmission because frame 1, earlier in the file, already carried a higher sequence number; finack sees it once"},
	{"gopacket/layers/testdata/linux_sll_oversized_addr.pcapng", "tshark fin_retrans_frames", "0",
		"the FIN bits at frames 34, 52 and 74 are corruption (three different sequence numbers, 1006330957, 1006331009, 1006331074, in the middle of a data exchange that goes on); tshark calls each a retransmission of data already seen, finack counts only a FIN repeated at the sequence number of an earlier FIN"},
	{"nDPI/tests/cfgs/default/pcap/quickplay.pcap", "tshark fin_retrans_frames", "0",
		"frames 38 and 145 resend the data of frames 33 and 143 (same sequence number and length) with FIN added: tshark's retransmission flag is about the data; for finack each is the first FIN of its direction"},

	// Zeek
	{"zeek/testing/btest/Traces/tcp/syn-bad.pcap", "zeek core.tcp.bad-checksum-syn (the trace's connection) packets", "1",
		"the only frame is a SYN whose TCP checksum is wrong (0x9999, should be 0x3bc0): Zeek drops it (history C, 0 packets); finack does not verify checksums (a capture on the sending host carries unfinished checksums under offload) and counts it"},
}

// knownBugs: comparisons where finack is wrong. Each entry pins today's value and says
// what finack should report once the bug is fixed; then the entry must go (and any
// difference with the reference that remains must be explained in corpusExplained).
var knownBugs = []corpusException{}

// corpusVerdicts applies corpusExplained and knownBugs to the checks of one test (the
// entries whose check starts with prefix) and finds entries no check used.
type corpusVerdicts struct {
	explained map[string]*corpusException
	bugs      map[string]*corpusException
	used      map[string]bool
}

func newCorpusVerdicts(prefix string) *corpusVerdicts {
	v := &corpusVerdicts{explained: map[string]*corpusException{}, bugs: map[string]*corpusException{}, used: map[string]bool{}}
	for i, e := range corpusExplained {
		if strings.HasPrefix(e.check, prefix) {
			v.explained[e.file+"\x00"+e.check] = &corpusExplained[i]
		}
	}
	for i, e := range knownBugs {
		if strings.HasPrefix(e.check, prefix) {
			v.bugs[e.file+"\x00"+e.check] = &knownBugs[i]
		}
	}
	return v
}

func (v *corpusVerdicts) compare(t *testing.T, file, check string, got, want int) {
	t.Helper()
	v.judge(t, file, check, strconv.Itoa(got), strconv.Itoa(want), got == want)
}

// judge decides one comparison: got is finack's value, want the reference's, ok whether
// they agree. It reports whether a knownBugs entry covered the check.
func (v *corpusVerdicts) judge(t *testing.T, file, check, got, want string, ok bool) (knownBug bool) {
	t.Helper()
	key := file + "\x00" + check
	if b := v.bugs[key]; b != nil {
		v.used[key] = true
		if got == b.finack {
			t.Logf("%s: known finack bug: finack %s, reference %s: %s", check, got, want, b.why)
		} else {
			t.Errorf("%s: knownBugs says finack gives %s, it now gives %s (reference %s). If the bug is fixed, remove the entry (and explain any difference left in corpusExplained): %s",
				check, b.finack, got, want, b.why)
		}
		return true
	}
	if e := v.explained[key]; e != nil {
		v.used[key] = true
		switch {
		case ok:
			t.Errorf("%s: finack (%s) now agrees with the reference (%s): remove the corpusExplained entry (%s)", check, got, want, e.why)
		case got == e.finack:
			t.Logf("%s: explained difference: finack %s, reference %s: %s", check, got, want, e.why)
		default:
			t.Errorf("%s: corpusExplained says finack gives %s, it now gives %s (reference %s): re-check the explanation: %s", check, e.finack, got, want, e.why)
		}
		return false
	}
	if !ok {
		t.Errorf("%s: finack %s, reference %s: a finack bug (add it to knownBugs, precisely) or a difference the capture explains (corpusExplained)", check, got, want)
	}
	return false
}

// stale reports entries of this test that no check used (a renamed file, a typo).
func (v *corpusVerdicts) stale(t *testing.T) {
	t.Helper()
	var keys []string
	for k := range v.explained {
		if !v.used[k] {
			keys = append(keys, "corpusExplained: "+strings.ReplaceAll(k, "\x00", ": "))
		}
	}
	for k := range v.bugs {
		if !v.used[k] {
			keys = append(keys, "knownBugs: "+strings.ReplaceAll(k, "\x00", ": "))
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Errorf("entry used by no check (file or check renamed?): %s", k)
	}
}

// Zeek baselines. Zeek's conn.log says, per connection, conn_state and history
// (https://docs.zeek.org/en/master/logs/conn.html). History letters: upper case for the
// originator, lower case for the responder; S SYN, H SYN-ACK, A pure ACK, D data,
// F FIN, R RST, C bad checksum, G content gap, T retransmitted segment, ^ roles flipped
// (letters recorded before the flip have their case swapped, so the final history is
// relative to the final originator). The test compares, per connection matched by
// 4-tuple (and VLAN when the log keys by it):
//
//   - FINs: 'F' / 'f' in the history ⇔ finack counts FINs from that endpoint;
//   - RSTs: 'R' / 'r' ⇔ finack counts RSTs from that endpoint;
//   - the close: conn_state mapped to the close shapes finack may report (zeekCloses);
//   - packets: orig_pkts + resp_pkts = finack's packets, when the log has them;
//   - roles: when a SYN or SYN-ACK fixed finack's roles, its client is Zeek's originator;
//   - one-sided captures: when Zeek saw no packet at all from one end, finack must not
//     claim that end never acknowledged a FIN (missing_final_ack, first_fin_unacked):
//     the capture cannot show the acknowledgement.
//
// The mapping from conn_state (Zeek's base/protocols/conn/main.zeek, conn_state()) to
// finack's close shapes:
//
//	S0   SYN seen, no reply                        → none
//	S1   established, not terminated               → none
//	SF   both ends sent FIN, no RST; Zeek needs no final ACK
//	                                                → four_way, three_way, simultaneous, half_close,
//	                                                  or unfinished (the last FIN neither acknowledged
//	                                                  nor retransmitted when the capture ended: censored)
//	S2   originator FIN, responder alive, no FIN   → unfinished
//	S3   responder FIN, originator alive, no FIN   → unfinished
//	SH   originator SYN and FIN, responder silent  → unfinished
//	SHR  responder SYN-ACK and FIN, originator silent → unfinished
//	REJ  SYN answered by RST                       → reset
//	RSTOS0 originator SYN then RST, no SYN-ACK     → reset
//	RSTRH responder SYN-ACK then RST, originator silent → reset
//	RSTO / RSTR  originator / responder sent an RST at any point
//	                                                → reset, or a FIN shape (an RST after both FINs
//	                                                  keeps the FIN shape and shows in rsts)
//	OTH  anything else (midstream, no SYN)          → no claim; FINs and RSTs are still compared
//
// Zeek's endpoint states (core.tcp.fin-retransmit, core.tcp.rst-after-syn print
// conn$orig / conn$resp): 1 SYN_SENT, 4 ESTABLISHED, 5 CLOSED (sent a FIN), 6 RESET
// (sent an RST); conn_state() turns them into the codes above.
var zeekCloses = map[string][]analyzer.Shape{
	"S0":     {analyzer.NoClose},
	"S1":     {analyzer.NoClose},
	"SF":     {analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose, analyzer.Unfinished},
	"S2":     {analyzer.Unfinished},
	"S3":     {analyzer.Unfinished},
	"SH":     {analyzer.Unfinished},
	"SHR":    {analyzer.Unfinished},
	"REJ":    {analyzer.Reset},
	"RSTOS0": {analyzer.Reset},
	"RSTRH":  {analyzer.Reset},
	"RSTO":   {analyzer.Reset, analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose},
	"RSTR":   {analyzer.Reset, analyzer.FourWay, analyzer.ThreeWay, analyzer.Simultaneous, analyzer.HalfClose},
}

const zeekBaselineDir = "zeek/testing/btest/Baseline"

// zeekConnLogs: the conn.log baselines that speak to TCP closes, and the trace each
// was made from. The btest scripts are not in the corpus: each trace is identified by
// the 4-tuples, packet counts and timestamps of the log (why).
//
// Not used: mac-logging/conn1.log and speculative-service/conn-wiki.log (the same
// wikipedia.pcap rows as rxmit-history/conn-2.log); mac-logging/conn3.log and
// speculative-service/conn-post-large.log (their traces are not in the corpus);
// mac-logging/conn2.log and core.pcapng-pktsrc (UDP only); expire-all-timers/
// conn-limited.log (retransmit-timeout.pcapng again, run with a limit);
// conn_key.vlan_fivetuple/conn.log.cut (one row of 21+21 packets for
// vlan-collisions.pcap's 4-tuple: a run with a key without VLANs, which the missing btest
// script would have to confirm).
var zeekConnLogs = []struct{ log, trace, why string }{
	{"core.tcp.miss-end-data/conn.log", "zeek/testing/btest/Traces/tcp/miss_end_data.pcap",
		"192.168.122.230:60648 → 77.238.160.184:80, the trace's only connection, 5+4 packets"},
	{"core.history-flip/conn.log", "zeek/testing/btest/Traces/tcp/missing-syn.pcap",
		"141.42.64.125:56730 ↔ 125.190.109.199:80 with no SYN (^h...), 11+10 packets: the trace's 21"},
	{"core.tcp.missing-syn/conn.log", "zeek/testing/btest/Traces/tcp/missing-syn.pcap",
		"the same row as core.history-flip"},
	{"core.tcp.flip-without-syn/conn.log", "zeek/testing/btest/Traces/tcp/http-on-irc-port-missing-syn.pcapng",
		"141.142.228.5:6669 (the IRC port of the trace's name) ↔ 192.150.187.43:80, no SYN, 6+7 packets: the trace's 13"},
	{"core.conn-size-flip/conn.log.ctu", "zeek/testing/btest/Traces/tcp/ctu-64702-888.pcap",
		"192.168.1.108:64702 ↔ 185.33.86.224:888, the ports of the trace's name, 8+8 packets"},
	{"core.conn-size-flip/conn.log.one-sided", "zeek/testing/btest/Traces/tcp/one-sided-2745.pcap",
		"two connections from port 2745, responder packets only (0+3 each)"},
	{"core.tcp.bad-checksum-syn/conn.log", "zeek/testing/btest/Traces/tcp/syn-bad.pcap",
		"one SYN whose TCP checksum is wrong (0x9999): history C, no packet counted"},
	{"core.pppoe-over-qinq/conn.log", "zeek/testing/btest/Traces/pppoe-over-qinq.pcap",
		"1.1.1.1:20394 → 2.2.2.2:443 over PPPoE over QinQ, 44+42 packets: the trace's 86"},
	{"core.tcp.rxmit-history/conn-1.log", "zeek/testing/btest/Traces/tcp/retransmit-fast009.pcap",
		"10.0.88.85:50368 → 192.168.0.27:80, 17+22 packets: the trace's 39"},
	{"core.tcp.rxmit-history/conn-2.log", "zeek/testing/btest/Traces/wikipedia.pcap",
		"141.142.220.118 ↔ Wikimedia's 208.80.152.x, the TCP rows of wikipedia.pcap"},
	{"core.vlan-mpls/conn.log", "zeek/testing/btest/Traces/mixed-vlan-mpls.pcap",
		"the three 4-tuples of the trace (MPLS, untagged, VLAN 4093)"},
	{"scripts.base.protocols.ssh.half-duplex-client/conn.log", "zeek/testing/btest/Traces/ssh/ssh.client-side-half-duplex.pcap",
		"the 20 SSH 4-tuples, originator packets only"},
	{"scripts.base.protocols.ssh.half-duplex-server/conn.log", "zeek/testing/btest/Traces/ssh/ssh.server-side-half-duplex.pcap",
		"the 20 SSH 4-tuples, responder packets only"},
	{"core.expire-all-timers/conn-all.log", "zeek/testing/btest/Traces/tcp/retransmit-timeout.pcapng",
		"10.0.0.1:51889 → 192.168.0.1:80, 1+1 and 1+0 packets: the trace's 3"},
	{"scripts.policy.frameworks.conn_key.vlan_fivetuple_lookup_connection/conn.log.cut", "zeek/testing/btest/Traces/vlan-collisions.pcap",
		"141.142.228.5:59856 → 192.150.187.43:80 untagged, on QinQ 10/20 and on VLAN 42, 7+7 packets each: the trace's 42"},
}

// zeekEvents: baselines in other forms (event output), each row read off the lines in
// evidence, which the baseline must contain.
var zeekEvents = []struct {
	log      string
	evidence []string
	trace    string
	orig     string
	resp     string
	history  string
	state    string
	reading  string // how the row follows from the evidence
}{
	// conn_state-RST-behavior prints "history, conn_state" for the four RST traces in
	// turn; each history names its trace: R (one RST), SR (SYN, RST), SaR (SYN, the
	// responder's ACK, RST), SaFR (SYN, ACK, FIN, RST).
	{"scripts.base.protocols.conn.conn_state-RST-behavior/out", []string{"\nR, OTH\n"},
		"zeek/testing/btest/Traces/tcp/single-rst.pcap", "10.0.0.10:48777", "10.0.0.80:80", "R", "OTH", "R: the lone RST"},
	{"scripts.base.protocols.conn.conn_state-RST-behavior/out", []string{"\nSR, RSTOS0\n"},
		"zeek/testing/btest/Traces/tcp/syn-then-rst.pcap", "1.1.1.1:13131", "1.1.1.2:31313", "SR", "RSTOS0", "SR: SYN then the originator's RST"},
	{"scripts.base.protocols.conn.conn_state-RST-behavior/out", []string{"\nSaR, RSTOS0\n"},
		"zeek/testing/btest/Traces/tcp/syn-then-ack-then-rst.pcap", "1.1.1.1:13131", "1.1.1.2:31313", "SaR", "RSTOS0", "SaR: SYN, the responder's ACK, the originator's RST"},
	{"scripts.base.protocols.conn.conn_state-RST-behavior/out", []string{"\nSaFR, OTH\n"},
		"zeek/testing/btest/Traces/tcp/syn-then-stuff-then-rst.pcap", "1.1.1.1:13131", "1.1.1.2:31313", "SaFR", "OTH", "SaFR: SYN, ACK, the originator's FIN and RST"},
	// core.tcp.fin-retransmit prints conn$orig and conn$resp at the end.
	{"core.tcp.fin-retransmit/out", []string{"[size=0, state=5, num_pkts=3", "[size=0, state=6, num_pkts=2"},
		"zeek/testing/btest/Traces/tcp/fin_retransmission.pcap", "10.1.30.117:55344", "17.167.193.62:443", "Fr", "RSTR",
		"originator CLOSED (5: sent a FIN, 3 packets), responder RESET (6: sent an RST, 2 packets): conn_state() gives RSTR; history letters F and r"},
	// core.tcp.rst-after-syn prints the connection's id and endpoints.
	{"core.tcp.rst-after-syn/.stdout", []string{"orig_h=1.2.0.2, orig_p=2527/tcp, resp_h=1.2.0.3, resp_p=6649/tcp", "orig:, [size=175, state=1,", "resp:, [size=0, state=6,"},
		"zeek/testing/btest/Traces/tcp/rst-inject-rae.pcap", "1.2.0.2:2527", "1.2.0.3:6649", "r", "REJ",
		"originator SYN_SENT (1), responder RESET (6): conn_state() gives REJ; the responder's RST is the only FIN/RST letter"},
	// core.tcp.tcp-dups prints the history when the connection is removed.
	{"core.tcp.tcp-dups/out", []string{"REMOVE:, [orig_h=192.168.0.102, orig_p=53206/tcp, resp_h=192.168.0.112, resp_p=22/tcp, proto=6, ctx=[]], ShADTadtTtFf"},
		"zeek/testing/btest/Traces/tcp/ssh-dups.pcap", "192.168.0.102:53206", "192.168.0.112:22", "ShADTadtTtFf", "",
		"the history at removal; no conn_state printed"},
	// core.connection_flipped: the connection starts with the SYN-ACK at
	// 1362692526.939084, the first frame of handshake-reorder.pcap, then flips.
	{"core.connection_flipped/out", []string{"1362692526.939084, new_connection", "connection_state_remove, [orig_h=141.142.228.5, orig_p=59856/tcp, resp_h=192.150.187.43, resp_p=80/tcp, proto=6, ctx=[], extra_id=42], Hs^ADadFf"},
		"zeek/testing/btest/Traces/tcp/handshake-reorder.pcap", "141.142.228.5:59856", "192.150.187.43:80", "Hs^ADadFf", "",
		"the history at removal; no conn_state printed"},
}

// zeekConn is what a baseline says about one connection.
type zeekConn struct {
	orig, resp         netip.AddrPort // zero: the log gives no 4-tuple (the trace has one)
	vlan               string         // "" when the log does not key by VLAN, else "-", "42", "10/20"
	history            string
	noHistory          bool   // the log has no history column
	state              string // conn_state, "" when not given
	origPkts, respPkts int    // -1 when not given
}

// readZeekConnLog reads the TCP rows of a Zeek conn.log (or a cut of one).
func readZeekConnLog(t *testing.T, path string) []zeekConn {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var col map[string]int
	var rows []zeekConn
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "#fields\t"):
			col = map[string]int{}
			for i, name := range strings.Split(line, "\t")[1:] {
				col[name] = i
			}
			continue
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case col == nil:
			// zeek-cut output (*.cut, and logs cut in the btest): the first line names
			// the columns.
			col = map[string]int{}
			for i, name := range strings.Split(line, "\t") {
				col[name] = i
			}
			if _, ok := col["uid"]; !ok {
				t.Fatalf("%s: no column names before the data: %q", path, line)
			}
			continue
		}
		f := strings.Split(line, "\t")
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(f) && f[i] != "-" {
				return f[i]
			}
			return ""
		}
		if p := get("proto"); p != "" && p != "tcp" {
			continue
		}
		num := func(name string) int {
			n, err := strconv.Atoi(get(name))
			if err != nil {
				return -1
			}
			return n
		}
		c := zeekConn{history: get("history"), state: get("conn_state"), origPkts: num("orig_pkts"), respPkts: num("resp_pkts")}
		if _, ok := col["history"]; !ok {
			c.noHistory = true
		}
		if get("id.orig_h") != "" {
			op, err1 := strconv.ParseUint(get("id.orig_p"), 10, 16)
			rp, err2 := strconv.ParseUint(get("id.resp_p"), 10, 16)
			oa, err3 := netip.ParseAddr(get("id.orig_h"))
			ra, err4 := netip.ParseAddr(get("id.resp_h"))
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			c.orig, c.resp = netip.AddrPortFrom(oa, uint16(op)), netip.AddrPortFrom(ra, uint16(rp))
		}
		if _, ok := col["id.ctx.vlan"]; ok {
			c.vlan = "-"
			if v := get("id.ctx.vlan"); v != "" {
				c.vlan = v
				if in := get("id.ctx.inner_vlan"); in != "" {
					c.vlan += "/" + in
				}
			}
		}
		rows = append(rows, c)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no TCP row", path)
	}
	return rows
}

// zeekExpected gathers every baseline's rows, per trace, with the name of its baseline.
type zeekExpected struct {
	baseline string // for check names: the btest name, e.g. core.tcp.miss-end-data
	trace    string
	rows     []zeekConn
}

func zeekBaselines(t *testing.T, dir string) []zeekExpected {
	t.Helper()
	var out []zeekExpected
	for _, l := range zeekConnLogs {
		out = append(out, zeekExpected{
			baseline: l.log, trace: l.trace,
			rows: readZeekConnLog(t, filepath.Join(dir, zeekBaselineDir, filepath.FromSlash(l.log))),
		})
	}
	for _, e := range zeekEvents {
		data, err := os.ReadFile(filepath.Join(dir, zeekBaselineDir, filepath.FromSlash(e.log)))
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range e.evidence {
			if !strings.Contains(string(data), ev) {
				t.Fatalf("%s no longer says %q: re-read the baseline (zeekEvents)", e.log, ev)
			}
		}
		out = append(out, zeekExpected{
			baseline: e.log, trace: e.trace,
			rows: []zeekConn{{orig: netip.MustParseAddrPort(e.orig), resp: netip.MustParseAddrPort(e.resp),
				history: e.history, state: e.state, origPkts: -1, respPkts: -1}},
		})
	}
	return out
}

// vlanString renders finack's VLAN tags the way the Zeek row is keyed.
func vlanString(tags []uint16) string {
	if len(tags) == 0 {
		return "-"
	}
	s := make([]string, len(tags))
	for i, v := range tags {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, "/")
}

// TestCorpusAgainstZeek compares finack with what Zeek's baselines say about the same
// connections (see zeekCloses for the mapping and the checks).
func TestCorpusAgainstZeek(t *testing.T) {
	results := runCorpus(t)
	dir := corpusDir(t)
	byPath := map[string]*corpusResult{}
	for _, r := range results {
		byPath[r.Row.Path] = r
	}
	v := newCorpusVerdicts("zeek ")
	for _, z := range zeekBaselines(t, dir) {
		name := strings.SplitN(z.baseline, "/", 2)[0]
		t.Run(z.baseline+" on "+path.Base(z.trace), func(t *testing.T) {
			r := byPath[z.trace]
			if r == nil {
				t.Fatalf("trace %s is not in MANIFEST.tsv", z.trace)
			}
			if r.Doc == nil {
				t.Fatalf("no finack report for %s (exit %d: %s)", z.trace, r.Code, strings.TrimSpace(r.Stderr))
			}
			// Group the rows by connection: Zeek may log one 4-tuple in several rows
			// (an inactivity timeout split it); finack may have several incarnations.
			type group struct {
				zeekConn
				rows int
			}
			var groups []*group
			for _, row := range z.rows {
				var g *group
				for _, x := range groups {
					if x.vlan == row.vlan && ((x.orig == row.orig && x.resp == row.resp) || (x.orig == row.resp && x.resp == row.orig)) {
						g = x
					}
				}
				if g == nil {
					g = &group{zeekConn: row}
					groups = append(groups, g)
					g.rows = 1
					continue
				}
				if g.orig != row.orig {
					t.Fatalf("%s: Zeek logs %s ↔ %s with the roles both ways: not handled", z.baseline, row.orig, row.resp)
				}
				g.rows++
				g.history += row.history
				g.state = row.state // the last row tells how it ended
				if g.origPkts < 0 || row.origPkts < 0 {
					g.origPkts, g.respPkts = -1, -1
				} else {
					g.origPkts += row.origPkts
					g.respPkts += row.respPkts
				}
			}
			for _, g := range groups {
				zeekCompare(t, v, r, name, g.zeekConn)
			}
		})
	}
	v.stale(t)
}

// zeekCompare runs the checks of one Zeek connection against finack's incarnations on
// the same 4-tuple (and VLAN, when the log keys by it).
func zeekCompare(t *testing.T, v *corpusVerdicts, r *corpusResult, baseline string, z zeekConn) {
	t.Helper()
	file := r.Row.Path
	var incs []corpusConn
	for _, c := range r.Doc.Connections {
		cl, err1 := netip.ParseAddrPort(c.Client)
		sv, err2 := netip.ParseAddrPort(c.Server)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("finack printed endpoints %q, %q: %v", c.Client, c.Server, err)
		}
		if z.orig.IsValid() {
			if !(cl == z.orig && sv == z.resp) && !(cl == z.resp && sv == z.orig) {
				continue
			}
			if z.vlan != "" && vlanString(c.VLAN) != z.vlan {
				continue
			}
		}
		incs = append(incs, c)
	}
	tuple := fmt.Sprintf("%s→%s", z.orig, z.resp)
	if !z.orig.IsValid() {
		tuple = "(the trace's connection)"
	}
	if z.vlan != "" {
		tuple += " vlan " + z.vlan
	}
	check := func(what string) string { return "zeek " + baseline + " " + tuple + " " + what }
	if v.judge(t, file, check("found"), strconv.Itoa(len(incs)), "at least 1", len(incs) > 0) || len(incs) == 0 {
		return
	}
	if !z.orig.IsValid() {
		tuples := map[[2]string]bool{}
		for _, c := range incs {
			tuples[[2]string{c.Client, c.Server}] = true
		}
		if len(tuples) != 1 {
			t.Fatalf("%s: the baseline names no 4-tuple and finack has %d", baseline, len(tuples))
		}
		c := incs[0]
		z.orig, z.resp = netip.MustParseAddrPort(c.Client), netip.MustParseAddrPort(c.Server)
	}
	// Per direction: what finack counts from Zeek's originator and responder.
	var origFin, respFin, origRst, respRst, packets int
	rolesKnown, client := false, ""
	unanswered := 0
	last := incs[0]
	for i, c := range incs {
		fromOrig := netip.MustParseAddrPort(c.Client) == z.orig
		cf, sf, cr, sr := c.FINs.Client, c.FINs.Server, c.RSTs.Client, c.RSTs.Server
		if !fromOrig {
			cf, sf, cr, sr = sf, cf, sr, cr
		}
		origFin, respFin, origRst, respRst = origFin+cf, respFin+sf, origRst+cr, respRst+sr
		packets += c.Packets
		if i == 0 && c.RolesKnown {
			rolesKnown, client = true, c.Client
		}
		if c.FirstFrame > last.FirstFrame {
			last = c
		}
		for _, f := range r.Doc.Findings {
			if f.Client == c.Client && f.Server == c.Server && f.Incarnation == c.Incarnation &&
				(f.Kind == string(analyzer.MissingFinalAck) || f.Kind == string(analyzer.FirstFinUnacked)) {
				unanswered++
			}
		}
	}
	letters := func(upper, lower string, o, rr bool) string {
		s := ""
		if o {
			s += upper
		}
		if rr {
			s += lower
		}
		return s
	}
	if h := z.history; !z.noHistory {
		gotF, wantF := letters("F", "f", origFin > 0, respFin > 0), letters("F", "f", strings.Contains(h, "F"), strings.Contains(h, "f"))
		v.judge(t, file, check("fins"), quoteEmpty(gotF), quoteEmpty(wantF)+" (history "+h+")", gotF == wantF)
		gotR, wantR := letters("R", "r", origRst > 0, respRst > 0), letters("R", "r", strings.Contains(h, "R"), strings.Contains(h, "r"))
		v.judge(t, file, check("rsts"), quoteEmpty(gotR), quoteEmpty(wantR)+" (history "+h+")", gotR == wantR)
	}
	if allowed := zeekCloses[z.state]; allowed != nil {
		names := make([]string, len(allowed))
		for i, s := range allowed {
			names[i] = string(s)
		}
		v.judge(t, file, check("close"), last.Close, z.state+": "+strings.Join(names, "|"), slices.Contains(allowed, analyzer.Shape(last.Close)))
	}
	if z.origPkts >= 0 && z.respPkts >= 0 {
		v.compare(t, file, check("packets"), packets, z.origPkts+z.respPkts)
		if z.origPkts == 0 || z.respPkts == 0 {
			v.judge(t, file, check("unanswered FIN findings"), strconv.Itoa(unanswered), "0 (one end sent nothing Zeek saw)", unanswered == 0)
		}
	}
	if rolesKnown {
		v.judge(t, file, check("client"), client, z.orig.String()+" (Zeek's originator)", client == z.orig.String())
	}
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

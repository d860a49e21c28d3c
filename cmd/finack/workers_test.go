package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestWorkersSameReport: the report does not depend on --workers. Every committed
// capture, in every format, with records in memory (held: as --export or --states
// keep them) and streamed through the external sort with a tiny bound, with
// --fail-on (its totals summed per worker), is byte for byte the report of one
// worker, with 2, 3 and 7 workers.
func TestWorkersSameReport(t *testing.T) {
	for _, set := range captureSets(t) {
		t.Run(set[0], func(t *testing.T) {
			var args []string
			for _, f := range set {
				args = append(args, "-r", f)
			}
			for _, form := range [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"--connections"}, {"-o", "json", "--fail-on", "any>100000"}, {"-o", "junit"}} {
				a := append(append([]string(nil), args...), form...)
				for _, keep := range []struct {
					bound spill.Options
					hold  bool
				}{{}, {bound: spill.Options{MaxRecords: 2}}, {hold: true}} {
					bound := keep.bound
					tune := func(o *options) { o.Spill, o.HoldRecords = keep.bound, keep.hold }
					want, wantErr, wantCode := runTunedIn(t, pcapDir, tune, append([]string{"--workers", "1"}, a...)...)
					for _, n := range []string{"2", "3", "7"} {
						got, gotErr, code := runTunedIn(t, pcapDir, tune, append([]string{"--workers", n}, a...)...)
						if got != want || gotErr != wantErr || code != wantCode {
							t.Errorf("finack --workers %s %v (spill bound %+v, held %v): differs from one worker (exit %d, want %d; stderr %q, want %q):\n%s",
								n, a, bound, keep.hold, code, wantCode, gotErr, wantErr, lineDiff(want, got))
						}
					}
				}
			}
		})
	}
}

// writeBig generates a capture (synth.WriteBig) as big.pcap in a new directory, and
// returns the directory.
func writeBig(t *testing.T, opt synth.BigOptions) string {
	return filepath.Dir(synth.WriteBigFile(t, opt))
}

// TestWorkersSameReportBig: the same on a generated capture large enough that the
// trackers sweep, pack quiet incarnations, and forget 4-tuples many times.
func TestWorkersSameReportBig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates 300,000 packets")
	}
	dir := writeBig(t, synth.BigOptions{Packets: 300_000, Seed: 3, Concurrency: 2000})
	sameReportWorkers(t, dir, "big.pcap", "2", "5")
}

// sameReportWorkers checks that file in dir gives with each number of workers the
// `-o json` report (--time-wait 5s) it gives with one.
func sameReportWorkers(t *testing.T, dir, file string, workers ...string) {
	t.Helper()
	var want string
	for _, n := range append([]string{"1"}, workers...) {
		got, stderr, code := runIn(t, dir, "--workers", n, "-r", file, "-o", "json", "--time-wait", "5s")
		if code != pipeline.ExitOK {
			t.Fatalf("%s, --workers %s: exit %d: %s", file, n, code, stderr)
		}
		if n == "1" {
			want = got
			continue
		}
		if got != want {
			t.Errorf("%s, --workers %s: the report differs from one worker's:\n%s", file, n, lineDiff(want, got))
		}
	}
}

// TestWorkersSameReportPcapng: the capture of TestWorkersSameReportBig written as
// pcapng gives the same report with 1 and 5 workers (five read it in parts). A block
// that pcapgo skips unread a third of the way in is skipped by the part readers; an
// interface described two thirds of the way in makes them hand the rest over to one
// reader (capture.PartRecords.Sequential).
func TestWorkersSameReportPcapng(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates 300,000 packets")
	}
	dir := writeBig(t, synth.BigOptions{Packets: 300_000, Seed: 3, Concurrency: 2000})
	in, err := os.Open(filepath.Join(dir, "big.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }() // read-only
	pr, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "big.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(out, pr.LinkType())
	if err != nil {
		t.Fatal(err)
	}
	// A custom block (pcapng section 4.8): type 0xBAD, length 16, a private
	// enterprise number; pcapgo discards it.
	custom := []byte{0xad, 0x0b, 0, 0, 16, 0, 0, 0, 0x7f, 0, 0, 1, 16, 0, 0, 0}
	for i := 0; ; i++ {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 100_000:
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if _, err := out.Write(custom); err != nil {
				t.Fatal(err)
			}
		case 200_000:
			if _, err := w.AddInterface(pcapgo.NgInterface{LinkType: pr.LinkType(), SnapLength: 65535}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open([]string{filepath.Join(dir, "big.pcapng")}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	parts, ok := r.Parts(1 << 20)
	_ = r.Close()
	if !ok || len(parts) < 10 {
		t.Fatalf("big.pcapng: %d parts of 1 MiB, want it read in parts", len(parts))
	}
	sameReportWorkers(t, dir, "big.pcapng", "5")
}

// TestIdleTimeoutAndCapForFiles: a connection left open and quiet past
// --idle-timeout is finished and marked dropped (idle), and counted in the summary;
// without it (the default for files) or with 0 it is kept to the end. --max-connections caps a file read too, the
// evictions counted.
func TestIdleTimeoutAndCapForFiles(t *testing.T) {
	srv := netip.MustParseAddrPort("192.0.2.10:80")
	var ps []synth.Packet
	// Connection 1: handshake and a request, then nothing for 10 minutes while
	// connections 2..4 come and close.
	c1 := synth.NewConn(netip.MustParseAddrPort("192.0.2.1:40001"), srv, 1000, 2000, synth.Epoch)
	ps = append(ps, c1.Handshake()...)
	ps = append(ps, c1.Exchange(100, 200)...)
	for i := 2; i <= 4; i++ {
		c := synth.NewConn(netip.MustParseAddrPort(fmt.Sprintf("192.0.2.1:4000%d", i)), srv, 1000, 2000, synth.Epoch.Add(time.Duration(i)*4*time.Minute))
		ps = append(ps, c.Full(100, 200, false)...)
	}
	dir := t.TempDir()
	writePcap(t, dir, "idle.pcap", ps)
	type doc struct {
		Summary struct {
			Dropped *report.Dropped `json:"dropped"`
		} `json:"summary"`
		Connections []struct {
			Client  string `json:"client"`
			Close   string `json:"close"`
			Dropped string `json:"dropped"`
		} `json:"connections"`
	}
	for _, tc := range []struct {
		args           []string
		idle, evicted  uint64
		droppedClient1 string
	}{
		{nil, 0, 0, ""}, // files: no idle timeout unless asked
		{[]string{"--idle-timeout", "5m"}, 1, 0, "idle"},
		{[]string{"--idle-timeout", "20m"}, 0, 0, ""},
		{[]string{"--idle-timeout", "0", "--max-connections", "1", "--workers", "1"}, 0, 1, "evicted"}, // the others close and expire before the next starts
	} {
		out, stderr, code := runIn(t, dir, append([]string{"-r", "idle.pcap", "-o", "json"}, tc.args...)...)
		if code != pipeline.ExitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		var idle, evicted uint64
		if x := d.Summary.Dropped; x != nil {
			idle, evicted = x.Idle, x.Evicted
		}
		if idle != tc.idle || evicted != tc.evicted || len(d.Connections) != 4 || d.Connections[0].Dropped != tc.droppedClient1 {
			t.Errorf("%v: dropped idle %d evicted %d (want %d, %d); first connection dropped %q (want %q); %d connections",
				tc.args, idle, evicted, tc.idle, tc.evicted, d.Connections[0].Dropped, tc.droppedClient1, len(d.Connections))
		}
	}
	// The text report says the same: a summary line and the mark on the record.
	out, _, _ := runIn(t, dir, "-r", "idle.pcap", "--connections", "--idle-timeout", "5m")
	for _, want := range []string{
		"dropped      1 idle past --idle-timeout 5m0s, 0 evicted at --max-connections 1000000: finished before they closed\n",
		"192.0.2.1:40001 → 192.0.2.10:80 #1  none",
		"(dropped: idle)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report without %q:\n%s", want, out)
		}
	}
}

// TestDefaultWorkers: the default follows GOMAXPROCS (a container's CPU limit, the
// CPU affinity, the variable), not the host's CPU count, and stays within pipeline.MaxWorkers.
func TestDefaultWorkers(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, tc := range []struct{ procs, want int }{{1, 1}, {3, 3}, {pipeline.MaxWorkers + 5, pipeline.MaxWorkers}} {
		runtime.GOMAXPROCS(tc.procs)
		if got := pipeline.DefaultWorkers(); got != tc.want {
			t.Errorf("GOMAXPROCS %d: %d workers, want %d", tc.procs, got, tc.want)
		}
	}
}

// TestColdStoreReport: a capture holding more connections in TIME_WAIT than a
// tracker keeps whole in memory (reassembly's cold store: their records go to
// temporary files) gives the same report whether the files can be written or not;
// when they cannot, a warning on stderr says so and the records stay in memory.
func TestColdStoreReport(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: generates 300,000 packets")
	}
	// 300,000 packets over less than a TIME_WAIT: about 30,000 connections held
	// at the end, most of them closed.
	dir := writeBig(t, synth.BigOptions{Packets: 300_000, Seed: 5, Concurrency: 2000})
	// The report's sort keeps its own temporary directory: only the trackers' go
	// missing.
	sortDir := t.TempDir()
	run := func(tmp string) (string, string) {
		t.Setenv("TMPDIR", tmp)
		out, stderr, code := runTunedIn(t, dir, func(o *options) { o.Spill.Dir = sortDir }, "--workers", "1", "-r", "big.pcap", "-o", "json")
		if code != pipeline.ExitOK {
			t.Fatalf("TMPDIR %s: exit %d: %s", tmp, code, stderr)
		}
		return out, stderr
	}
	onDisk, stderr := run(t.TempDir())
	if stderr != "" {
		t.Fatalf("with a temporary directory: stderr %q", stderr)
	}
	inMemory, stderr := run(filepath.Join(dir, "missing"))
	if !strings.Contains(stderr, "temporary file") || !strings.Contains(stderr, "kept in memory") {
		t.Fatalf("without a temporary directory: stderr %q, want the warning (or the capture held too few connections to use the files)", stderr)
	}
	t.Logf("without a temporary directory: %s", strings.TrimSpace(stderr))
	if onDisk != inMemory {
		t.Errorf("the report differs with records on disk:\n%s", lineDiff(inMemory, onDisk))
	}
}

package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/metrics"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// These tests run the live pipeline (streaming tracker, provisional analysis on each
// tick, final analysis when the tracker finishes an incarnation, the report at the
// stop) on recorded captures instead of an interface, so they need no privileges.
// live_test.go runs the real thing on a veth pair.

// liveOnFile sets up a live run over a capture, ticking after every segment.
func liveOnFile(t *testing.T, file, output string) (*LiveRun, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return liveOnFiles(t, []string{filepath.Join(pcapDir, file)}, output)
}

// liveOnFiles is liveOnFile over one capture given as its pieces (paths; rotated
// pieces are merged by time, as -r reads them).
func liveOnFiles(t *testing.T, paths []string, output string) (*LiveRun, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	r, err := capture.Open(paths, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { synth.CheckClose(t, r) })
	prof, err := analyzer.LookupProfile("linux")
	if err != nil {
		t.Fatal(err)
	}
	cfg := LiveConfig{
		Options: report.Options{Output: output, TimeWait: reassembly.DefaultTimeWait, View: report.ViewOptions{Profile: prof},
			MaxConns: DefaultMaxConns, IdleTimeout: DefaultIdleTimeout},
		Live: LiveOptions{Iface: "test0", MaxFindings: DefaultMaxFindings, Snaplen: capture.DefaultSnapLen, Tick: -1},
	}
	var out, errb bytes.Buffer
	run := NewLiveRun(cfg, synth.FileSource{R: r}, &out, &errb, nil)
	return run, &out, &errb
}

type streamRecord struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	analyzer.Finding
	Summary json.RawMessage
}

func (f *streamRecord) key() string {
	return fmt.Sprintf("%s %s %s #%d %s", f.Kind, f.Client, f.Server, f.Incarnation, f.Sender)
}

// TestLiveStreamMatchesFile: on every committed capture (pcap, pcapng, gzip, the
// rotated set), the live NDJSON stream holds
// each finding of the file's report exactly once with status final (same kind,
// connection, frames, outcome, count, verdict), any provisional record of it comes
// before it, a withdrawn record only for a provisional finding that never became
// final, the incident records are the file report's incidents, and the summary's
// counts are the file report's.
func TestLiveStreamMatchesFile(t *testing.T) {
	sets := committedCaptures(t)
	for _, paths := range sets {
		file := filepath.Base(paths[0])
		t.Run(file, func(t *testing.T) {
			run, out, errb := liveOnFiles(t, paths, "ndjson")
			var stop atomic.Bool
			if code := run.Finish(run.Loop(&stop)); code != ExitOK {
				t.Fatalf("exit %d: %s", code, errb)
			}
			// The file's report (finack -r FILE -o json), as TestExpectedReports
			// (cmd/finack) checks it.
			fileOut, err := os.ReadFile(filepath.Join(pcapDir, file+".expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want report.Document
			if err := json.Unmarshal(fileOut, &want); err != nil {
				t.Fatal(err)
			}
			finals := map[string]analyzer.Finding{}
			provisional := map[string]bool{}
			withdrawn := map[string]bool{}
			updated := map[string]bool{}
			lastOutcome := map[string]string{}
			var sum report.Summary
			var incidents []string // the incident records, without their type, as JSON
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var rec streamRecord
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				switch rec.Type {
				case "finding":
					k := rec.key()
					switch rec.Status {
					case "provisional":
						if provisional[k] || finals[k].Kind != "" {
							t.Errorf("provisional %s after another record of it", k)
						}
						provisional[k] = true
						lastOutcome[k] = string(rec.Outcome) + " " + string(rec.Verdict)
					case "updated":
						// The outcome changed while the connection was open: after
						// its provisional record, before its final one, saying
						// something else than the record before it.
						if !provisional[k] || finals[k].Kind != "" || lastOutcome[k] == string(rec.Outcome)+" "+string(rec.Verdict) {
							t.Errorf("updated %s: provisional before %v, final %v, outcome before %q", k, provisional[k], finals[k].Kind != "", lastOutcome[k])
						}
						updated[k] = true
						lastOutcome[k] = string(rec.Outcome) + " " + string(rec.Verdict)
					case "final":
						if finals[k].Kind != "" {
							t.Errorf("final %s twice", k)
						}
						finals[k] = rec.Finding
					case "withdrawn":
						if !provisional[k] || finals[k].Kind != "" {
							t.Errorf("withdrawn %s: provisional before %v, final %v", k, provisional[k], finals[k].Kind != "")
						}
						withdrawn[k] = true
					default:
						t.Errorf("finding with status %q", rec.Status)
					}
				case "summary":
					if err := json.Unmarshal([]byte(line), &sum); err != nil {
						t.Fatal(err)
					}
				case "incident":
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatal(err)
					}
					delete(m, "type")
					b, _ := json.Marshal(m)
					incidents = append(incidents, string(b))
				case "connection":
				default:
					t.Errorf("record type %q", rec.Type)
				}
			}
			// Every incident of the file's report once, in the order connections
			// were decided.
			var wantInc struct {
				Incidents []map[string]any `json:"incidents"`
			}
			if err := json.Unmarshal([]byte(fileOut), &wantInc); err != nil {
				t.Fatal(err)
			}
			var wantIncidents []string
			for _, m := range wantInc.Incidents {
				b, _ := json.Marshal(m)
				wantIncidents = append(wantIncidents, string(b))
			}
			slices.Sort(incidents)
			slices.Sort(wantIncidents)
			if !slices.Equal(incidents, wantIncidents) {
				t.Errorf("incident records:\n%s\nthe file's report:\n%s", strings.Join(incidents, "\n"), strings.Join(wantIncidents, "\n"))
			}
			if len(finals) != len(want.Findings) {
				t.Errorf("%d final findings in the stream, %d in the file's report", len(finals), len(want.Findings))
			}
			for _, w := range want.Findings {
				rec := streamRecord{Finding: w}
				got, ok := finals[rec.key()]
				if !ok {
					t.Errorf("file finding %s not final in the stream", rec.key())
					continue
				}
				if !SameOutcome(&got, &w) || fmt.Sprint(got.Frames) != fmt.Sprint(w.Frames) {
					t.Errorf("%s: stream %+v\nfile %+v", rec.key(), got, w)
				}
			}
			for k := range withdrawn {
				if _, ok := finals[k]; ok {
					t.Errorf("%s withdrawn and final", k)
				}
			}
			if sum.Connections != want.Summary.Connections || fmt.Sprint(sum.Closes) != fmt.Sprint(want.Summary.Closes) ||
				fmt.Sprint(sum.FindingCounts) != fmt.Sprint(want.Summary.FindingCounts) || sum.Packets != want.Summary.Packets {
				t.Errorf("summary: connections %d closes %v findings %v packets %d\nfile: connections %d closes %v findings %v packets %d",
					sum.Connections, sum.Closes, sum.FindingCounts, sum.Packets,
					want.Summary.Connections, want.Summary.Closes, want.Summary.FindingCounts, want.Summary.Packets)
			}
		})
	}
	if len(sets) == 0 {
		t.Fatal("no committed captures")
	}
}

// TestLiveTextUpdates: in text, a finding is printed provisional as soon as it shows
// (here: the server's FIN sent a second time, outcome unresolved), and printed again
// as final when its incarnation is decided with another outcome (it gave up). The
// report at the stop follows, with the live header.
func TestLiveTextUpdates(t *testing.T) {
	run, out, _ := liveOnFile(t, "final-ack-never.pcap", "text")
	var stop atomic.Bool
	by, err := run.Loop(&stop)
	if err != nil {
		t.Fatal(err)
	}
	mid := out.String()
	if !strings.Contains(mid, "provisional missing_final_ack") || !strings.Contains(mid, "still unresolved when the provisional report was made") {
		t.Errorf("no provisional missing_final_ack (\"still unresolved when the provisional report was made\") while the connection is tracked:\n%s", mid)
	}
	if strings.Contains(mid, "capture ended") {
		t.Errorf("a provisional finding says the capture ended while it goes on:\n%s", mid)
	}
	// Ten minutes of silence later: the tracker finishes the connection.
	run.tick(time.Now().Add(10 * time.Minute))
	after := strings.TrimPrefix(out.String(), mid)
	if !strings.Contains(after, "final       missing_final_ack") || !strings.Contains(after, "gave up") {
		t.Errorf("no final missing_final_ack (gave up) once decided:\n%s", after)
	}
	if code := run.Finish(by, nil); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	rep := out.String()
	for _, want := range []string{"interface    test0", "kernel       ", "tracked      0 connections at the end", "missing_final_ack 1"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

// TestLiveConnectionStream: with --connections, -o ndjson also streams each
// connection's record as it is decided, before its final findings.
func TestLiveConnectionStream(t *testing.T) {
	run, out, _ := liveOnFile(t, "final-ack-never.pcap", "ndjson")
	run.o.Connections = true
	var stop atomic.Bool
	by, err := run.Loop(&stop)
	if err != nil {
		t.Fatal(err)
	}
	run.tick(time.Now().Add(10 * time.Minute))
	if code := run.Finish(by, nil); code != ExitOK {
		t.Fatal(code)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec streamRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		types = append(types, rec.Type+"/"+rec.Status+"/"+string(rec.Kind))
	}
	got := strings.Join(types, " ")
	// The server's FIN, retransmitted until it gave up: its two findings, final,
	// then their one incident; then the end marker (a SYN refused with an RST).
	want := "finding/provisional/missing_final_ack finding/provisional/fin_retransmit " +
		"connection// finding/final/missing_final_ack finding/final/fin_retransmit incident//missing_final_ack connection// summary//"
	if got != want {
		t.Errorf("records %s\nwant    %s", got, want)
	}
}

// TestLiveMaxFindings: the report lists the latest --max-findings findings and counts
// the rest; the summary counts all of them.
func TestLiveMaxFindings(t *testing.T) {
	run, out, _ := liveOnFile(t, "final-ack-dropped.pcap", "json")
	run.o.Live.MaxFindings = 1
	var stop atomic.Bool
	if code := run.Finish(run.Loop(&stop)); code != ExitOK {
		t.Fatal(code)
	}
	var doc struct {
		Summary struct {
			Findings map[string]int `json:"findings"`
			Live     LiveSummary    `json:"live"`
		} `json:"summary"`
		Findings []analyzer.Finding `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range doc.Summary.Findings {
		total += n
	}
	if total != 2 || len(doc.Findings) != 1 || doc.Summary.Live.FindingsListed != 1 || doc.Summary.Live.FindingsOmitted != 1 {
		t.Errorf("counted %d, listed %d (summary: listed %d, omitted %d); want 2, 1, 1, 1",
			total, len(doc.Findings), doc.Summary.Live.FindingsListed, doc.Summary.Live.FindingsOmitted)
	}
}

// TestMetricsEndpoint serves a snapshot on a loopback port and checks the exposition;
// then, with the host states a second old, a scrape asks the capture loop for fresh
// ones and gets them.
func TestMetricsEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	m := metrics.New(ln, version)
	defer synth.CheckClose(t, m)
	run, _, _ := liveOnFile(t, "server-close.pcap", "json")
	var stop atomic.Bool
	if _, err := run.Loop(&stop); err != nil {
		t.Fatal(err)
	}
	// This host's addresses: the server's, and those the traffic never shows.
	run.local = map[netip.Addr]bool{}
	for _, a := range []string{"10.77.0.2", "127.0.0.1", "::1", "fe80::1"} {
		run.local[netip.MustParseAddr(a)] = true
	}
	run.localAt = time.Now()
	now := time.Now()
	run.hosts.compute(run.tr, &run.states, run.local, now, run.clock(now).Time(), run.twLen)
	m.Update(run.Snapshot(now))
	m.UpdateHosts(run.hosts.Snapshot(now))
	body := synth.HTTPGet(t, "http://"+m.Addr()+"/metrics")
	for _, want := range []string{
		"finack_packets_total 10",
		"finack_tcp_segments_total 10",
		`finack_time_wait_sockets{host="10.77.0.2"} 1`,
		`finack_sockets{host="10.77.0.2",state="TIME_WAIT"} 1`,
		"finack_remote_time_wait_sockets 0",
		"finack_tracked_connections 1",
		`finack_findings_total{kind="missing_final_ack"} 0`,
		`finack_closes_total{shape="three_way"} 0`,
		"finack_evicted_connections_total 0",
		"finack_kernel_dropped_packets_total 0",
		"process_resident_memory_bytes",
		"finack_build_info{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, absent := range []string{`host="127.0.0.1"`, `host="::1"`, `host="fe80::1"`} {
		if strings.Contains(body, absent) {
			t.Errorf("metrics have series for %s, an address the traffic never showed", absent)
		}
	}
	if t.Failed() {
		t.Log(body)
	}

	// Stale host states: the scrape asks, the loop (here: a goroutine standing in for
	// its ticks) answers.
	m.UpdateHosts(metrics.Hosts{At: time.Now().Add(-2 * time.Second)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !m.HostsWanted() {
			time.Sleep(10 * time.Millisecond)
		}
		now := time.Now()
		m.UpdateHosts(run.hosts.Snapshot(now))
	}()
	body = synth.HTTPGet(t, "http://"+m.Addr()+"/metrics")
	<-done
	if !strings.Contains(body, `finack_time_wait_sockets{host="10.77.0.2"} 1`) {
		t.Errorf("after a refresh on demand:\n%s", body)
	}
}

// TestLiveProvisionalUpdates: on final-ack-dropped.pcap (Linux server whose FIN's
// final ACKs were dropped; the fourth transmission is acknowledged) the live text
// output first shows the missing final ACK as open ("not yet acknowledged"), then an
// update once the ACK comes (recovered), and the --interval line counts the
// provisional findings while the connection is open.
func TestLiveProvisionalUpdates(t *testing.T) {
	run, out, errb := liveOnFile(t, "final-ack-dropped.pcap", "text")
	run.o.Live.Interval = time.Nanosecond // a line at every tick
	var stop atomic.Bool
	if code := run.Finish(run.Loop(&stop)); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb)
	}
	var prov, upd string
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		if i+1 >= len(lines) || !strings.Contains(l, "missing_final_ack") {
			continue
		}
		switch {
		case strings.Contains(l, " provisional ") && prov == "":
			prov = lines[i+1]
		case strings.Contains(l, " updated "):
			upd = lines[i+1]
		}
	}
	if !strings.Contains(prov, "not yet acknowledged") || strings.Contains(prov, "never acknowledged") {
		t.Errorf("provisional missing_final_ack says %q, want \"not yet acknowledged\"", prov)
	}
	if !strings.Contains(upd, "the ACK in frame 14 ended") {
		t.Errorf("no update when the final ACK came (updated: %q):\n%s", upd, out)
	}
	if !strings.Contains(errb.String(), "provisional missing_final_ack 1, fin_retransmit 1") {
		t.Errorf("--interval lines do not count the provisional findings:\n%s", errb)
	}
}

// signalAfterFirst is a live source that raises the stop once it has handed out
// its first segment and then, the capture read to its end, reports no more packets
// (ErrWait), as an interface does: what it still held at the signal is what libpcap
// had not yet handed over.
type signalAfterFirst struct {
	synth.FileSource
	stop *atomic.Bool
	n    int
}

func (s *signalAfterFirst) Next(seg *capture.Segment) error {
	if s.n++; s.n == 2 {
		s.stop.Store(true)
	}
	if err := s.FileSource.Next(seg); err != nil {
		return capture.ErrWait
	}
	return nil
}

// TestLiveDrainsAtStop: at a signal the run still reads what the source holds, up
// to the first read that brings nothing (libpcap hands packets over a block at a
// time: the last moments before a stop may not have been delivered yet), and the
// report covers those packets.
func TestLiveDrainsAtStop(t *testing.T) {
	run, out, _ := liveOnFile(t, "client-close.pcap", "json")
	var stop atomic.Bool
	run.src = &signalAfterFirst{FileSource: run.src.(synth.FileSource), stop: &stop}
	by, err := run.Loop(&stop)
	if err != nil || by != "signal" {
		t.Fatalf("stopped by %q (%v), want the signal", by, err)
	}
	if code := run.Finish(by, nil); code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var doc struct {
		Summary struct {
			Packets uint64         `json:"packets"`
			Closes  map[string]int `json:"closes"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if doc.Summary.Packets != 11 || doc.Summary.Closes["four_way"] != 1 {
		t.Errorf("report of %d packets, closes %v; want the capture's 11, one four_way close:\n%s", doc.Summary.Packets, doc.Summary.Closes, out)
	}
}

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/capture/synth"
)

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no input", nil, "-r:"},
		{"bad output", []string{"-r", "client-close.pcap", "-o", "xml"}, "-o:"},
		{"bad fail-on", []string{"-r", "client-close.pcap", "--fail-on", "lost_fin"}, "--fail-on:"},
		{"bad time-wait", []string{"-r", "client-close.pcap", "--time-wait", "-1s"}, "--time-wait:"},
		{"huge time-wait", []string{"-r", "client-close.pcap", "--time-wait", "2000000h"}, "--time-wait:"},
		{"unknown flag", []string{"-r", "client-close.pcap", "--bogus"}, "bogus"},
		{"missing file", []string{"-r", "no-such.pcap"}, "no-such.pcap"},
		{"bad filter", []string{"-r", "client-close.pcap", "tcp", "port", "banana"}, "banana"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runIn(t, pcapDir, tc.args...)
			if code != pipeline.ExitError {
				t.Errorf("exit %d, want %d", code, pipeline.ExitError)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr %q: want one line naming %q", errOut, tc.want)
			}
			if tc.name != "missing file" && out != "" {
				t.Errorf("stdout not empty on a usage error: %q", out)
			}
		})
	}
}

func TestFailOn(t *testing.T) {
	tests := []struct {
		file   string
		failOn string
		code   int
	}{
		{"final-ack-dropped.pcap", "missing_final_ack", pipeline.ExitFinding},
		{"final-ack-dropped.pcap", "reuse_in_2msl,fin_retransmit", pipeline.ExitFinding},
		{"final-ack-dropped.pcap", "reuse_in_2msl", pipeline.ExitOK},
		{"final-ack-dropped.pcap", "any", pipeline.ExitFinding},
		{"client-close.pcap", "any", pipeline.ExitOK},
		{"reuse-server-timewait.pcap", "reuse_in_2msl", pipeline.ExitFinding},
	}
	for _, tc := range tests {
		t.Run(tc.file+" "+tc.failOn, func(t *testing.T) {
			_, errOut, code := runIn(t, pcapDir, "-r", tc.file, "--fail-on", tc.failOn)
			if code != tc.code {
				t.Errorf("exit %d, want %d (%s)", code, tc.code, errOut)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	out, _, code := runIn(t, pcapDir, "--help")
	if code != pipeline.ExitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, "finack -r capture.pcap") {
		t.Errorf("--help: exit %d, output %q", code, out)
	}
	out, _, code = runIn(t, pcapDir, "--version")
	if code != pipeline.ExitOK || !strings.HasPrefix(out, "finack ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: exit %d, output %q", code, out)
	}
}

// TestDamagedFile cuts a capture in the middle of a record: finack prints the report of
// what it read, then one line naming the file and frame, and exits 2.
func TestDamagedFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cut.pcap"), data[:len(data)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runIn(t, dir, "-r", "cut.pcap", "-o", "json")
	if code != pipeline.ExitError {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut, "cut.pcap") || !strings.Contains(errOut, "frame 14") {
		t.Errorf("stderr %q: want the file and frame 14", errOut)
	}
	var doc struct {
		Summary struct {
			Packets uint64 `json:"packets"`
		} `json:"summary"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("no report before the error: %v", err)
	}
	if doc.Summary.Packets != 13 || doc.Error == "" {
		t.Errorf("report of the damaged file: packets %d (want 13), error %q", doc.Summary.Packets, doc.Error)
	}
}

func TestStdinAndFilter(t *testing.T) {
	f, err := os.Open(filepath.Join(pcapDir, "reuse-server-timewait.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, f)
	saved := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = saved }()
	out, errOut, code := runIn(t, pcapDir, "-r", "-", "-o", "json", "tcp[tcpflags] & tcp-syn != 0")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Summary struct {
			Packets  uint64            `json:"packets"`
			Segments uint64            `json:"tcp_segments"`
			Skipped  map[string]uint64 `json:"skipped"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	// 3 connections: SYN and SYN-ACK each pass the filter, the other 8 frames do not.
	if doc.Summary.Packets != 30 || doc.Summary.Segments != 6 || doc.Summary.Skipped["filtered"] != 24 {
		t.Errorf("summary %+v: want 30 packets, 6 segments, 24 filtered", doc.Summary)
	}
}

func TestNDJSON(t *testing.T) {
	out, _, code := runIn(t, pcapDir, "-r", "final-ack-dropped.pcap", "-o", "ndjson")
	if code != pipeline.ExitOK {
		t.Fatal(code)
	}
	var types []string
	var incidents []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		types = append(types, rec["type"].(string))
		if rec["type"] == "incident" {
			delete(rec, "type")
			incidents = append(incidents, rec)
		}
	}
	// The two findings of the FIN that got no final ACK are one incident.
	if got := strings.Join(types, ","); got != "connection,finding,finding,incident,summary" {
		t.Errorf("record types %s", got)
	}
	// An incident record is -o json's incident, with its type.
	js, _, _ := runIn(t, pcapDir, "-r", "final-ack-dropped.pcap", "-o", "json")
	var doc struct {
		Incidents []map[string]any `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(incidents, doc.Incidents) {
		t.Errorf("incident records %v, want -o json's %v", incidents, doc.Incidents)
	}
}

// TestProfiles: --cpuprofile and --memprofile write profiles pprof can read (gzipped
// protobuf: they start with the gzip magic), and a bad path is a one-line error.
func TestProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "mem.prof")
	_, errOut, code := runIn(t, pcapDir, "-r", "many-connections.pcap", "--cpuprofile", cpu, "--memprofile", mem)
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
			t.Errorf("%s: not a pprof profile (%d bytes, %v)", p, len(b), err)
		}
	}
	_, errOut, code = runIn(t, pcapDir, "-r", "client-close.pcap", "--cpuprofile", filepath.Join(dir, "no/such/dir/cpu.prof"))
	if code != pipeline.ExitError || !strings.Contains(errOut, "--cpuprofile") {
		t.Errorf("bad --cpuprofile path: exit %d, %q", code, errOut)
	}
}

// TestCountReadsFirstFrames: -c N with -r reports on the first N packets (that
// match the filter expression, when one is given), as tcpdump -c: the report of
// the capture cut after them, byte for byte, in each output, with one worker and
// three (which would read in parts), from a gzip copy too.
func TestCountReadsFirstFrames(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "many-connections.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte // each record, header and data, as the file holds it
	for off := 24; off < len(data); {
		n := 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
		recs = append(recs, data[off:off+n])
		off += n
	}
	if binary.LittleEndian.Uint32(data[20:]) != 1 || len(recs) < 100 {
		t.Fatalf("many-connections.pcap: not Ethernet, or %d records", len(recs))
	}
	// The same capture gzipped, under the same name elsewhere.
	gz := t.TempDir()
	if err := os.WriteFile(filepath.Join(gz, "many-connections.pcap"), synth.Gzip(data), 0o644); err != nil {
		t.Fatal(err)
	}
	const filter = "tcp[tcpflags] & tcp-fin != 0"
	matching := 0 // the records before and at the 12th FIN
	for i, fins := 0, 0; i < len(recs) && matching == 0; i++ {
		ip := recs[i][16+14:] // (Ethernet)
		if ip[0] != 0x45 || ip[9] != 6 {
			t.Fatalf("record %d: not IPv4 without options, or not TCP", i+1)
		}
		if ip[20+13]&0x01 != 0 { // the TCP flags: FIN
			if fins++; fins == 12 {
				matching = i + 1
			}
		}
	}
	// A capture large enough to be read in parts with three workers: -c reads it
	// in order, to the same report as one worker.
	big := writeBig(t, synth.BigOptions{Seed: 5, Packets: 40000, Concurrency: 50, Clients: 20, Servers: 4})
	one, _, _ := runIn(t, big, "-r", "big.pcap", "--workers", "1", "-c", "25000", "-o", "json")
	if three, _, _ := runIn(t, big, "-r", "big.pcap", "--workers", "3", "-c", "25000", "-o", "json"); three != one || !strings.Contains(one, `"packets": 25000,`) {
		t.Errorf("-c 25000 --workers 3 differs from one worker, or did not read 25,000 packets:\n%s", lineDiff(one, three))
	}
	for _, tc := range []struct {
		n, records int
		filter     []string
	}{{37, 37, nil}, {1, 1, nil}, {12, matching, []string{filter}}} {
		cut := bytes.Join(append([][]byte{data[:24]}, recs[:tc.records]...), nil)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "many-connections.pcap"), cut, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, form := range [][]string{{"-o", "json"}, {}, {"-o", "tsv"}} {
			want, _, wantCode := runIn(t, dir, append(append([]string{"-r", "many-connections.pcap"}, form...), tc.filter...)...)
			for _, in := range []string{pcapDir, gz} {
				for _, workers := range []string{"1", "3"} {
					args := append(append([]string{"-r", "many-connections.pcap", "--workers", workers, "-c", fmt.Sprint(tc.n)}, form...), tc.filter...)
					got, errOut, code := runIn(t, in, args...)
					if got != want || code != wantCode {
						t.Errorf("finack %v in %s (exit %d, %s): not the report of the first %d records:\n%s", args, in, code, errOut, tc.records, lineDiff(want, got))
					}
				}
			}
		}
	}
}

package main

import (
	"encoding/json"
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

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/capture"
)

// TestSeparateJSON reads several captures as separate ones: each capture's document
// in the report is, line for line, its own -o json report (the expected report beside
// it), and the total sums them.
func TestSeparateJSON(t *testing.T) {
	out, errOut, code := runIn(t, pcapDir, "--separate", "-r", "final-ack-dropped.pcap", "-r", "reuse-server-*.pcap",
		"-r", "client-close.pcap", "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Captures []json.RawMessage `json:"captures"`
		Total    report.Total      `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	// In the order given; the pattern matched reuse-server-timewait-v6.pcap too.
	order := []string{"final-ack-dropped.pcap", "reuse-server-timewait-v6.pcap", "reuse-server-timewait.pcap", "client-close.pcap"}
	if len(doc.Captures) != len(order) || doc.Total.Captures != len(order) {
		t.Fatalf("%d captures, total %d: want %d", len(doc.Captures), doc.Total.Captures, len(order))
	}
	var packets uint64
	for i, name := range order {
		want, err := os.ReadFile(filepath.Join(pcapDir, name+".expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Summary report.Summary `json:"summary"`
		}
		if err := json.Unmarshal(want, &s); err != nil {
			t.Fatalf("%s.expected.json: %v", name, err)
		}
		packets += s.Summary.Packets
		// The document as it sits in the report, one level of indentation removed.
		got := deindent(string(doc.Captures[i]))
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("capture %s differs from its own report:\n%s", name, lineDiff(string(want), got))
		}
	}
	if doc.Total.Packets != packets || doc.Total.FindingCounts["reuse_in_2msl"] != 4 || doc.Total.FindingCounts["missing_final_ack"] != 1 {
		t.Errorf("total %+v", doc.Total)
	}
}

func deindent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "    ")
	}
	return strings.Join(lines, "\n")
}

// TestRotatedStillMerged: without --separate, several files (given one by one or by
// a quoted pattern) are still rotated pieces of one capture.
func TestRotatedStillMerged(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(pcapDir, "gen-rotated.pcap0.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-r", "gen-rotated.pcap0", "-r", "gen-rotated.pcap1"},
		{"-r", "gen-rotated.pcap?"},
	} {
		out, errOut, code := runIn(t, pcapDir, append(args, "-o", "json")...)
		if code != pipeline.ExitOK || out != string(want) {
			t.Errorf("%v: exit %d (%s), report:\n%s", args, code, errOut, lineDiff(string(want), out))
		}
	}
}

func TestSeparateText(t *testing.T) {
	out, _, code := runIn(t, pcapDir, "--separate", "-r", "client-close.pcap", "-r", "final-ack-dropped.pcap")
	if code != pipeline.ExitOK {
		t.Fatal(code)
	}
	a, _ := os.ReadFile(filepath.Join(pcapDir, "client-close.pcap.expected.txt"))
	if !strings.HasPrefix(out, strings.SplitN(string(a), "\nconnections (", 2)[0]) {
		t.Errorf("the first capture's report does not lead:\n%s", out)
	}
	for _, want := range []string{
		"\n\nfile         final-ack-dropped.pcap\n",
		"\ntotal        2 captures, 25 packets (25 TCP segments), 2 TCP connections\ncloses       four_way 2\nfindings     missing_final_ack 1, fin_retransmit 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestSeparateNDJSON(t *testing.T) {
	out, _, code := runIn(t, pcapDir, "--separate", "-r", "client-close.pcap", "-r", "final-ack-dropped.pcap", "-o", "ndjson")
	if code != pipeline.ExitOK {
		t.Fatal(code)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Capture string `json:"capture"`
			Type    string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got = append(got, rec.Capture+":"+rec.Type)
	}
	want := "client-close.pcap:connection client-close.pcap:summary final-ack-dropped.pcap:connection " +
		"final-ack-dropped.pcap:finding final-ack-dropped.pcap:finding final-ack-dropped.pcap:incident final-ack-dropped.pcap:summary :total"
	if strings.Join(got, " ") != want {
		t.Errorf("records %v", got)
	}
}

// TestSeparateDamaged: a damaged capture among separate ones is reported with its
// error, the others in full; exit 2 with one line naming the damaged file.
func TestSeparateDamaged(t *testing.T) {
	dir := t.TempDir()
	copyCapture(t, "client-close.pcap", dir, "a.pcap")
	data, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.pcap"), data[:len(data)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	copyCapture(t, "reuse-server-timewait.pcap", dir, "c.pcap")
	out, errOut, code := runIn(t, dir, "--separate", "-r", "*.pcap", "-o", "json", "--fail-on", "any")
	if code != pipeline.ExitError || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "b.pcap") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var doc struct {
		Captures []struct {
			Summary struct {
				Packets uint64 `json:"packets"`
			} `json:"summary"`
			Error string `json:"error"`
		} `json:"captures"`
		Total report.Total `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Captures) != 3 || doc.Captures[1].Error == "" || doc.Captures[1].Summary.Packets != 13 ||
		doc.Captures[2].Summary.Packets != 30 || doc.Total.Errors != 1 {
		t.Errorf("report %+v", doc)
	}
}

func TestInputPatterns(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", "nothing-*.pcap"}, `finack: -r: no file matches "nothing-*.pcap"`},
		{[]string{"-r", "[.pcap"}, `finack: -r: bad pattern "[.pcap"`},
	} {
		_, errOut, code := runIn(t, pcapDir, tc.args...)
		if code != pipeline.ExitError || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q", tc.args, code, errOut)
		}
	}
}

func TestCaptureNames(t *testing.T) {
	got := capture.Names([][]string{{"a/x.pcap"}, {"b/x.pcap"}, {"c/y.pcap", "c/y.pcap1"}, {"-"}, {"./d/../z.pcap"}})
	want := "a/x.pcap b/x.pcap y.pcap stdin z.pcap"
	if strings.Join(got, " ") != want {
		t.Errorf("names %v, want %s", got, want)
	}
}

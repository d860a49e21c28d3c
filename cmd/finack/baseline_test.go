package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/capture/synth"
)

// copyCapture copies a capture of testdata/pcaps into dir under the name to.
func copyCapture(t *testing.T, from, dir, to string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(pcapDir, from))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, to), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBaselineRoundTrip writes a baseline, compares the same capture with it (equal,
// from another directory and path spelling too), then changes the capture under the
// same name: worse fails and names the connections, better passes and says so, a
// tolerance lets the growth through, and writing the baseline again accepts it.
func TestBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "caps"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyCapture(t, "final-ack-dropped.pcap", filepath.Join(dir, "caps"), "service.pcap")

	out, errOut, code := runIn(t, dir, "-r", "caps/service.pcap", "--write-baseline", "base.json")
	if code != pipeline.ExitOK || errOut != "" || !strings.HasPrefix(out, "file         caps/service.pcap") {
		t.Fatalf("--write-baseline: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	written, err := os.ReadFile(filepath.Join(dir, "base.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The baseline is the -o json report, file names without their directory: the
	// expected report (made in testdata/pcaps) but for the name.
	golden, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(golden), `"final-ack-dropped.pcap"`, `"service.pcap"`, 1); string(written) != want {
		t.Errorf("baseline differs from the -o json report:\n%s", lineDiff(want, string(written)))
	}

	// Equal: from the same directory, and from the capture's own with another spelling.
	for _, run := range []struct{ dir, capture, base string }{
		{dir, "caps/service.pcap", "base.json"},
		{filepath.Join(dir, "caps"), "./../caps/service.pcap", "../base.json"},
	} {
		_, errOut, code = runIn(t, run.dir, "-r", run.capture, "--baseline", run.base, "-o", "json")
		if code != pipeline.ExitOK || errOut != "" {
			t.Errorf("unchanged capture %s: exit %d, stderr %q", run.capture, code, errOut)
		}
	}
	// Writing it again from elsewhere gives the same bytes.
	runIn(t, filepath.Join(dir, "caps"), "-r", "service.pcap", "--write-baseline", "../again.json")
	if again, _ := os.ReadFile(filepath.Join(dir, "again.json")); string(again) != string(written) {
		t.Error("a baseline written from another directory differs")
	}

	// Worse: the same service, but its final ACK never came (more retransmissions,
	// another ephemeral port).
	copyCapture(t, "final-ack-never.pcap", filepath.Join(dir, "caps"), "service.pcap")
	_, errOut, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json")
	if code != pipeline.ExitFinding {
		t.Fatalf("worse capture: exit %d, want 1 (%s)", code, errOut)
	}
	for _, want := range []string{
		"finack: baseline: service.pcap (base.json):",
		"missing_final_ack: 1 (total 3) → 1 (total 7): WORSE (tolerance +0)",
		// Another ephemeral port: the same connection of the service.
		"~ 10.77.0.1:42948 → 10.77.0.2:7077 #1 (server) frame 10  count 3 → 7  (was 10.77.0.1:42910)",
		"fin_retransmit: 1 (total 3) → 1 (total 6): WORSE",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("diff lacks %q:\n%s", want, errOut)
		}
	}
	// Tolerated: fin_retransmit may double, missing_final_ack grow by 4.
	_, errOut, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json", "--tolerance", "fin_retransmit+100%,missing_final_ack+4")
	if code != pipeline.ExitOK || !strings.Contains(errOut, "within tolerance +100%") {
		t.Errorf("within tolerance: exit %d, stderr %q", code, errOut)
	}
	_, _, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json", "--tolerance", "any+3")
	if code != pipeline.ExitFinding {
		t.Errorf("any+3 lets missing_final_ack grow by 4: exit %d", code)
	}

	// Better: the connection closed cleanly.
	copyCapture(t, "client-close.pcap", filepath.Join(dir, "caps"), "service.pcap")
	_, errOut, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json")
	if code != pipeline.ExitOK || !strings.Contains(errOut, "missing_final_ack: 1 (total 3) → 0: better") {
		t.Errorf("better capture: exit %d, stderr %q", code, errOut)
	}

	// Deliberate update: compare with the old baseline and record the new one.
	copyCapture(t, "final-ack-never.pcap", filepath.Join(dir, "caps"), "service.pcap")
	if _, _, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json", "--write-baseline", "base.json"); code != pipeline.ExitFinding {
		t.Errorf("update run: exit %d, want 1 (compared with the old baseline)", code)
	}
	if _, errOut, code = runIn(t, dir, "-r", "caps/service.pcap", "--baseline", "base.json"); code != pipeline.ExitOK || errOut != "" {
		t.Errorf("after the update: exit %d, stderr %q", code, errOut)
	}
}

// TestBaselineSeparate compares many captures in one call with the expected reports
// beside them, as .ci/run does, and matches captures by name.
func TestBaselineSeparate(t *testing.T) {
	out, errOut, code := runIn(t, "../..", "--separate", "-r", "testdata/pcaps/*.pcap",
		"--baseline", "testdata/pcaps/*.pcap.expected.json", "-o", "json")
	if code != pipeline.ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, `"captures": [`) {
		t.Error("no captures in the report")
	}

	// One capture worse than its baseline: only it is named.
	dir := t.TempDir()
	for _, f := range []string{"client-close.pcap", "final-ack-dropped.pcap"} {
		copyCapture(t, f, dir, f)
		copyCapture(t, f+".expected.json", dir, f+".json")
	}
	copyCapture(t, "fin-dropped-after-tap.pcap", dir, "client-close.pcap")
	_, errOut, code = runIn(t, dir, "--separate", "-r", "*.pcap", "--baseline", "*.json")
	if code != pipeline.ExitFinding || !strings.Contains(errOut, "baseline: client-close.pcap (client-close.pcap.json):") ||
		strings.Contains(errOut, "final-ack-dropped") {
		t.Errorf("exit %d, stderr %q: want client-close.pcap named, alone", code, errOut)
	}

	// A capture without a baseline: its findings are all new.
	if err := os.Remove(filepath.Join(dir, "final-ack-dropped.pcap.json")); err != nil {
		t.Fatal(err)
	}
	copyCapture(t, "client-close.pcap", dir, "client-close.pcap")
	_, errOut, code = runIn(t, dir, "--separate", "-r", "*.pcap", "--baseline", "*.json")
	if code != pipeline.ExitFinding || !strings.Contains(errOut, "final-ack-dropped.pcap (no baseline)") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestBaselineUsage(t *testing.T) {
	dir := t.TempDir()
	copyCapture(t, "client-close.pcap", dir, "c.pcap")
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"x": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notjson.json"), []byte("file  x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--baseline", "missing.json"}, "--baseline: open missing.json"},
		{[]string{"--baseline", "bad.json"}, "--baseline: bad.json: not a finack -o json report"},
		{[]string{"--baseline", "notjson.json"}, "--baseline: notjson.json: not a finack -o json report"},
		{[]string{"--baseline", "nothing*.json"}, `--baseline: no file matches "nothing*.json"`},
		{[]string{"--tolerance", "fin_retransmit+1"}, "--tolerance: needs --baseline"},
		{[]string{"--baseline", "bad.json", "--tolerance", "fin_retransmit1"}, "--tolerance: \"fin_retransmit1\""},
		{[]string{"--baseline", "bad.json", "--tolerance", "bogus+1"}, `--tolerance: unknown finding kind "bogus"`},
		{[]string{"--write-baseline", "no/such/dir/b.json"}, "--write-baseline: open no/such/dir/b.json"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, errOut, code := runIn(t, dir, append([]string{"-r", "c.pcap"}, tc.args...)...)
			if code != pipeline.ExitError || !strings.HasPrefix(errOut, "finack: "+tc.want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("exit %d, stderr %q: want exit 2 and one line starting %q", code, errOut, tc.want)
			}
		})
	}
}

// TestBaselineErrorAlone: a saved report that cannot be read stops the run with
// its error alone, however far into the file the damage is: one line on stderr,
// none of the capture's warnings (this capture warns of 11 frames of a link type
// finack does not decode), no report. (Reading the baselines while the captures
// are read would have to hold the warnings back until they are read.)
func TestBaselineErrorAlone(t *testing.T) {
	dir := t.TempDir()
	synth.WriteLinkFile(t, filepath.Join(dir, "user0.pcap"), 147)
	_, errOut, code := runIn(t, dir, "-r", "user0.pcap")
	if code != 0 || !strings.Contains(errOut, "link type 147 not decoded") {
		t.Fatalf("without a baseline: exit %d, stderr %q: want exit 0 and the link type's warning", code, errOut)
	}
	bad := `{"summary": {"files": ["user0.pcap"]}, "findings": [` + strings.Repeat(`{"kind": "fin_retransmit"}, `, 50000) + `{"kind": 1}]}`
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		out, errOut, code := runIn(t, dir, "-r", "user0.pcap", "-o", format, "--baseline", "bad.json")
		if code != pipeline.ExitError || !strings.HasPrefix(errOut, "finack: --baseline: bad.json: ") || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("-o %s: exit %d, stderr %q, %d bytes of report: want exit 2, one line of the baseline's error, no report", format, code, errOut, len(out))
		}
	}
}

// TestWriteBaselineThroughLinks: --write-baseline onto a symbolic link (to a file,
// to a link, to a file not made yet) writes the file it names and keeps the links;
// the file keeps its permissions; a new one is 0644.
func TestWriteBaselineThroughLinks(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join(pcapDir, "client-close.pcap.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyCapture(t, "client-close.pcap", dir, "client-close.pcap")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "store"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "store", "base.json"), []byte("old"), 0o640))
	must(os.Symlink("store/base.json", filepath.Join(dir, "link.json")))
	must(os.Symlink("link.json", filepath.Join(dir, "link2.json")))
	must(os.Symlink("store/new.json", filepath.Join(dir, "dangling.json")))
	for _, tc := range []struct {
		link, file string
		mode       os.FileMode
	}{
		{"link.json", "store/base.json", 0o640},
		{"link2.json", "store/base.json", 0o640},
		{"dangling.json", "store/new.json", 0o644},
		{"plain.json", "plain.json", 0o644},
	} {
		if _, errOut, code := runIn(t, dir, "-r", "client-close.pcap", "--write-baseline", tc.link); code != pipeline.ExitOK {
			t.Fatalf("--write-baseline %s: exit %d, %s", tc.link, code, errOut)
		}
		if tc.link != tc.file {
			if fi, err := os.Lstat(filepath.Join(dir, tc.link)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("--write-baseline %s: no longer a link (%v)", tc.link, err)
			}
		}
		fi, err := os.Stat(filepath.Join(dir, tc.file))
		must(err)
		if fi.Mode().Perm() != tc.mode {
			t.Errorf("--write-baseline %s: %s has mode %v, want %v", tc.link, tc.file, fi.Mode().Perm(), tc.mode)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, tc.file)); string(got) != string(golden) {
			t.Errorf("--write-baseline %s: %s is not the -o json report", tc.link, tc.file)
		}
	}
}

// TestWriteBaselineIsJSONReport: the baseline file is the capture's -o json report
// (its expected report), whatever the run prints (text, --connections, -o tsv, -o
// ndjson, -o json, -o junit and --ladder, which holds every record), whether the
// records stay in memory or go to disk in runs of 2,
// with one worker or three: a run that streams its records sorts the baseline's
// apart from the ones it prints.
func TestWriteBaselineIsJSONReport(t *testing.T) {
	dir := t.TempDir()
	n := 0
	for _, set := range captureSets(t) {
		golden, err := os.ReadFile(filepath.Join(pcapDir, set[0]+".expected.json"))
		if len(set) > 1 || err != nil {
			continue
		}
		n++
		base := filepath.Join(dir, "base.json")
		for _, form := range [][]string{{}, {"--connections"}, {"-o", "tsv"}, {"-o", "ndjson"}, {"-o", "json"}, {"--ladder"}, {"-o", "junit"}} {
			for _, bound := range []spill.Options{{}, {MaxRecords: 2}} {
				for _, workers := range []string{"1", "3"} {
					args := append([]string{"-r", set[0], "--workers", workers, "--write-baseline", base}, form...)
					_, errOut, code := runTunedIn(t, pcapDir, func(o *options) { o.Spill = bound }, args...)
					written, err := os.ReadFile(base)
					if err != nil || code == pipeline.ExitError {
						t.Fatalf("finack %v: exit %d, stderr %q, %v", args, code, errOut, err)
					}
					if string(written) != string(golden) {
						t.Errorf("finack %v (spill bound %+v): the baseline is not the -o json report:\n%s", args, bound, lineDiff(string(golden), string(written)))
					}
					if err := os.Remove(base); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d captures with an expected report", n)
	}
}

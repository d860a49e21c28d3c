package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// pcapDir holds the captures the tests read, each with its expected report.
const pcapDir = "../../testdata/pcaps"

// runIn runs finack in dir (so reports name files as given, without a path).
func runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runTunedIn(t, dir, nil, args...)
}

// runTunedIn is runIn with tune applied to the options after the flags (runTuned):
// the report's sort, which no flag sets.
func runTunedIn(t *testing.T, dir string, tune func(*options), args ...string) (stdout, stderr string, code int) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(abs); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil { // the tests after this one would run elsewhere
			t.Fatal(err)
		}
	}()
	var out, errb bytes.Buffer
	code = runTuned(args, &out, &errb, tune)
	return out.String(), errb.String(), code
}

// needNetns skips a test that builds network namespaces when it cannot: -short
// (recordings take seconds), not root, or a tool missing. CI runs as root with
// every tool (.ci/deps --test), so there it always runs.
func needNetns(t *testing.T, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: recording from the kernel takes seconds")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to build network namespaces (CI runs as root; run the tests with sudo to include it)")
	}
	for _, tool := range append([]string{"ip", "nft", "tcpdump", "ethtool"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/deps --test installs it)", tool)
		}
	}
}

// recordScenarios runs testdata/record/record.sh for the named scenarios into dir,
// in namespaces named for this process, so a recording running at the same time
// (another test run, a developer re-recording) cannot collide with this one. It
// returns the script's output.
func recordScenarios(t *testing.T, dir string, env []string, names ...string) string {
	t.Helper()
	script, err := filepath.Abs("../../testdata/record/record.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, names...)
	suffix := strconv.Itoa(os.Getpid())
	cmd.Env = append(append(os.Environ(), "FINACK_PCAPS="+dir, "FINACK_NS_A=finack-a-"+suffix, "FINACK_NS_B=finack-b-"+suffix), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record.sh %v: %v\n%s", names, err, tail(string(out), 30))
	}
	return string(out)
}

// The text reports the tests compare are those of a UTF-8 locale (report.LocaleUTF8):
// the tests do not depend on the locale they run in.
func init() {
	if err := os.Setenv("LC_ALL", "C.UTF-8"); err != nil {
		panic(err)
	}
}

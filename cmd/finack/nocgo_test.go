package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWithoutCgo builds finack with CGO_ENABLED=0 (no libpcap: a static binary for CI
// runners without libpcap headers, or a cross-compiled one) and checks that it
// reports every capture in testdata/pcaps exactly as expected, while -i, -D and a BPF
// filter each fail with exit 2 and one line naming what is missing.
func TestWithoutCgo(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "finack")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	finack := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = pcapDir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("finack %v: %v", args, err)
		}
		return out.String(), errb.String(), code
	}
	for _, set := range captureSets(t) {
		var args []string
		for _, f := range set {
			args = append(args, "-r", f)
		}
		out, errOut, code := finack(append(args, "-o", "json")...)
		want, err := os.ReadFile(filepath.Join(pcapDir, set[0]+".expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if code != 0 || out != string(want) {
			t.Errorf("CGO_ENABLED=0 finack %v: exit %d, %s\n%s", args, code, errOut, lineDiff(string(want), out))
		}
	}
	capture := captureSets(t)[0][0]
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "lo"}, "finack: -i lo: built without cgo (CGO_ENABLED=0): live capture and BPF filters need libpcap\n"},
		{[]string{"-D"}, "finack: -D: built without cgo (CGO_ENABLED=0): live capture and BPF filters need libpcap\n"},
		{[]string{"-r", capture, "tcp"}, `finack: filter "tcp": built without cgo (CGO_ENABLED=0): live capture and BPF filters need libpcap` + "\n"},
	} {
		out, errOut, code := finack(tc.args...)
		if code != 2 || out != "" || errOut != tc.want || strings.Count(errOut, "\n") != 1 {
			t.Errorf("CGO_ENABLED=0 finack %v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

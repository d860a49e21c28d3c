package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// pcapDir holds the captures the tests read, each with its expected report.
const pcapDir = "../../testdata/pcaps"

// runIn runs finack in dir (so reports name files as given, without a path).
func runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
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
	defer os.Chdir(wd)
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests that must bound time and memory run finack as a child process: the test
// binary itself, re-run with FINACK_TEST_PROCESS set, executes run() on the
// arguments in FINACK_TEST_ARGS (a JSON array of base64 strings). A hang is killed at the deadline and fails the
// test instead of hanging it; the child's peak RSS is its own.

const (
	procEnv     = "FINACK_TEST_PROCESS"
	procArgsEnv = "FINACK_TEST_ARGS"
)

// TestFinackProcess is not a test: it is the child process of runProc.
func TestFinackProcess(t *testing.T) {
	if os.Getenv(procEnv) != "1" {
		t.Skip("the child process of runProc, not a test")
	}
	var raw [][]byte // bytes, not strings: a file name need not be UTF-8
	if err := json.Unmarshal([]byte(os.Getenv(procArgsEnv)), &raw); err != nil {
		t.Fatal(err)
	}
	args := make([]string, len(raw))
	for i, a := range raw {
		args[i] = string(a)
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// procResult is what one finack child process did.
type procResult struct {
	stdout, stderr string
	code           int
	maxRSS         int64 // peak resident set, bytes
	elapsed        time.Duration
}

// procOptions: the child's working directory, deadline, and the user it runs as
// (nil: ours).
type procOptions struct {
	dir     string
	timeout time.Duration
	cred    *syscall.Credential
	stdin   io.Reader
}

// worldExecutable returns a copy of the test binary that any user may run (the go
// command builds it in a private directory), for children run as another user. It
// is removed with the test's temporary directory.
func worldExecutable(t *testing.T) (string, error) {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // both are private (0700)
		if err := os.Chmod(d, 0o755); err != nil {
			return "", err
		}
	}
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		return "", err
	}
	exe := filepath.Join(dir, "finack.test")
	return exe, os.WriteFile(exe, b, 0o755)
}

// runProc runs finack with args as a child process and returns what it did. It
// fails the test if the child outlives the deadline (a hang).
func runProc(t *testing.T, o procOptions, args ...string) procResult {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = 20 * time.Second
	}
	exe := os.Args[0]
	if o.cred != nil {
		var err error
		if exe, err = worldExecutable(t); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestFinackProcess$")
	cmd.Dir = o.dir
	raw := make([][]byte, len(args))
	for i, a := range args {
		raw[i] = []byte(a)
	}
	argsJSON, _ := json.Marshal(raw)
	cmd.Env = append(os.Environ(), procEnv+"=1", procArgsEnv+"="+string(argsJSON))
	cmd.Stdin = o.stdin
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := procResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("finack %q: no end after %v (a hang); stderr: %s", args, o.timeout, tail(r.stderr, 400))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case o.cred != nil:
		// Containers without CAP_SETUID/CAP_SETGID (or a user namespace without
		// the uid) cannot drop to another user: say so rather than fail.
		t.Skipf("cannot run finack as uid %d here: %v", o.cred.Uid, err)
	default:
		t.Fatalf("finack %q: %v", args, err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("finack %q panicked: %s", args, tail(r.stderr, 2000))
	}
	return r
}

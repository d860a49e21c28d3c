package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finack/finack/capture/synth"
)

// Tests that must bound time and memory run finack as a child process: the test
// binary itself, re-run with FINACK_TEST_PROCESS set, runs finack's main on the
// arguments in FINACK_TEST_ARGS (a JSON array of base64 strings). A hang is killed at
// the deadline and fails the test instead of hanging it.
//
// The peak RSS is finack's own. On Linux a child's ru_maxrss starts at the peak of
// the process it was started from: os/exec starts a child with CLONE_VM|CLONE_VFORK,
// and execve records the high-water mark of the memory it leaves (the parent's) in
// the child's maxrss. The test process, which may have generated a large capture
// or parsed a large report, would be measured with finack. So finack is started by
// a process in between (the test binary again, FINACK_TEST_PROCESS=measure, just
// started and holding a few MiB): finack's maxrss is then the larger of that small
// peak and finack's own, and the process in between reports it, with finack's exit
// status, on file descriptor 3.

const (
	procEnv     = "FINACK_TEST_PROCESS"
	procArgsEnv = "FINACK_TEST_ARGS"
)

// procReport is what the process in between reports of finack.
type procReport struct {
	MaxRSS int64  // ru_maxrss, bytes
	Code   int    // exit code, -1 if killed by a signal
	Signal string // the signal that killed finack, if one did
	Err    string // finack could not be started
}

// TestFinackProcess is not a test: it is the child processes of runProc.
func TestFinackProcess(t *testing.T) {
	switch os.Getenv(procEnv) {
	case "1":
		var raw [][]byte // bytes, not strings: a file name need not be UTF-8
		if err := json.Unmarshal([]byte(os.Getenv(procArgsEnv)), &raw); err != nil {
			t.Fatal(err)
		}
		os.Args = []string{"finack"}
		for _, a := range raw {
			os.Args = append(os.Args, string(a))
		}
		main() // finack as run from the command line, with its start-up (the collector's setting)
	case "measure":
		os.Exit(measureFinack())
	default:
		t.Skip("the child process of runProc, not a test")
	}
}

// measureFinack runs finack (this binary with FINACK_TEST_PROCESS=1) on this
// process's standard files, writes a procReport to file descriptor 3 and returns
// finack's exit code.
func measureFinack() int {
	report := os.NewFile(3, "report")
	syscall.CloseOnExec(3) // not finack's
	var rep procReport
	defer func() {
		// A failure here shows in the parent as a missing report, with this line in
		// the stderr it quotes.
		if err := json.NewEncoder(report).Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "writing the process report:", err)
		}
		if err := report.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the process report:", err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		rep.Err = err.Error()
		return 1
	}
	cmd := exec.Command(exe, "-test.run=^TestFinackProcess$")
	cmd.Env = append(os.Environ(), procEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// runProc kills this process at its deadline: finack goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		rep.Err = err.Error()
		return 1
	}
	rep.Code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		rep.Signal = ws.Signal().String()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rep.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return rep.Code
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
	cmd.Env = append(os.Environ(), procEnv+"=measure", procArgsEnv+"="+string(argsJSON))
	cmd.Stdin = o.stdin
	reportFile, err := os.CreateTemp(t.TempDir(), "report")
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, reportFile)
	cmd.ExtraFiles = []*os.File{reportFile}
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
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
	var rep procReport
	if _, serr := reportFile.Seek(0, io.SeekStart); serr != nil {
		t.Fatal(serr)
	}
	if derr := json.NewDecoder(reportFile).Decode(&rep); derr != nil {
		t.Fatalf("finack %q: no report of its exit and peak RSS (%v); stderr: %s", args, derr, tail(r.stderr, 400))
	}
	switch {
	case rep.Err != "":
		t.Fatalf("finack %q: %s", args, rep.Err)
	case rep.Signal != "":
		t.Fatalf("finack %q: killed by %s; stderr: %s", args, rep.Signal, tail(r.stderr, 2000))
	case rep.Code != r.code:
		t.Fatalf("finack %q: exit %d reported as %d", args, rep.Code, r.code)
	case rep.MaxRSS <= 0:
		t.Fatalf("finack %q: no peak RSS reported", args)
	}
	r.maxRSS = rep.MaxRSS
	if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("finack %q panicked: %s", args, tail(r.stderr, 2000))
	}
	return r
}

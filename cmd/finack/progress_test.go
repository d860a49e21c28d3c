package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/capture/synth"

	"golang.org/x/sys/unix"
)

func TestProgressLine(t *testing.T) {
	const (
		KiB = 1 << 10
		MiB = 1 << 20
		GiB = 1 << 30
	)
	tests := []struct {
		read, total int64
		packets     uint64
		elapsed     time.Duration
		want        string
	}{
		{0, -1, 0, 0, "finack: 0 B, 0 packets/s"},
		{1536 * KiB, -1, 1_500_000, time.Second, "finack: 1.5 MiB, 1.5M packets/s"},
		{1023, -1, 999, time.Second, "finack: 1023 B, 999 packets/s"},
		{1288490189, 4 * GiB, 12_300_000, 10 * time.Second, "finack: 1.2 GiB / 4.0 GiB (30%), 1.2M packets/s, ETA 23s"},
		{100 * MiB, GiB, 123_456, 10 * time.Second, "finack: 100 MiB / 1.0 GiB (9%), 12.3k packets/s, ETA 1m32s"},
		{MiB, 10 * GiB, 50, 10 * time.Second, "finack: 1.0 MiB / 10.0 GiB (0%), 5 packets/s, ETA 28h26m"},
		{0, 10 * MiB, 0, time.Second, "finack: 0 B / 10.0 MiB (0%), 0 packets/s, ETA --"},
		{4 * GiB, 4 * GiB, 250_000_000, 100 * time.Second, "finack: 4.0 GiB / 4.0 GiB (100%), 2.5M packets/s, ETA 0s"},
		{5 * MiB, 4 * MiB, 10, time.Second, "finack: 5.0 MiB / 4.0 MiB (100%), 10 packets/s, ETA 0s"}, // a file that grew
		{0, 0, 0, time.Second, "finack: 0 B / 0 B (100%), 0 packets/s, ETA 0s"},
	}
	for _, tc := range tests {
		if got := progressLine(tc.read, tc.total, tc.packets, tc.elapsed); got != tc.want {
			t.Errorf("progressLine(%d, %d, %d, %v) = %q, want %q", tc.read, tc.total, tc.packets, tc.elapsed, got, tc.want)
		}
	}
}

func TestProgressPhaseLine(t *testing.T) {
	tests := []struct {
		read    int64
		packets uint64
		phase   string
		written int64
		since   time.Duration
		want    string
	}{
		{4 << 30, 12_800_000, pipeline.PhaseFinish, 0, 6 * time.Second,
			"finack: 4.0 GiB, 12.8M packets read; finishing the connections still open, 6s"},
		{1 << 20, 999, pipeline.PhaseSummary, 0, 0, "finack: 1.0 MiB, 999 packets read; summing up, 0s"},
		{4 << 30, 12_800_000, phaseWrite, 0, time.Second, "finack: 4.0 GiB, 12.8M packets read; writing the report, 1s"},
		{4 << 30, 12_800_000, phaseWrite, 300 << 20, 75 * time.Second,
			"finack: 4.0 GiB, 12.8M packets read; writing the report, 300 MiB written, 1m15s"},
		{4 << 30, 12_800_000, phaseEvidence, 0, 2 * time.Second,
			"finack: 4.0 GiB, 12.8M packets read; reading the connections with findings again, 2s"},
	}
	for _, tc := range tests {
		if got := phaseLine(tc.read, tc.packets, tc.phase, tc.written, tc.since); got != tc.want {
			t.Errorf("phaseLine(%d, %d, %q, %d, %v) = %q, want %q", tc.read, tc.packets, tc.phase, tc.written, tc.since, got, tc.want)
		}
	}
}

// phaseRecorder is a pipeline.Progress that keeps the phases it is told, in order.
type phaseRecorder struct {
	bytes  atomic.Int64
	phases []string
}

func (r *phaseRecorder) Counter() *atomic.Int64 { return &r.bytes }
func (r *phaseRecorder) SetPackets(uint64)      {}
func (r *phaseRecorder) EndCapture(uint64)      {}
func (r *phaseRecorder) Phase(what string)      { r.phases = append(r.phases, what) }

// TestReadCapturePhases: what the pipeline says it does past the read, in order,
// for the streaming trackers (one worker and several, --html and --states among
// them) and the tracker that holds every incarnation (HoldIncarnations).
func TestReadCapturePhases(t *testing.T) {
	stream := []string{"", pipeline.PhaseFinish, pipeline.PhaseSummary}
	tests := []struct {
		name string
		o    report.Options
		want []string
	}{
		{"one worker", report.Options{Output: "json", Workers: 1}, stream},
		{"workers", report.Options{Output: "text", Workers: 3}, stream},
		{"--states", report.Options{Output: "text", View: report.ViewOptions{States: true}}, stream},
		{"--html", report.Options{Output: "json", HTML: "page.html"}, stream},
		{"--html --states", report.Options{Output: "text", HTML: "page.html", View: report.ViewOptions{States: true}}, stream},
		{"held", report.Options{Output: "text", HTML: "page.html", View: report.ViewOptions{States: true}, HoldIncarnations: true},
			[]string{"", pipeline.PhaseFinish, pipeline.PhaseAnalyse, pipeline.PhaseViews}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Files, o.TimeWait = []string{filepath.Join(pcapDir, "final-ack-dropped.pcap")}, 60*time.Second
			var rec phaseRecorder
			doc, _, err := pipeline.ReadCapture(o, &rec)
			if err != nil {
				t.Fatal(err)
			}
			synth.CheckClose(t, doc.Records)
			if !slices.Equal(rec.phases, tc.want) {
				t.Errorf("phases %q, want %q", rec.phases, tc.want)
			}
			if rec.bytes.Load() == 0 {
				t.Error("no bytes counted")
			}
		})
	}
}

// blockingWriter holds its first write until ready says so (or a timeout): the
// report's writing lasts as long as the test needs to see the line of that phase.
type blockingWriter struct {
	bytes.Buffer
	ready func() bool
	once  sync.Once
}

func (w *blockingWriter) Write(b []byte) (int, error) {
	w.once.Do(func() {
		for deadline := time.Now().Add(5 * time.Second); !w.ready() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	})
	return w.Buffer.Write(b)
}

// TestProgressWritingToFile: with the report going to a regular file, the line
// goes on past the read, saying that the report is being written and how much of
// it, and is cleared at the end; on anything else the report's first byte clears it
// (TestProgressInProcess).
func TestProgressWritingToFile(t *testing.T) {
	tune := func(o *options) {
		o.progressEnv.stderrIsTerminal = func(io.Writer) bool { return true }
		o.progressEnv.stdoutIsFile = func(io.Writer) bool { return true }
		o.progressEnv.delay, o.progressEnv.every = 0, time.Millisecond
	}
	var errOut syncBuffer
	const writing = "; " + phaseWrite + ", "
	out := &blockingWriter{ready: func() bool { return strings.Contains(errOut.String(), writing) }}
	code := runTuned([]string{"-r", filepath.Join(pcapDir, "final-ack-dropped.pcap"), "-o", "json"}, out, &errOut, tune)
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	got := errOut.String()
	if !strings.Contains(got, writing) {
		t.Errorf("no line saying the report is being written: %q", tail(got, 300))
	}
	if !strings.HasSuffix(got, "\r\x1b[K") || !progressDraws.MatchString(strings.TrimSuffix(got, "\r\x1b[K")) {
		t.Errorf("stderr is not progress lines, cleared at the end: %q", tail(got, 300))
	}
	if !strings.HasPrefix(out.String(), "{") || !json.Valid(out.Bytes()) {
		t.Errorf("the report: %q", tail(out.String(), 300))
	}
}

func TestProgressUnits(t *testing.T) {
	bytesTests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{100 * 1024, "100 KiB"},
		{1023 * 1024, "1023 KiB"},
		{1<<20 - 1, "1.0 MiB"},
		{5 << 40, "5.0 TiB"},
		{1<<63 - 1, "8.0 EiB"},
	}
	for _, tc := range bytesTests {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	countTests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{999.4, "999"},
		{999.5, "1.0k"},
		{12_345, "12.3k"},
		{123_456, "123k"},
		{999_600, "1.0M"},
		{2.5e9, "2.5G"},
	}
	for _, tc := range countTests {
		if got := humanCount(tc.v); got != tc.want {
			t.Errorf("humanCount(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	etaTests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{59400 * time.Millisecond, "59s"},
		{59600 * time.Millisecond, "1m00s"},
		{3*time.Minute + 5*time.Second, "3m05s"},
		{3599600 * time.Millisecond, "1h00m"},
		{25 * time.Hour, "25h00m"},
	}
	for _, tc := range etaTests {
		if got := eta(tc.d); got != tc.want {
			t.Errorf("eta(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestProgressInputSize(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	if err := os.WriteFile(a, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, make([]byte, 234), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := mkfifo(t, dir)
	tests := []struct {
		name  string
		files []string
		want  int64
	}{
		{"one", []string{a}, 1000},
		{"several: the total", []string{a, b}, 1234},
		{"a pipe", []string{a, fifo}, -1},
		{"a directory", []string{dir}, -1},
		{"missing", []string{a, filepath.Join(dir, "missing")}, -1},
	}
	for _, tc := range tests {
		if got := inputSize(tc.files); got != tc.want {
			t.Errorf("%s: inputSize = %d, want %d", tc.name, got, tc.want)
		}
	}
	// Standard input as the test sets it, whatever it was given: a pipe, then a
	// file.
	stdin := os.Stdin
	defer func() { os.Stdin = stdin }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = r.Close(), w.Close() }()
	os.Stdin = r
	if got := inputSize([]string{"-"}); got != -1 {
		t.Errorf("stdin a pipe: inputSize = %d, want -1", got)
	}
	f, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only
	os.Stdin = f
	if got := inputSize([]string{a, "-"}); got != 1234 {
		t.Errorf("stdin a file: inputSize = %d, want 1234", got)
	}
}

// syncBuffer is a bytes.Buffer written by finack's goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// feedFIFO writes data into the named pipe path once a reader opened it: the first
// split bytes (a cut record: the reader waits for the rest), then, after between
// returns, the rest. The function it returns waits for the end of the feed.
func feedFIFO(t *testing.T, path string, data []byte, split int, between func()) (wait func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // waits for the reader
		if err != nil {
			done <- err
			return
		}
		_, err = f.Write(data[:split])
		if err == nil {
			between()
			_, err = f.Write(data[split:])
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("feeding the pipe: %v", err)
			}
		case <-time.After(20 * time.Second):
			// Release a writer still waiting for a reader.
			if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
				synth.CheckClose(t, r)
			}
			t.Error("the pipe was not read to its end")
		}
	}
}

// waitFor polls out until it holds s (true) or gives up after 10 s.
func waitFor(out interface{ String() string }, s string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if strings.Contains(out.String(), s) {
			return true
		}
	}
	return false
}

// progressDraws is the output that may come before the line is cleared: draws of
// the progress line and nothing else.
var progressDraws = regexp.MustCompile(`^(\rfinack: [^\r\n]*packets(/s| read;)[^\r\n]*\x1b\[K)+$`)

// checkProgressOutput checks combined stdout+stderr: when want, the progress line
// was drawn and then cleared once, before every byte of the report and the errors
// (report, errLine); else no trace of it.
func checkProgressOutput(t *testing.T, out string, want bool, report, errLine string) {
	t.Helper()
	if !want {
		if strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "packets/s") {
			t.Errorf("progress output where none should be: %q", tail(out, 300))
		}
		return
	}
	clear := strings.LastIndex(out, "\r\x1b[K")
	if clear < 0 {
		t.Fatalf("the progress line was never cleared: %q", tail(out, 300))
	}
	before, after := out[:clear], out[clear+len("\r\x1b[K"):]
	if !progressDraws.MatchString(before) {
		t.Errorf("before the clear, not only progress lines: %q", tail(before, 300))
	}
	if strings.ContainsAny(after, "\r\x1b") || strings.Contains(after, "packets/s") || strings.Contains(after, "packets read;") {
		t.Errorf("progress output after the clear: %q", tail(after, 300))
	}
	if !strings.HasPrefix(after, report) && !strings.HasPrefix(after, errLine) {
		t.Errorf("after the clear: %q, want the report or an error first", tail(after, 300))
	}
	if !strings.Contains(after, report) || !strings.Contains(after, errLine) {
		t.Errorf("after the clear: %q, want %q and %q", tail(after, 300), report, errLine)
	}
}

// TestProgressInProcess runs finack (run, as the other tests do) on a named pipe fed
// in two parts, so that the read lasts: stdout and stderr are one buffer, to see
// their order. A buffer is no terminal; "terminal" says one, as a tty would.
func TestProgressInProcess(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		terminal bool
		args     []string
		cut      bool
		want     bool
		report   string // how the report starts
		errLine  string // a line on stderr, "" none
	}{
		{"not a terminal", false, nil, false, false, "file ", ""},
		{"-q", true, []string{"-q"}, false, false, "file ", ""},
		{"--quiet", true, []string{"--quiet", "-o", "json"}, false, false, "{", ""},
		{"terminal", true, nil, false, true, "file ", ""},
		{"terminal, json", true, []string{"-o", "json"}, false, true, "{", ""},
		{"terminal, --separate", true, []string{"--separate", "-o", "ndjson"}, false, true, `{"capture":`, ""},
		{"terminal, damaged", true, nil, true, true, "file ", "finack: "},
		{"terminal, --fail-on", true, []string{"--fail-on", "any"}, false, true, "file ", "finack: fifo: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fifo := mkfifo(t, t.TempDir())
			in := data
			if tc.cut {
				in = data[:len(data)-9]
			}
			tune := func(o *options) {
				if tc.terminal {
					o.progressEnv.stderrIsTerminal = func(io.Writer) bool { return true }
				}
				o.progressEnv.delay, o.progressEnv.every = 0, time.Millisecond
			}

			var out syncBuffer
			wait := feedFIFO(t, fifo, in, 24+10, func() {
				if tc.want {
					if !waitFor(&out, "packets/s") {
						t.Error("no progress line while the read waited")
					}
				} else {
					time.Sleep(100 * time.Millisecond) // a hundred ticks
				}
			})
			code := runTuned(append([]string{"-r", fifo}, tc.args...), &out, &out, tune)
			wait()
			if want := tc.cut || slicesContain(tc.args, "--fail-on"); (code != pipeline.ExitOK) != want {
				t.Errorf("exit %d", code)
			}
			got := out.String()
			checkProgressOutput(t, got, tc.want, tc.report, tc.errLine)
			if tc.want && strings.Contains(got, "ETA") {
				t.Errorf("an ETA for a pipe, whose size is unknown: %q", tail(got, 300))
			}
		})
	}
}

func slicesContain(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

const progressChildEnv = "FINACK_PROGRESS_CHILD"

// TestProgressChild is not a test: it is the child process of TestProgressTerminal,
// finack with its real stderr and short progress delays, on the arguments in
// FINACK_PROGRESS_CHILD (a JSON array).
func TestProgressChild(t *testing.T) {
	env := os.Getenv(progressChildEnv)
	if env == "" {
		t.Skip("the child process of TestProgressTerminal, not a test")
	}
	var args []string
	if err := json.Unmarshal([]byte(env), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(runTuned(args, os.Stdout, os.Stderr, func(o *options) { o.progressEnv.delay, o.progressEnv.every = 0, time.Millisecond }))
}

// openPTY opens a pseudo-terminal: its master and its slave, sized cols wide.
func openPTY(cols uint16) (master, slave *os.File, err error) {
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	master = os.NewFile(uintptr(m), "/dev/ptmx")
	fail := func(err error) (*os.File, *os.File, error) {
		_ = master.Close() // err is what went wrong
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		return fail(err)
	}
	n, err := unix.IoctlGetUint32(m, unix.TIOCGPTN) // ptsname
	if err != nil {
		return fail(err)
	}
	name := "/dev/pts/" + strconv.Itoa(int(n))
	s, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	slave = os.NewFile(uintptr(s), name)
	if err := unix.IoctlSetWinsize(s, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		_ = slave.Close() // err is what went wrong
		return fail(err)
	}
	return master, slave, nil
}

// TestProgressTerminal runs finack as a child process whose stderr is a real
// pseudo-terminal (the line shows, no wider than the terminal, and is cleared) or
// a pipe (nothing), on a named pipe fed in two parts.
func TestProgressTerminal(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(pcapDir, "final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	const cols = 60
	tests := []struct {
		name  string
		pty   bool
		quiet bool
		want  bool
	}{
		{"pty", true, false, true},
		{"pty, -q", true, true, false},
		{"pipe", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fifo := mkfifo(t, t.TempDir())
			args := []string{"-r", fifo}
			if tc.quiet {
				args = append(args, "-q")
			}
			argsJSON, _ := json.Marshal(args)
			cmd := exec.Command(os.Args[0], "-test.run=^TestProgressChild$")
			cmd.Env = append(os.Environ(), progressChildEnv+"="+string(argsJSON))
			var stdout bytes.Buffer
			var stderr syncBuffer
			cmd.Stdout = &stdout
			readDone := make(chan struct{})
			var readErr error // the terminal's, once readDone is closed
			if tc.pty {
				master, slave, err := openPTY(cols)
				if err != nil {
					t.Skipf("no pseudo-terminal here: %v", err)
				}
				defer synth.CheckClose(t, master)
				cmd.Stderr = slave
				if err := cmd.Start(); err != nil {
					synth.CheckClose(t, slave)
					t.Fatal(err)
				}
				if err := slave.Close(); err != nil { // the child holds it: reads end (EIO) when it exits
					t.Fatal(err)
				}
				go func() {
					defer close(readDone)
					_, readErr = io.Copy(&stderr, master)
				}()
			} else {
				cmd.Stderr = &stderr
				close(readDone)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
			}
			wait := feedFIFO(t, fifo, data, 24+10, func() {
				if tc.want {
					if !waitFor(&stderr, "packets/s") {
						t.Error("no progress line on the terminal while the read waited")
					}
				} else {
					time.Sleep(200 * time.Millisecond)
				}
			})
			wait()
			err := cmd.Wait()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			select {
			case <-readDone:
			case <-time.After(10 * time.Second):
				t.Fatal("the terminal did not close")
			}
			if readErr != nil && !errors.Is(readErr, syscall.EIO) {
				t.Errorf("reading the terminal: %v", readErr)
			}
			if code := cmd.ProcessState.ExitCode(); code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "file ") {
				t.Errorf("stdout: %q, want the report", tail(stdout.String(), 300))
			}
			got := stderr.String()
			checkProgressOutput(t, got, tc.want, "", "")
			if tc.want {
				if !strings.HasSuffix(got, "\r\x1b[K") {
					t.Errorf("stderr does not end with the line cleared: %q", tail(got, 300))
				}
				for _, l := range strings.Split(got, "\r") {
					if l = strings.TrimSuffix(l, "\x1b[K"); len(l) >= cols {
						t.Errorf("a line of %d columns on a terminal of %d: %q", len(l), cols, l)
					}
				}
			}
		})
	}
}

// mkfifo makes a named pipe "fifo" in dir.
func mkfifo(t *testing.T, dir string) string {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	return fifo
}

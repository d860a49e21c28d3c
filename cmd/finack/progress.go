package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/capture"

	"golang.org/x/sys/unix"
)

// The progress line: while captures are read from files (-r), one line on
// stderr, rewritten in place, says how far the read has come:
//
//	finack: 1.2 GiB / 4.0 GiB (30%), 1.5M packets/s, ETA 1m12s
//
// It is shown only when stderr is a terminal and -q is not given, from a second
// into the read (a short read shows nothing), and cleared before anything else is
// written to stdout or stderr (the report, an error), so neither is garbled. When
// a size is unknown (stdin or a pipe), it shows the bytes read and the packet rate.
//
// Once the capture is read, the line says what the run does until the report is
// out, and for how long so far:
//
//	finack: 4.0 GiB, 12.8M packets read; finishing the connections still open, 6s
//
// When stdout is a regular file (-o json > report.json), the report's writing does
// not clear the line: it goes on, with the bytes written, until the end. On a
// terminal or a pipe (a pager draws on the terminal) the first byte clears it.
//
// The reading loop pays nothing per packet but a counter: the capture reader adds
// the bytes it reads to an atomic counter (capture.Options.Progress, per 1 MiB
// buffer), pipeline.ReadCapture publishes the frame count every few segments
// (pipeline.TrackAll: every batch), and a goroutine of its own reads both on a ticker
// and draws the line.

// progressEnv is what decides whether and when the progress line shows: the tests
// of a run change it (options.progressEnv), to see the line without a terminal
// and without waiting.
type progressEnv struct {
	// stderrIsTerminal says whether the progress line may be drawn on w.
	stderrIsTerminal func(w io.Writer) bool
	// stdoutIsFile says whether the report goes to a regular file, which the
	// progress line does not disturb.
	stdoutIsFile func(w io.Writer) bool
	// delay is how long a read runs before the line first shows; every how often
	// it is redrawn.
	delay, every time.Duration
}

// defaultProgressEnv is the progressEnv of a run of finack.
func defaultProgressEnv() progressEnv {
	return progressEnv{stderrIsTerminal: isTerminal, stdoutIsFile: isRegularFile, delay: time.Second, every: 250 * time.Millisecond}
}

// progress draws the progress line. A nil *progress is valid and does nothing.
type progress struct {
	env   progressEnv
	w     io.Writer // stderr
	total int64     // sum of the input files' sizes; -1 when one is unknown
	start time.Time

	bytes   atomic.Int64  // bytes read from the input files (capture.Options.Progress)
	packets atomic.Uint64 // frames read, as last published
	base    uint64        // frames of the captures read before this one (reading goroutine only)
	// phase: what the run does past the read (pipeline.Phase*, phaseEvidence,
	// phaseWrite, phaseHTML; nil or "" while reading), since phaseAt (Unix ns).
	phase   atomic.Pointer[string]
	phaseAt atomic.Int64
	written atomic.Int64 // bytes of the report written to a regular file

	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
	drawn bool // written by the drawing goroutine, read by stop once it has ended
}

// newProgress starts the progress line for reading o.files, or returns nil when
// none is to be shown: -q, stderr not a terminal, nothing to read.
func newProgress(o options, stderr io.Writer) *progress {
	if o.quiet || len(o.Files) == 0 || !o.progressEnv.stderrIsTerminal(stderr) {
		return nil
	}
	files, _, err := capture.ExpandCaptures("-r", o.Files)
	if err != nil {
		return nil // analyze says why, at once
	}
	p := &progress{env: o.progressEnv, w: stderr, total: inputSize(files), start: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

// inputSize is the total size of files, -1 when a size is unknown: stdin, or a file
// that is not a regular one (a pipe, /dev/stdin), unless stdin is redirected from
// a regular file.
func inputSize(files []string) int64 {
	var total int64
	for _, f := range files {
		var fi os.FileInfo
		var err error
		if f == "-" {
			fi, err = os.Stdin.Stat()
		} else {
			fi, err = os.Stat(f)
		}
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		total += fi.Size()
	}
	return total
}

// counter is what the capture reader adds the bytes it reads to (nil: none).
func (p *progress) Counter() *atomic.Int64 {
	if p == nil {
		return nil
	}
	return &p.bytes
}

// SetPackets publishes the frames read so far in the current capture.
func (p *progress) SetPackets(n uint64) { p.packets.Store(p.base + n) }

// EndCapture counts the frames of a capture read to its end (--separate reads
// several, one after the other).
func (p *progress) EndCapture(n uint64) {
	if p == nil {
		return
	}
	p.base += n
	p.packets.Store(p.base)
}

// What the run does once the captures are read, besides pipeline's phases.
const (
	phaseEvidence = "reading the connections with findings again"
	phaseWrite    = "writing the report"
	phaseHTML     = "writing the HTML page"
)

// Phase says what the run does now ("": reading).
func (p *progress) Phase(what string) {
	if p == nil {
		return
	}
	if cur := p.phase.Load(); cur != nil && *cur == what {
		return
	}
	p.phaseAt.Store(time.Now().UnixNano())
	p.phase.Store(&what)
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(p.env.every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case now := <-t.C:
			elapsed := now.Sub(p.start)
			if elapsed < p.env.delay {
				continue
			}
			var line string
			if ph := p.phase.Load(); ph != nil && *ph != "" {
				line = phaseLine(p.bytes.Load(), p.packets.Load(), *ph, p.written.Load(), now.Sub(time.Unix(0, p.phaseAt.Load())))
			} else {
				line = progressLine(p.bytes.Load(), p.total, p.packets.Load(), elapsed)
			}
			if cols := terminalWidth(p.w); cols > 1 && len(line) >= cols {
				line = line[:cols-1] // one line, or \r would not return to its start
			}
			io.WriteString(p.w, "\r"+line+"\033[K")
			p.drawn = true
		}
	}
}

// stop ends the progress line and clears it. It is safe to call more than once and
// on nil.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.quit)
		<-p.done
		if p.drawn {
			io.WriteString(p.w, "\r\033[K")
		}
	})
}

// guard returns w, made to stop (and clear) the progress line before its first
// write: the report and the errors are written through it.
func (p *progress) guard(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return stopWriter{p, w}
}

// guardReport is guard for the report's writer, stdout: a regular file does not
// share the terminal, so the line goes on, counting the bytes written.
func (p *progress) guardReport(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	if p.env.stdoutIsFile(w) {
		return countWriter{p, w}
	}
	return stopWriter{p, w}
}

type countWriter struct {
	p *progress
	w io.Writer
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.written.Add(int64(n))
	return n, err
}

type stopWriter struct {
	p *progress
	w io.Writer
}

func (s stopWriter) Write(b []byte) (int, error) {
	s.p.stop()
	return s.w.Write(b)
}

// progressLine renders the line: bytes read (of total, with the percentage, when
// total is known), frames per second, and when total is known the time left at
// the byte rate so far.
func progressLine(read, total int64, packets uint64, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString("finack: ")
	b.WriteString(humanBytes(read))
	if total >= 0 {
		pct := int64(100)
		if total > 0 && read < total {
			pct = read * 100 / total
		}
		fmt.Fprintf(&b, " / %s (%d%%)", humanBytes(total), pct)
	}
	secs := elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(packets) / secs
	}
	fmt.Fprintf(&b, ", %s packets/s", humanCount(rate))
	if total >= 0 {
		b.WriteString(", ETA ")
		switch {
		case read >= total:
			b.WriteString("0s")
		case read <= 0 || secs <= 0:
			b.WriteString("--")
		default:
			left := float64(total-read) / (float64(read) / secs)
			b.WriteString(eta(time.Duration(left * float64(time.Second))))
		}
	}
	return b.String()
}

// phaseLine renders the line past the read: what was read, what the run does now
// (with the bytes of the report written, while writing it to a file), and for
// how long.
func phaseLine(read int64, packets uint64, phase string, written int64, since time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "finack: %s, %s packets read; %s", humanBytes(read), humanCount(float64(packets)), phase)
	if phase == phaseWrite && written > 0 {
		fmt.Fprintf(&b, ", %s written", humanBytes(written))
	}
	b.WriteString(", " + eta(since))
	return b.String()
}

// humanBytes renders n bytes in binary units: "512 B", "1.2 GiB", "215 MiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	const units = "KMGTPE"
	v := float64(n) / 1024
	i := 0
	for v >= 1023.5 && i < len(units)-1 { // what would print as 1024 takes the next unit
		v /= 1024
		i++
	}
	if v < 99.95 {
		return fmt.Sprintf("%.1f %ciB", v, units[i])
	}
	return fmt.Sprintf("%.0f %ciB", v, units[i])
}

// humanCount renders a rate in SI units: "950", "12.3k", "1.5M".
func humanCount(v float64) string {
	if v < 999.5 {
		return fmt.Sprintf("%.0f", v)
	}
	const units = "kMGT"
	v /= 1000
	i := 0
	for v >= 999.5 && i < len(units)-1 {
		v /= 1000
		i++
	}
	if v < 99.95 {
		return fmt.Sprintf("%.1f%c", v, units[i])
	}
	return fmt.Sprintf("%.0f%c", v, units[i])
}

// eta renders a time left: "42s", "3m05s", "1h02m".
func eta(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}

// isTerminal says whether w is a terminal. TIOCGWINSZ answers on a terminal only,
// on every Unix (TCGETS, what x/term asks, is Linux's name alone).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	return err == nil
}

// isRegularFile says whether w is a regular file.
func isRegularFile(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
}

// terminalWidth is w's number of columns, 0 when unknown.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// readProgress is the progress line as the reading tells it how far it got (nil:
// none).
func (o options) readProgress() pipeline.Progress {
	if o.progress == nil {
		return nil
	}
	return o.progress
}

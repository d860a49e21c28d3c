package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/metrics"
	"github.com/finack/finack/analyzer/pipeline"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/pcap"
	flag "github.com/spf13/pflag"
)

// liveOnly names the flags that only mean something with -i.
var liveOnly = []string{"snapshot-length", "duration", "buffer-size", "no-promiscuous-mode", "write",
	"relinquish-privileges", "interval", "metrics-addr"}

// addLiveFlags registers the live capture's flags into l, and -c, which reading
// files takes too, into o.
func addLiveFlags(fs *flag.FlagSet, l *pipeline.LiveOptions, o *options) {
	fs.StringVarP(&l.Iface, "interface", "i", "", "capture live on `IFACE` (any: every interface) and report as it happens; stop with Ctrl-C, -c or --duration")
	fs.BoolVarP(&l.List, "list-interfaces", "D", false, "list the interfaces -i can capture on, and exit")
	fs.IntVarP(&l.Snaplen, "snapshot-length", "s", capture.DefaultSnapLen, "-i: keep at most `BYTES` of each packet: the default keeps every header finack reads and lets the kernel buffer the most packets; 262144 keeps whole packets for -w")
	fs.Uint64VarP(&o.Count, "count", "c", 0, "stop after `N` packets (that match the filter expression, when one is given), as tcpdump -c: -r reads no further")
	fs.DurationVar(&l.Duration, "duration", 0, "-i: stop after `DURATION` (e.g. 10m, 24h)")
	fs.IntVarP(&l.BufferKiB, "buffer-size", "B", pipeline.DefaultBufferKiB, "-i: kernel capture buffer in `KiB` (tcpdump -B): what absorbs bursts while finack is busy")
	fs.BoolVarP(&l.NoPromisc, "no-promiscuous-mode", "p", false, "-i: do not put the interface into promiscuous mode")
	fs.StringVarP(&l.Write, "write", "w", "", "-i: also save the raw packets to `FILE` (pcap, nanosecond timestamps)")
	fs.StringVarP(&l.User, "relinquish-privileges", "Z", "", "-i: once the interface is open, drop root privileges and run as `USER`")
	fs.DurationVar(&l.Interval, "interval", 0, "-i: print a one-line running summary to stderr every `DURATION`")
	fs.IntVar(&l.MaxFindings, "max-findings", pipeline.DefaultMaxFindings, "findings or incidents the report lists (`N`; 0: all; every one is counted): -r lists the first incidents (default 25), -i the latest findings (default 10000)")
	fs.StringVar(&l.MetricsAddr, "metrics-addr", "", "-i: serve Prometheus metrics at http://`HOST:PORT`/metrics")
}

func init() {
	modes = append(modes, func(fs *flag.FlagSet, o *options) modeRunner {
		l := new(pipeline.LiveOptions)
		addLiveFlags(fs, l, o)
		return func(fs *flag.FlagSet, o options, stdout, stderr io.Writer) (int, bool) {
			return liveMode(fs, o, l, stdout, stderr)
		}
	})
}

// liveMode runs the live modes (-i, -D) when asked for; done is false when the
// command line asks for neither (and uses no flag of theirs), so files are read.
func liveMode(fs *flag.FlagSet, o options, l *pipeline.LiveOptions, stdout, stderr io.Writer) (code int, done bool) {
	if !l.List && !fs.Changed("interface") {
		for _, name := range liveOnly {
			if fs.Changed(name) {
				fmt.Fprintf(stderr, "finack: --%s: only with -i (live capture)\n", name)
				return pipeline.ExitError, true
			}
		}
		return 0, false
	}
	if l.List {
		return listInterfaces(stdout, stderr), true
	}
	if fs.Changed("workers") {
		// Live capture tracks on one goroutine: say so rather than ignore it.
		fmt.Fprintf(stderr, "finack: --workers: only with -r (files)\n")
		return pipeline.ExitError, true
	}
	l.Count = o.Count
	return runLive(fs, o, *l, stdout, stderr), true
}

func listInterfaces(stdout, stderr io.Writer) int {
	ifs, err := pcap.Interfaces()
	if err != nil {
		fmt.Fprintf(stderr, "finack: -D: %v\n", err)
		return pipeline.ExitError
	}
	w := bufio.NewWriter(stdout)
	for i, it := range ifs {
		fmt.Fprintf(w, "%d.%s", i+1, it.Name)
		if it.Description != "" {
			fmt.Fprintf(w, " (%s)", it.Description)
		}
		if len(it.Flags) > 0 {
			fmt.Fprintf(w, " [%s]", strings.Join(it.Flags, ", "))
		}
		for j, a := range it.Addresses {
			if j == 0 {
				w.WriteString(" ")
			} else {
				w.WriteString(",")
			}
			w.WriteString(a.String())
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "finack: -D: %v\n", err)
		return pipeline.ExitError
	}
	return pipeline.ExitOK
}

// validateLive checks the command line of a live capture.
func validateLive(o *pipeline.LiveConfig, fs *flag.FlagSet) error {
	l := &o.Live
	if l.Iface == "" {
		return errors.New("-i: no interface named (finack -D lists them)")
	}
	if len(o.Files) > 0 {
		return errors.New("-i: captures live; -r reads files: give one or the other")
	}
	switch o.Output {
	case "text", "json", "ndjson":
	default:
		return fmt.Errorf("-o: %q is not available with -i (want text, json or ndjson)", o.Output)
	}
	if err := checkTimeWait(o.TimeWait); err != nil {
		return err
	}
	for _, name := range []string{"separate", "baseline", "tolerance", "write-baseline", "export", "ladder", "states", "at"} {
		if fs.Lookup(name) != nil && fs.Changed(name) {
			return fmt.Errorf("--%s: not available with -i (live capture); save the packets with -w and read them with -r", name)
		}
	}
	if l.Snaplen < capture.MinSnapLen || l.Snaplen > capture.MaxSnapLen {
		return fmt.Errorf("-s: snapshot length must be %d to %d bytes (TCP headers with options must fit), got %d", capture.MinSnapLen, capture.MaxSnapLen, l.Snaplen)
	}
	if l.BufferKiB <= 0 || l.BufferKiB > 1<<21 {
		return fmt.Errorf("-B: buffer size in KiB must be 1 to %d, got %d", 1<<21, l.BufferKiB)
	}
	if l.Duration < 0 {
		return fmt.Errorf("--duration: must not be negative, got %v", l.Duration)
	}
	if l.Interval < 0 {
		return fmt.Errorf("--interval: must not be negative, got %v", l.Interval)
	}
	if l.MaxFindings < 0 {
		return fmt.Errorf("--max-findings: must not be negative, got %d", l.MaxFindings)
	}
	if l.Write == "-" {
		return errors.New("-w: stdout carries the report; give a file name")
	}
	if err := htmlDirOK(o.HTML); err != nil {
		return err
	}
	if l.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(l.MetricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: want HOST:PORT, got %q", l.MetricsAddr)
		}
	}
	var err error
	o.FailRules, err = gate.ParseFailOn(o.FailOn)
	return err
}

// openError turns an error of pcap.Open into the one line a user acts on.
func openError(iface string, err error) string {
	var fe *capture.FilterError
	switch {
	case errors.Is(err, pcap.ErrNoInterface):
		return fmt.Sprintf("-i %s: no such interface (finack -D lists the interfaces)", iface)
	case errors.Is(err, pcap.ErrPermission):
		return fmt.Sprintf("-i %s: permission denied: capturing needs root or the capabilities cap_net_raw,cap_net_admin (sudo setcap cap_net_raw,cap_net_admin=eip %s)", iface, finackPath())
	case errors.Is(err, pcap.ErrInterfaceDown):
		return fmt.Sprintf("-i %s: the interface is down", iface)
	case errors.As(err, &fe):
		return fmt.Sprintf("filter %q: %v", fe.Expr, fe.Err)
	}
	return fmt.Sprintf("-i %s: %v", iface, err)
}

func finackPath() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "finack"
}

// dropPrivileges switches to user name (or numeric uid), its group and supplementary
// groups, as tcpdump -Z does. Go applies setuid/setgid to every thread of the process.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return fmt.Errorf("-Z: unknown user %q", name)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-Z: user %q has no numeric uid/gid", name)
	}
	gids := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && g != gid {
				gids = append(gids, g)
			}
		}
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("-Z %s: setgroups: %v", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("-Z %s: setgid: %v", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("-Z %s: setuid: %v", name, err)
	}
	if os.Getuid() != uid || os.Geteuid() != uid || os.Getegid() != gid {
		return fmt.Errorf("-Z %s: privileges not dropped (uid %d, euid %d)", name, os.Getuid(), os.Geteuid())
	}
	return nil
}

// runLive captures on o.live.iface until a signal, -c or --duration, printing findings
// as they are seen and the report at the end.
func runLive(fs *flag.FlagSet, opts options, lo pipeline.LiveOptions, stdout, stderr io.Writer) (code int) {
	o := pipeline.LiveConfig{Options: opts.Options, Live: lo}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "finack: "+format+"\n", a...)
		return pipeline.ExitError
	}
	if err := validateLive(&o, fs); err != nil {
		return fail("%v", err)
	}
	l := o.Live
	stopProfiles, err := startProfiles(opts)
	if err != nil {
		return fail("%v", err)
	}
	defer func() { // as the file mode does after its run
		if err := stopProfiles(); err != nil {
			code = fail("%v", err)
		}
	}()

	src, err := pcap.Open(pcap.Options{
		Interface: l.Iface, Filter: o.Filter, SnapLen: l.Snaplen, NoPromisc: l.NoPromisc,
		BufferSize: l.BufferKiB << 10, IgnoreVLAN: o.IgnoreVLAN,
	})
	if err != nil {
		return fail("%s", openError(l.Iface, err))
	}
	// The run's own Close (LiveRun.Finish) tells its error; this one closes on the
	// early returns, which tell the error that ended the run.
	defer func() { _ = src.Close() }()
	src.SetLimit(l.Count)

	// Bind the metrics port while still privileged (a port below 1024 needs it).
	var served *metrics.Metrics
	if l.MetricsAddr != "" {
		ln, err := net.Listen("tcp", l.MetricsAddr)
		if err != nil {
			return fail("--metrics-addr %s: %v", l.MetricsAddr, err)
		}
		served = metrics.New(ln, version)
		defer func() {
			if err := served.Close(); err != nil {
				fmt.Fprintf(stderr, "finack: --metrics-addr %s: %v\n", l.MetricsAddr, err)
			}
		}()
	}
	if l.User != "" {
		if os.Geteuid() != 0 {
			fmt.Fprintf(stderr, "finack: -Z %s: not running as root, privileges left as they are\n", l.User)
		} else if err := dropPrivileges(l.User); err != nil {
			return fail("%v", err)
		}
	}
	// The saved file is created after dropping privileges, as tcpdump does: it belongs
	// to the user finack now runs as.
	var saved *os.File
	if l.Write != "" {
		if saved, err = os.Create(l.Write); err != nil {
			return fail("-w: %v", err)
		}
		defer func() {
			if saved != nil {
				_ = saved.Close() // an early return: its error is not the one to tell
			}
		}()
		if err := src.SaveTo(saved); err != nil {
			return fail("-w %s: %v", l.Write, err)
		}
	}

	var stop atomic.Bool
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		select {
		case <-sigc:
			stop.Store(true)
			// A second Ctrl-C ends finack at once, without the report.
			signal.Reset(os.Interrupt, syscall.SIGTERM)
		case <-quit:
		}
	}()

	run := pipeline.NewLiveRun(o, src, stdout, stderr, served)
	run.Version = version
	fmt.Fprintf(stderr, "finack: listening on %s, link-type %s, snapshot length %d bytes\n", l.Iface, src.LinkName(), src.SnapLen())
	if served != nil {
		fmt.Fprintf(stderr, "finack: metrics at http://%s/metrics\n", served.Addr())
		if o.HTML != "" {
			fmt.Fprintf(stderr, "finack: HTML report at http://%s/\n", served.Addr())
		}
	}
	code = run.Finish(run.Loop(&stop))
	if saved != nil {
		err := saved.Close() // after the capture's (Finish) flushed what it buffered
		saved = nil
		if err != nil {
			fmt.Fprintf(stderr, "finack: -w %s: %v\n", l.Write, err)
			code = max(code, pipeline.ExitError)
		}
	}
	return code
}

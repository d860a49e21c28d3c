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

	"github.com/finack/finack/capture"
	flag "github.com/spf13/pflag"
)

// liveOnly names the flags that only mean something with -i.
var liveOnly = []string{"snapshot-length", "count", "duration", "buffer-size", "no-promiscuous-mode", "write",
	"relinquish-privileges", "interval", "max-findings", "metrics-addr"}

func addLiveFlags(fs *flag.FlagSet, l *liveOptions) {
	fs.StringVarP(&l.iface, "interface", "i", "", "capture live on `IFACE` (any: every interface) and report as it happens; stop with Ctrl-C, -c or --duration")
	fs.BoolVarP(&l.list, "list-interfaces", "D", false, "list the interfaces -i can capture on, and exit")
	fs.IntVarP(&l.snaplen, "snapshot-length", "s", capture.DefaultSnapLen, "-i: keep at most `BYTES` of each packet: the default keeps every header finack reads and lets the kernel buffer the most packets; 262144 keeps whole packets for -w")
	fs.Uint64VarP(&l.count, "count", "c", 0, "-i: stop after `N` packets")
	fs.DurationVar(&l.duration, "duration", 0, "-i: stop after `DURATION` (e.g. 10m, 24h)")
	fs.IntVarP(&l.bufferKiB, "buffer-size", "B", defaultBufferKiB, "-i: kernel capture buffer in `KiB` (tcpdump -B): what absorbs bursts while finack is busy")
	fs.BoolVarP(&l.noPromisc, "no-promiscuous-mode", "p", false, "-i: do not put the interface into promiscuous mode")
	fs.StringVarP(&l.write, "write", "w", "", "-i: also save the raw packets to `FILE` (pcap, nanosecond timestamps)")
	fs.StringVarP(&l.user, "relinquish-privileges", "Z", "", "-i: once the interface is open, drop root privileges and run as `USER`")
	fs.DurationVar(&l.interval, "interval", 0, "-i: print a one-line running summary to stderr every `DURATION`")
	fs.IntVar(&l.maxFindings, "max-findings", defaultMaxFindings, "-i: findings the final report lists (`N`, the latest; every finding is counted)")
	fs.StringVar(&l.metricsAddr, "metrics-addr", "", "-i: serve Prometheus metrics at http://`HOST:PORT`/metrics")
}

func init() {
	modes = append(modes, func(fs *flag.FlagSet) modeRunner {
		l := new(liveOptions)
		addLiveFlags(fs, l)
		return func(fs *flag.FlagSet, o options, stdout, stderr io.Writer) (int, bool) {
			return liveMode(fs, o, l, stdout, stderr)
		}
	})
}

// liveMode runs the live modes (-i, -D) when asked for; done is false when the
// command line asks for neither (and uses no flag of theirs), so files are read.
func liveMode(fs *flag.FlagSet, o options, l *liveOptions, stdout, stderr io.Writer) (code int, done bool) {
	if !l.list && !fs.Changed("interface") {
		for _, name := range liveOnly {
			if fs.Changed(name) {
				fmt.Fprintf(stderr, "finack: --%s: only with -i (live capture)\n", name)
				return exitError, true
			}
		}
		return 0, false
	}
	if l.list {
		return listInterfaces(stdout, stderr), true
	}
	if fs.Changed("workers") {
		// Live capture tracks on one goroutine: say so rather than ignore it.
		fmt.Fprintf(stderr, "finack: --workers: only with -r (files)\n")
		return exitError, true
	}
	return runLive(fs, o, *l, stdout, stderr), true
}

func listInterfaces(stdout, stderr io.Writer) int {
	ifs, err := capture.Interfaces()
	if err != nil {
		fmt.Fprintf(stderr, "finack: -D: %v\n", err)
		return exitError
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
		return exitError
	}
	return exitOK
}

// validateLive checks the command line of a live capture.
func validateLive(o *liveConfig, fs *flag.FlagSet) error {
	l := &o.live
	if l.iface == "" {
		return errors.New("-i: no interface named (finack -D lists them)")
	}
	if len(o.files) > 0 {
		return errors.New("-i: captures live; -r reads files: give one or the other")
	}
	switch o.output {
	case "text", "json", "ndjson":
	default:
		return fmt.Errorf("-o: %q is not available with -i (want text, json or ndjson)", o.output)
	}
	if o.timeWait <= 0 || o.timeWait > maxTimeWait {
		return fmt.Errorf("--time-wait: want a positive duration up to %v, got %v", maxTimeWait, o.timeWait)
	}
	for _, name := range []string{"separate", "baseline", "tolerance", "write-baseline", "export", "ladder", "states", "at"} {
		if fs.Lookup(name) != nil && fs.Changed(name) {
			return fmt.Errorf("--%s: not available with -i (live capture); save the packets with -w and read them with -r", name)
		}
	}
	if l.snaplen < capture.MinSnapLen || l.snaplen > capture.MaxSnapLen {
		return fmt.Errorf("-s: snapshot length must be %d to %d bytes (TCP headers with options must fit), got %d", capture.MinSnapLen, capture.MaxSnapLen, l.snaplen)
	}
	if l.bufferKiB <= 0 || l.bufferKiB > 1<<21 {
		return fmt.Errorf("-B: buffer size in KiB must be 1 to %d, got %d", 1<<21, l.bufferKiB)
	}
	if l.duration < 0 {
		return fmt.Errorf("--duration: must not be negative, got %v", l.duration)
	}
	if l.interval < 0 {
		return fmt.Errorf("--interval: must not be negative, got %v", l.interval)
	}
	if l.maxFindings < 0 {
		return fmt.Errorf("--max-findings: must not be negative, got %d", l.maxFindings)
	}
	if l.write == "-" {
		return errors.New("-w: stdout carries the report; give a file name")
	}
	if l.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(l.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: want HOST:PORT, got %q", l.metricsAddr)
		}
	}
	var err error
	o.failRules, err = ParseFailOn(o.failOn)
	return err
}

// openError turns an error of capture.OpenLive into the one line a user acts on.
func openError(iface string, err error) string {
	var fe *capture.FilterError
	switch {
	case errors.Is(err, capture.ErrNoInterface):
		return fmt.Sprintf("-i %s: no such interface (finack -D lists the interfaces)", iface)
	case errors.Is(err, capture.ErrPermission):
		return fmt.Sprintf("-i %s: permission denied: capturing needs root or the capabilities cap_net_raw,cap_net_admin (sudo setcap cap_net_raw,cap_net_admin=eip %s)", iface, finackPath())
	case errors.Is(err, capture.ErrInterfaceDown):
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
func runLive(fs *flag.FlagSet, opts options, lo liveOptions, stdout, stderr io.Writer) int {
	o := liveConfig{Options: opts.Options, live: lo}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "finack: "+format+"\n", a...)
		return exitError
	}
	if err := validateLive(&o, fs); err != nil {
		return fail("%v", err)
	}
	l := o.live
	stopProfiles, err := startProfiles(opts)
	if err != nil {
		return fail("%v", err)
	}
	defer stopProfiles()

	src, err := capture.OpenLive(capture.LiveOptions{
		Interface: l.iface, Filter: o.filter, SnapLen: l.snaplen, NoPromisc: l.noPromisc,
		BufferSize: l.bufferKiB << 10, IgnoreVLAN: o.ignoreVLAN,
	})
	if err != nil {
		return fail("%s", openError(l.iface, err))
	}
	defer src.Close()
	src.SetLimit(l.count)

	// Bind the metrics port while still privileged (a port below 1024 needs it).
	var metrics *liveMetrics
	if l.metricsAddr != "" {
		ln, err := net.Listen("tcp", l.metricsAddr)
		if err != nil {
			return fail("--metrics-addr %s: %v", l.metricsAddr, err)
		}
		metrics = newLiveMetrics(ln, version)
		defer metrics.close()
	}
	if l.user != "" {
		if os.Geteuid() != 0 {
			fmt.Fprintf(stderr, "finack: -Z %s: not running as root, privileges left as they are\n", l.user)
		} else if err := dropPrivileges(l.user); err != nil {
			return fail("%v", err)
		}
	}
	// The saved file is created after dropping privileges, as tcpdump does: it belongs
	// to the user finack now runs as.
	var saved *os.File
	if l.write != "" {
		if saved, err = os.Create(l.write); err != nil {
			return fail("-w: %v", err)
		}
		defer saved.Close()
		if err := src.SaveTo(saved); err != nil {
			return fail("-w %s: %v", l.write, err)
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

	run := newLiveRun(o, src, stdout, stderr, metrics)
	fmt.Fprintf(stderr, "finack: listening on %s, link-type %s, snapshot length %d bytes\n", l.iface, src.LinkName(), src.SnapLen())
	if metrics != nil {
		fmt.Fprintf(stderr, "finack: metrics at http://%s/metrics\n", metrics.addr())
	}
	return run.finish(run.loop(&stop))
}

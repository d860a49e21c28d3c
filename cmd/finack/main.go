// Command finack reads TCP traffic from capture files or a live interface and reports
// how every connection closed: close shapes, final ACKs that never came, retransmitted
// FINs, and 4-tuples reused while one end still held them in TIME_WAIT.
//
// It owns what a user touches: the flags and --help (main.go, flags.go), the
// dispatch of a run and its exit code (check.go), the live command line, signals and
// privilege drop (livecli.go) and the progress line (progress.go). Reading files and
// live capture belong to analyzer/pipeline, the report in every format to
// analyzer/report, the CI checks to analyzer/gate, live metrics to analyzer/metrics;
// decoding to package capture, tracking to reassembly, and what the facts mean to
// analyzer. docs/usage.md is the manual.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	flag "github.com/spf13/pflag"

	"github.com/finack/finack/reassembly"
)

// maxTimeWait bounds --time-wait.
const maxTimeWait = time.Hour

// checkTimeWait checks --time-wait against its bounds. No stack holds TIME_WAIT for
// more than minutes (RFC 9293: 4 minutes); an hour bounds the capture-time
// arithmetic far from overflow.
func checkTimeWait(d time.Duration) error {
	if d <= 0 || d > maxTimeWait {
		return fmt.Errorf("--time-wait: want a positive duration up to %v, got %v", maxTimeWait, d)
	}
	return nil
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usageText = `finack: how did the TCP connections in a capture close?

Usage:
  finack -r FILE [-r FILE ...] [flags] [BPF expression]
  finack -i IFACE [flags] [BPF expression]       live capture (Ctrl-C: the report)

Examples:
  finack -r capture.pcap                       human-readable report
  finack -r capture.pcapng -o json             one JSON document
  finack -r capture.pcap -o ndjson             one record per line
  finack -r a.pcap0 -r a.pcap1 'tcp port 443'  rotated pieces merged by time, filtered
  tcpdump -i eth0 -w - | finack -r -           read stdin
  finack -q -r big.pcap.gz -o json > report.json
                                               no progress line on stderr (shown
                                               for -r reads when it is a terminal)
  finack -r capture.pcap --fail-on missing_final_ack,fin_retransmit
                                               exit 1 if any such finding
  finack -r capture.pcap --fail-on 'fin_retransmit>3,missing_final_ack'
                                               exit 1 past 3 FIN retransmissions
  finack --separate -r 'captures/*.pcap' --baseline 'baselines/*.json' -o junit
                                               each file its own capture, compared
                                               with its saved report, as JUnit XML
  finack -i eth0 --interval 10s --metrics-addr :9177
                                               live: findings as they happen, a summary
                                               line every 10 s, Prometheus metrics

Flags:
`

type options struct {
	report.Options
	cpuProfile string
	memProfile string
	quiet      bool
	// filterArgs are the arguments after the flags, joined into Filter.
	filterArgs []string

	// progress draws the progress line on stderr while files are read (nil: none;
	// progress.go); progressEnv decides whether and when.
	progress    *progress
	progressEnv progressEnv
}

// modes are other ways to run finack, each added by a file of its own (live.go: live
// capture, -i and -D): at start-up it registers its flags and returns its runner,
// which runs once the flags are parsed and says done=false when the command line
// does not ask for it (then files are read).
var modes []func(fs *flag.FlagSet, o *options) modeRunner

type modeRunner func(fs *flag.FlagSet, o options, stdout, stderr io.Writer) (code int, done bool)

func main() {
	if os.Getenv("GOGC") == "" {
		// The collector's pace is finack's (gcpace.go): peak memory first, a few
		// percent of speed after (docs/performance.md). GOGC in the environment
		// still decides.
		paceCollector()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs finack with the command line args (without the program name) and
// returns the exit code.
func run(args []string, stdout, stderr io.Writer) int { return runTuned(args, stdout, stderr, nil) }

// runTuned is run with tune, when not nil, applied to the options once the flags
// are parsed: what no flag sets (the report's sort, report.Options.Spill and
// HoldRecords; the progress line's progressEnv), which the tests vary.
func runTuned(args []string, stdout, stderr io.Writer, tune func(*options)) int {
	fs := flag.NewFlagSet("finack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	o := options{progressEnv: defaultProgressEnv()}
	var help, showVersion bool
	fs.StringArrayVarP(&o.Files, "read", "r", nil, "read packets from `FILE` (pcap or pcapng, gzip allowed; - for stdin; a quoted pattern for several); repeat to merge rotated pieces by time (see --separate)")
	fs.StringVarP(&o.Output, "output", "o", "text", "output `FORMAT`: text, json, ndjson, junit or tsv (Zeek log)")
	fs.BoolVar(&o.IgnoreVLAN, "ignore-vlan", false, "key connections without their 802.1Q tags (as Suricata's vlan.use-for-tracking: false): for taps that tag one direction only; the same 4-tuple on several VLANs becomes one connection")
	fs.BoolVar(&o.Connections, "connections", false, "text output: list every connection, not only findings")
	fs.DurationVar(&o.TimeWait, "time-wait", reassembly.DefaultTimeWait, "TIME_WAIT (2MSL) `DURATION` of the hosts (Linux: 60s)")
	fs.StringSliceVar(&o.FailOn, "fail-on", nil, "exit 1 when one of these `RULES` holds (comma-separated): KIND (a finding of that kind), KIND>N (the kind's total is above N), any, any>N")
	fs.BoolVar(&o.Separate, "separate", false, "each file (each -r, each match of a quoted -r pattern) is its own capture: a report per capture and a total; without it, several files are rotated pieces of one capture")
	fs.StringArrayVar(&o.Baselines, "baseline", nil, "compare with a saved -o json report `FILE` (repeat, or a quoted pattern, for several captures); exit 1 when a finding kind got worse")
	fs.StringSliceVar(&o.Tolerance, "tolerance", nil, "with --baseline: let kinds grow by `KIND+N[%],...` over the baseline (any+N: every kind not named; default +0)")
	fs.StringVar(&o.WriteBaseline, "write-baseline", "", "write this run's -o json report to `FILE`, to compare later runs with")
	fs.StringVar(&o.Export, "export", "", "write every packet of the connections with findings to `FILE` (pcap; pcapng, with a comment per packet, when FILE ends in .pcapng); the report maps frame numbers")
	fs.BoolVar(&o.Ladder, "ladder", false, "text output: draw each connection with findings as a sequence diagram (client left, server right)")
	fs.StringVar(&o.HTML, "html", "", "also write the report as one self-contained HTML page to `FILE` (charts, incidents, ladders, netstat view; opens offline); with -i written at the stop and served at / of --metrics-addr")
	addViewFlags(fs, &o.View)
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", pipeline.IdleTimeoutUnset, "stop following an open connection idle this long in capture time, reported as dropped (`DURATION`; 0: never; default: 5m with -i, as Zeek's tcp_inactivity_timeout, never with -r)")
	fs.IntVar(&o.MaxConns, "max-connections", pipeline.DefaultMaxConns, "track at most `N` connections at once; past it the least recently active tenth are finished early, reported as evicted (0: no cap)")
	fs.IntVar(&o.Workers, "workers", pipeline.DefaultWorkers(), "-r: track and analyse on `N` cores (the report does not depend on N; default: the CPUs finack may use, GOMAXPROCS)")
	runners := make([]modeRunner, len(modes))
	for i, add := range modes {
		runners[i] = add(fs, &o)
	}
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line on stderr (shown while -r files are read, when stderr is a terminal)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE` (for reports of slowness)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `FILE` at the end")
	fs.BoolVarP(&help, "help", "h", false, "show this help")
	fs.BoolVar(&showVersion, "version", false, "print the version and build information")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			help = true
		} else {
			fmt.Fprintf(stderr, "finack: %v (see finack --help)\n", err)
			return pipeline.ExitError
		}
	}
	if help {
		printUsage(fs, stdout)
		return pipeline.ExitOK
	}
	if showVersion {
		fmt.Fprintln(stdout, versionString())
		return pipeline.ExitOK
	}
	o.Filter = strings.Join(fs.Args(), " ")
	o.filterArgs = fs.Args()
	o.ASCII = !report.LocaleUTF8(os.Getenv)
	o.MaxFindings = report.DefaultMaxFindings
	if f := fs.Lookup("max-findings"); f != nil && f.Changed {
		n, err := strconv.Atoi(f.Value.String())
		if err != nil || n < 0 {
			fmt.Fprintf(stderr, "finack: --max-findings: must not be negative, got %s\n", f.Value.String())
			return pipeline.ExitError
		}
		o.MaxFindings = n
	}
	o.Live = fs.Changed("interface")
	if err := o.validateTracking(); err != nil {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return pipeline.ExitError
	}
	if err := resolveView(&o.View, fs, &o); err != nil {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return pipeline.ExitError
	}
	if tune != nil {
		tune(&o)
	}
	for _, m := range runners {
		if code, done := m(fs, o, stdout, stderr); done {
			return code
		}
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return pipeline.ExitError
	}
	stop, err := startProfiles(o)
	if err != nil {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return pipeline.ExitError
	}
	// The progress line is cleared before the first write of the report or of an
	// error: both go through its guard.
	o.progress = newProgress(o, stderr)
	code := analyze(o, o.progress.guardReport(stdout), o.progress.guard(stderr))
	o.progress.stop()
	if err := stop(); err != nil {
		fmt.Fprintf(stderr, "finack: %v\n", err)
		return pipeline.ExitError
	}
	return code
}

// startProfiles starts the CPU profile and returns the function that ends it and
// writes the heap profile.
func startProfiles(o options) (func() error, error) {
	var cpu *os.File
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close() // nothing written: the error to tell is StartCPUProfile's
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		cpu = f
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
		}
		if o.memProfile != "" {
			f, err := os.Create(o.memProfile)
			if err != nil {
				return fmt.Errorf("--memprofile: %w", err)
			}
			// The profile's in-use figures are those of the last collection: run one
			// now, or the work at the end of the run (the analysis of everything
			// still held) would be missing from it.
			runtime.GC()
			err = pprof.WriteHeapProfile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("--memprofile: %w", err)
			}
		}
		return nil
	}, nil
}

// printUsage prints the help: synopsis, examples, flags (as tcpdump users expect:
// "-r FILE", no "[=true|false]" on switches), finding kinds and exit codes.
func printUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, usageText)
	type line struct{ left, usage string }
	var lines []line
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := flag.UnquoteUsage(f)
		if f.Value.Type() != "bool" && name != "" {
			left += " " + name
		}
		if d := f.DefValue; d != "" && d != "false" && d != "[]" && f.Value.Type() != "stringArray" && !defaultInUsage[f.Name] {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		lines = append(lines, line{left, usage})
		width = max(width, len(left))
	})
	for _, l := range lines {
		fmt.Fprintf(w, "%-*s   %s\n", width, l.left, l.usage)
	}
	fmt.Fprintf(w, "\nA trailing BPF expression filters packets as tcpdump would.\nFinding kinds: %s\nExit codes: 0 done, 1 a --fail-on rule or --baseline check failed, 2 usage or input error.\n", gate.KindList())
}

func (o *options) validate() error {
	if len(o.Files) == 0 {
		return errors.New("-r: no capture to read (give -r FILE, or -r - for stdin; see finack --help)")
	}
	switch o.Output {
	case "text", "json", "ndjson", "junit", "tsv":
	default:
		return fmt.Errorf("-o: unknown output format %q (want text, json, ndjson, junit or tsv)", o.Output)
	}
	if err := checkTimeWait(o.TimeWait); err != nil {
		return err
	}
	return o.validateChecks()
}

// defaultInUsage names the flags whose usage text says their default (it depends on
// the mode or the machine).
var defaultInUsage = map[string]bool{"idle-timeout": true, "workers": true, "max-findings": true}

func versionString() string {
	v := version
	goVersion := "unknown"
	var rev, modified string
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = "+dirty"
				}
			}
		}
	}
	out := fmt.Sprintf("finack %s (%s", v, goVersion)
	if rev != "" {
		out += ", commit " + rev + modified
	}
	return out + ")"
}

package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// viewOptions are the flags of the netstat view and the TIME_WAIT accounting.
type viewOptions struct {
	states       bool
	at           string
	osName       string
	portRange    string
	portPressure float64

	profile analyzer.Profile
	ports   analyzer.PortRange
}

func addViewFlags(fs *flag.FlagSet, v *viewOptions) {
	fs.BoolVar(&v.states, "states", false, "print each host's socket states (as netstat names them) and the TIME_WAIT accounting")
	fs.StringVar(&v.at, "at", "", "with --states: the states at `TIME` (RFC 3339, or an offset from the first packet such as +30s; default: the end of the capture)")
	fs.StringVar(&v.osName, "os", "linux", "TIME_WAIT and SYN-retry rules of the hosts: `OS` linux, freebsd, macos, windows or rfc (--time-wait still overrides the length)")
	fs.StringVar(&v.portRange, "port-range", "32768-60999", "ephemeral client port `RANGE` for the port-pressure figures (Linux default)")
	fs.Float64Var(&v.portPressure, "port-pressure", 0.5, "flag a client address→server pair when its peak share of the port range reaches `FRACTION`")
}

// resolve checks the view flags and applies the OS profile's TIME_WAIT length unless
// --time-wait was given.
func (v *viewOptions) resolve(fs *flag.FlagSet, o *options) error {
	p, err := analyzer.LookupProfile(v.osName)
	if err != nil {
		return fmt.Errorf("--os: %v", err)
	}
	v.profile = p
	if !fs.Changed("time-wait") {
		o.timeWait = p.TimeWait
	}
	lo, hi, ok := strings.Cut(v.portRange, "-")
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
		return fmt.Errorf("--port-range: want LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got %q", v.portRange)
	}
	v.ports = analyzer.PortRange{Lo: uint16(a), Hi: uint16(b)}
	if v.portPressure <= 0 || v.portPressure > 1 {
		return fmt.Errorf("--port-pressure: want a fraction in (0, 1], got %v", v.portPressure)
	}
	if v.at != "" {
		v.states = true
		if _, err := parseAt(v.at, time.Unix(0, 0)); err != nil {
			return fmt.Errorf("--at: %v", err)
		}
	}
	return nil
}

// parseAt reads --at: an RFC 3339 time, or +DURATION from the first packet.
func parseAt(s string, first time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return time.Time{}, fmt.Errorf("want an RFC 3339 time or +DURATION, got %q", s)
		}
		return first.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or +DURATION, got %q", s)
	}
	return t, nil
}

// view is the netstat view and TIME_WAIT accounting of a capture, as reported.
type view struct {
	At       time.Time
	States   map[string]map[string]int
	Hosts    []string // in address order
	TimeWait analyzer.TimeWaitReport
}

func newView(v viewOptions, incs []*reassembly.Incarnation, first, last time.Time, twLen time.Duration) view {
	at := last
	if v.at != "" {
		at, _ = parseAt(v.at, first) // checked by resolve
	}
	states := analyzer.States(incs, at.UnixNano(), int64(twLen))
	out := view{At: at.UTC(), States: make(map[string]map[string]int)}
	for _, h := range analyzer.SortedHosts(states) {
		out.Hosts = append(out.Hosts, h.String())
		out.States[h.String()] = states[h]
	}
	out.TimeWait = analyzer.TimeWaitAccounting(incs, first.UnixNano(), last.UnixNano(), int64(twLen), v.ports, v.portPressure)
	return out
}

// writeViewText renders the states per host, the TIME_WAIT accounting with a small
// chart per host, the server endpoints' close shares and the port pressure.
func writeViewText(w io.Writer, v view) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("\nstates at %s (per host, as netstat -n | awk '/^tcp/ {++S[$NF]} ...' would count them)\n", v.At.Format(time.RFC3339Nano))
	if len(v.Hosts) == 0 {
		p("  no sockets open\n")
	}
	for _, h := range v.Hosts {
		var parts []string
		for _, st := range analyzer.StateNames {
			if n := v.States[h][st]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", st, n))
			}
		}
		p("  %-40s %s\n", h, strings.Join(parts, ", "))
	}
	tw := v.TimeWait
	p("\nTIME_WAIT per host over the capture (peak, when, at the end, incarnations held)\n")
	if len(tw.Hosts) == 0 {
		p("  none\n")
	}
	for _, h := range tw.Hosts {
		p("  %-40s peak %d at %s, %d at the end, %d in all\n  %-40s %s\n", h.Host, h.Peak, h.PeakAt.Format(time.RFC3339Nano), h.AtEnd, h.Total, "", sparkline(h.Chart, h.Peak))
	}
	if len(tw.Closers) > 0 {
		p("\nclosing side per server endpoint (server-initiated closes leave TIME_WAIT on the server)\n")
		for i, c := range tw.Closers {
			if i == 10 {
				p("  ... %d more\n", len(tw.Closers)-10)
				break
			}
			p("  %-46s %d closes, %d by the server (%.1f%%)\n", c.Server, c.Closes, c.ServerInitiated, 100*c.Share)
		}
	}
	if len(tw.PortPressure) > 0 {
		p("\nclient ports tied up (open or in TIME_WAIT on either side), peak per client address → server\n")
		for i, pp := range tw.PortPressure {
			if i == 10 {
				p("  ... %d more\n", len(tw.PortPressure)-10)
				break
			}
			flag := ""
			if pp.Flagged {
				flag = "  << port pressure"
			}
			p("  %s → %s: %d of %d ports (%.1f%%) at %s%s\n", pp.Client, pp.Server, pp.PeakPorts, pp.RangeSize, 100*pp.Share, pp.PeakAt.Format(time.RFC3339Nano), flag)
		}
	}
}

// sparkline draws counts as a one-line bar chart scaled to peak.
func sparkline(counts []int, peak int) string {
	bars := []rune(" ▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, c := range counts {
		i := 0
		if peak > 0 && c > 0 {
			i = 1 + (min(c, peak)*(len(bars)-2))/peak
		}
		b.WriteRune(bars[i])
	}
	return "|" + b.String() + "|"
}

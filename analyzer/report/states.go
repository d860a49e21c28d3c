package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/reassembly"
)

// ViewOptions are the flags of the netstat view and the TIME_WAIT accounting.
type ViewOptions struct {
	States       bool
	At           string
	OsName       string
	PortRange    string
	PortPressure float64

	Profile analyzer.Profile
	Ports   analyzer.PortRange
}

// ParseAt reads --at: an RFC 3339 time, or +DURATION from the first packet.
func ParseAt(s string, first time.Time) (time.Time, error) {
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

func NewView(v ViewOptions, incs []*reassembly.Incarnation, first, last time.Time, twLen time.Duration) view {
	at := last
	if v.At != "" {
		at, _ = ParseAt(v.At, first) // checked by resolve
	}
	states := analyzer.States(incs, at, twLen)
	out := view{At: at.UTC(), States: make(map[string]map[string]int)}
	for _, h := range analyzer.SortedHosts(states) {
		out.Hosts = append(out.Hosts, h.String())
		out.States[h.String()] = states[h]
	}
	out.TimeWait = analyzer.TimeWaitAccounting(incs, first, last, twLen, v.Ports, v.PortPressure)
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

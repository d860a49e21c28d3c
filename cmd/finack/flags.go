package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"

	"github.com/finack/finack/analyzer"
	flag "github.com/spf13/pflag"
)

func addViewFlags(fs *flag.FlagSet, v *report.ViewOptions) {
	fs.BoolVar(&v.States, "states", false, "print each host's socket states (as netstat names them) and the TIME_WAIT accounting")
	fs.StringVar(&v.At, "at", "", "with --states: the states at `TIME` (RFC 3339, or an offset from the first packet such as +30s; default: the end of the capture)")
	fs.StringVar(&v.OsName, "os", "linux", "TIME_WAIT and SYN-retry rules of the hosts: `OS` linux, freebsd, macos, windows or rfc (--time-wait still overrides the length)")
	fs.StringVar(&v.PortRange, "port-range", "32768-60999", "ephemeral client port `RANGE` for the port-pressure figures (Linux default)")
	fs.Float64Var(&v.PortPressure, "port-pressure", 0.5, "flag a client address→server pair when its peak share of the port range reaches `FRACTION`")
}

// resolveView checks the view flags and applies the OS profile's TIME_WAIT length unless
// --time-wait was given.
func resolveView(v *report.ViewOptions, fs *flag.FlagSet, o *options) error {
	p, err := analyzer.LookupProfile(v.OsName)
	if err != nil {
		return fmt.Errorf("--os: %v", err)
	}
	v.Profile = p
	if !fs.Changed("time-wait") {
		o.TimeWait = p.TimeWait
	}
	lo, hi, ok := strings.Cut(v.PortRange, "-")
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
		return fmt.Errorf("--port-range: want LOW-HIGH with 1 <= LOW <= HIGH <= 65535, got %q", v.PortRange)
	}
	v.Ports = analyzer.PortRange{Lo: uint16(a), Hi: uint16(b)}
	if v.PortPressure <= 0 || v.PortPressure > 1 {
		return fmt.Errorf("--port-pressure: want a fraction in (0, 1], got %v", v.PortPressure)
	}
	if v.At != "" {
		v.States = true
		if _, err := report.ParseAt(v.At, time.Unix(0, 0)); err != nil {
			return fmt.Errorf("--at: %v", err)
		}
	}
	return nil
}

func (o *options) validateTracking() error {
	if o.IdleTimeout == pipeline.IdleTimeoutUnset {
		o.IdleTimeout = 0 // files; live.go sets its own
		if o.Live {
			o.IdleTimeout = pipeline.DefaultIdleTimeout
		}
	}
	if o.IdleTimeout < 0 {
		return fmt.Errorf("--idle-timeout: must not be negative, got %v", o.IdleTimeout)
	}
	if o.MaxConns < 0 {
		return fmt.Errorf("--max-connections: must not be negative, got %d", o.MaxConns)
	}
	if o.Workers < 1 || o.Workers > pipeline.MaxWorkers {
		return fmt.Errorf("--workers: must be 1 to %d, got %d", pipeline.MaxWorkers, o.Workers)
	}
	return nil
}

// validateChecks parses and checks the flags of the CI checks.
func (o *options) validateChecks() error {
	var err error
	if o.FailRules, err = gate.ParseFailOn(o.FailOn); err != nil {
		return err
	}
	if o.Tolerances, err = gate.ParseTolerances(o.Tolerance); err != nil {
		return err
	}
	if len(o.Tolerance) > 0 && len(o.Baselines) == 0 {
		return errors.New("--tolerance: needs --baseline (it says how far each kind may grow over the baseline)")
	}
	if o.Ladder && o.Output != "text" {
		return fmt.Errorf("--ladder: draws text; use it with -o text, not -o %s", o.Output)
	}
	return nil
}

package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	flag "github.com/spf13/pflag"
)

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

func (o *options) validateTracking() error {
	if o.idleTimeout == idleTimeoutUnset {
		o.idleTimeout = 0 // files; live.go sets its own
		if o.live {
			o.idleTimeout = defaultIdleTimeout
		}
	}
	if o.idleTimeout < 0 {
		return fmt.Errorf("--idle-timeout: must not be negative, got %v", o.idleTimeout)
	}
	if o.maxConns < 0 {
		return fmt.Errorf("--max-connections: must not be negative, got %d", o.maxConns)
	}
	if o.workers < 1 || o.workers > maxWorkers {
		return fmt.Errorf("--workers: must be 1 to %d, got %d", maxWorkers, o.workers)
	}
	return nil
}

// validateChecks parses and checks the flags of the CI checks.
func (o *options) validateChecks() error {
	var err error
	if o.failRules, err = ParseFailOn(o.failOn); err != nil {
		return err
	}
	if o.tolerances, err = parseTolerances(o.tolerance); err != nil {
		return err
	}
	if len(o.tolerance) > 0 && len(o.baselines) == 0 {
		return errors.New("--tolerance: needs --baseline (it says how far each kind may grow over the baseline)")
	}
	if o.ladder && o.output != "text" {
		return fmt.Errorf("--ladder: draws text; use it with -o text, not -o %s", o.output)
	}
	return nil
}

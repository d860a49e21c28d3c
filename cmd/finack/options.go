package main

import (
	"time"

	"github.com/finack/finack/analyzer"
)

// Options are what a run was asked for: the inputs, the report's format and
// contents, the tracking limits and the CI checks. The command line fills them.
type Options struct {
	files       []string
	output      string
	connections bool
	timeWait    time.Duration
	failOn      []string
	filter      string
	ignoreVLAN  bool // --ignore-vlan
	view        viewOptions

	// Tracking: files and live capture (workers.go; live.go). live: -i was given.
	live        bool
	idleTimeout time.Duration
	maxConns    int
	workers     int

	// CI checks: failon.go, baseline.go, inputs.go, multi.go, junit.go, evidence.go.
	failRules     []Rule
	separate      bool
	baselines     []string
	tolerance     []string
	tolerances    map[analyzer.Kind]tolerance
	writeBaseline string
	export        string
	ladder        bool
}

package report

import (
	"time"

	"github.com/finack/finack/analyzer/gate"

	"github.com/finack/finack/analyzer"
)

// Options are what a run was asked for: the inputs, the report's format and
// contents, the tracking limits and the CI checks. The command line fills them.
type Options struct {
	Files       []string
	Output      string
	Connections bool
	// MaxFindings: the incidents the text report lists (0: all).
	MaxFindings int
	// ASCII: the text report in ASCII (the locale is not UTF-8).
	ASCII      bool
	TimeWait   time.Duration
	FailOn     []string
	Filter     string
	IgnoreVLAN bool // --ignore-vlan
	View       ViewOptions

	// Tracking: files and live capture (workers.go; live.go). live: -i was given.
	Live        bool
	IdleTimeout time.Duration
	MaxConns    int
	Workers     int

	// CI checks: failon.go, baseline.go, inputs.go, multi.go, junit.go, evidence.go.
	FailRules     []gate.Rule
	Separate      bool
	Baselines     []string
	Tolerance     []string
	Tolerances    map[analyzer.Kind]gate.Tolerance
	WriteBaseline string
	Export        string
	Ladder        bool

	// HTML: --html, the file the HTML report goes to ("" none).
	HTML string
}

// DefaultMaxFindings is how many incidents the text report of files lists unless
// --max-findings says otherwise: a screenful or two; -o json has every one.
const DefaultMaxFindings = 25

package report

import (
	"time"

	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/spill"

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
	ASCII    bool
	TimeWait time.Duration
	FailOn   []string
	Filter   string
	// Count: -c, the frames read that pass Filter (every frame without one), 0
	// for all: the capture ends there (capture.Options.Count).
	Count      uint64
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

	// Records of a report that streams them (StreamsReport, spill.go).
	// Spill bounds the records held in memory before they go to a temporary
	// file (zero: the defaults of package spill, 32k records or 4 MiB of encoded
	// records per kind of record), shared out among the sorters of the Workers.
	Spill spill.Options
	// HoldRecords keeps every record in memory until the report is written, as
	// a report that cannot stream them does: no temporary file, memory that
	// grows with the connections.
	HoldRecords bool
	// HoldIncarnations keeps every incarnation until the capture is read (one
	// tracker that hands none out), and computes the --states view and the --html
	// pictures from them all at once (NewView, NewPictures): the reference the
	// streaming collectors (ViewCollector, PictureCollector) are tested against.
	// Memory grows with the capture; no flag sets it.
	HoldIncarnations bool
}

// DefaultMaxFindings is how many incidents the text report of files lists unless
// --max-findings says otherwise: a screenful or two; -o json has every one.
const DefaultMaxFindings = 25

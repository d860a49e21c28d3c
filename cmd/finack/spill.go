package main

import (
	"fmt"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/spill"
)

// The plain report of one capture (-o json, -o ndjson, text, with or without
// --connections) does not hold every connection record and finding until it is
// written: the analysis encodes each record as the report prints it and sorts them
// externally (analyzer.Stream.Spill), past a bound in sorted runs in a temporary file,
// merged when the report is written. Memory stays flat however many connections the
// capture holds. What needs every record at the end keeps them in memory: see
// streamsReport.

// spillOptions bounds the records held in memory (the defaults of package spill:
// 64k records or 16 MiB of encoded records per sorter); the tests make it tiny.
var spillOptions spill.Options

// streamReports: the tests turn it off to compare with the report held in memory.
var streamReports = true

// streamsReport says whether the report of this run can stream its records: nothing
// but the report's writer reads them.
func streamsReport(o options) bool {
	if !streamReports {
		return false
	}
	switch o.output {
	case "json", "ndjson", "text":
	default:
		return false // junit: findings grouped by kind
	}
	return !o.separate && // --separate: documents rendered into one another
		!o.view.states && // the batch tracker: every incarnation is held anyway
		o.export == "" && !o.ladder && // the connections with findings: evidence.go
		o.writeBaseline == "" && len(o.baselines) == 0 && // findings compared, or written twice
		len(o.failOn) == 0 && len(o.failRules) == 0 // findings summed by kind
}

// reportEncoder renders each record exactly as writeJSON, writeNDJSON or writeText
// prints it from the document.
func reportEncoder(o options) analyzer.Encoder {
	switch o.output {
	case "json":
		return analyzer.Encoder{Connection: appendConnectionJSON, Finding: appendFindingJSON}
	case "ndjson":
		return analyzer.Encoder{Connection: appendConnectionNDJSON, Finding: appendFindingNDJSON}
	default:
		e := analyzer.Encoder{
			Finding: func(dst []byte, f *analyzer.Finding) ([]byte, error) { return appendFindingText(dst, f), nil },
		}
		if o.connections {
			e.Connection = func(dst []byte, c *analyzer.Connection) ([]byte, error) { return appendConnectionText(dst, c), nil }
		}
		return e
	}
}

// ndjsonConnection and ndjsonFinding are the records of -o ndjson, as encoding/json
// encodes them; appendConnectionNDJSON and appendFindingNDJSON (jsonrec.go) write the
// same bytes by hand.
func ndjsonConnection(c *analyzer.Connection) any {
	return struct {
		Type string `json:"type"`
		*analyzer.Connection
	}{"connection", c}
}

func ndjsonFinding(f *analyzer.Finding) any {
	return struct {
		Type string `json:"type"`
		*analyzer.Finding
	}{"finding", f}
}

// appendFindingText and appendConnectionText are the lines of the text report.
func appendFindingText(dst []byte, f *analyzer.Finding) []byte {
	return fmt.Appendf(dst, "%-17s  %s → %s #%d  frames %s\n    %s\n", f.Kind, f.Client, f.Server, f.Incarnation, framesText(f.Frames), f.Message)
}

func appendConnectionText(dst []byte, c *analyzer.Connection) []byte {
	roles := ""
	if !c.RolesKnown {
		roles = " (roles guessed: no handshake seen)"
	}
	tw := "none"
	if c.TimeWaitHolder != "none" {
		tw = fmt.Sprintf("%s until %s", c.TimeWaitHolder, c.TimeWaitUntil)
	}
	vlan := ""
	if len(c.VLAN) > 0 {
		vlan = fmt.Sprintf(" vlan %v", c.VLAN)
	}
	if c.Dropped != "" {
		roles += " (dropped: " + c.Dropped + ")"
	}
	return fmt.Appendf(dst, "  %6d  %s → %s #%d%s  %s  closer %s  TIME_WAIT %s  frames %d-%d, %d packets, FIN %d/%d, RST %d/%d%s  %s%s\n",
		c.FirstFrame, c.Client, c.Server, c.Incarnation, vlan, c.Close, c.ActiveCloser, tw,
		c.FirstFrame, c.LastFrame, c.Packets, c.FINs.Client, c.FINs.Server, c.RSTs.Client, c.RSTs.Server, roles,
		c.History, finText(c.FIN))
}

// eachJSON hands out the items of a document held in memory, encoded as a spilling
// analysis encodes them for -o json (appendFindingJSON, appendConnectionJSON).
func eachJSON[T any](items []T, appendItem func([]byte, *T) ([]byte, error)) func(func([]byte) error) error {
	return func(fn func([]byte) error) error {
		var b []byte
		var err error
		for i := range items {
			if b, err = appendItem(b[:0], &items[i]); err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		return nil
	}
}

package html

import (
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

// incident is one row of the incident table: a report.Incident as the page shows it.
type incident struct {
	Time        string
	At          time.Time // to sort by
	Kinds       []string
	Client      string
	Server      string
	Incarnation int
	Place       string
	FirstFrame  uint64
	Frames      string // the frame range
	Outcome     string
	Summary     string
	Filter      string
	Benign      bool // a safe, accepted reuse
}

// incidents are the document's incidents (report.Incidents: the findings grouped
// by the event they describe) as rows of the table.
func incidents(doc *report.Document) []incident {
	list := doc.Incidents
	if pc := doc.Pictures; pc != nil && pc.PageIncidents != nil {
		list = pc.PageIncidents // the document's are the text report's
	}
	out := make([]incident, 0, len(list))
	for i := range list {
		in := &list[i]
		row := incident{Time: in.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), At: in.Time,
			Client: analyzer.EndpointString(in.Client), Server: analyzer.EndpointString(in.Server), Incarnation: in.Incarnation, Place: analyzer.PlaceText(in.VLAN, in.Tunnel),
			FirstFrame: in.FirstFrame, Frames: frameRange(in.FirstFrame, in.LastFrame), Summary: in.Summary, Filter: in.Filter,
			Benign: report.BenignIncident(in)}
		for _, k := range in.Findings {
			row.Kinds = append(row.Kinds, string(k))
		}
		var parts []string
		for _, s := range []string{string(in.Outcome), string(in.Verdict)} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		row.Outcome = strings.Join(parts, " ")
		out = append(out, row)
	}
	return out
}

func frameRange(first, last uint64) string {
	if first == last {
		return analyzerUint(first)
	}
	return analyzerUint(first) + "-" + analyzerUint(last)
}

func analyzerUint(n uint64) string { return string(analyzer.AppendUint(nil, n)) }

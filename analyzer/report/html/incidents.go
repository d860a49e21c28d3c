package html

import (
	"slices"
	"sort"
	"strings"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

// incident is one row of the incident table: the findings describing one event on
// one connection.
type incident struct {
	Time        string
	At          int64 // Unix ns, to sort by
	Kinds       []string
	Client      string
	Server      string
	Incarnation int
	Place       string
	Frames      []uint64
	Outcome     string
	Message     string
	Filter      string
	Benign      bool // a safe, accepted reuse
}

// incidents groups the document's findings into incidents: findings of one
// connection (4-tuple, VLAN, tunnel, incarnation) that name a frame in common are
// one event (an unanswered FIN is a missing_final_ack and a fin_retransmit).
func incidents(doc *report.Document) []incident {
	type key struct {
		client, server, place string
		inc                   int
	}
	var out []incident
	open := map[key][]int{} // indexes into out
	for i := range doc.Findings {
		f := &doc.Findings[i]
		k := key{f.Client, f.Server, analyzer.PlaceText(f.VLAN, f.Tunnel), f.Incarnation}
		joined := -1
		for _, j := range open[k] {
			for _, fr := range f.Frames {
				if slices.Contains(out[j].Frames, fr) {
					joined = j
				}
			}
		}
		if joined < 0 {
			out = append(out, incident{Time: f.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), At: f.Time.UnixNano(),
				Client: f.Client, Server: f.Server, Incarnation: f.Incarnation, Place: k.place, Benign: true})
			joined = len(out) - 1
			open[k] = append(open[k], joined)
		}
		in := &out[joined]
		in.Kinds = append(in.Kinds, string(f.Kind))
		for _, fr := range f.Frames {
			if !slices.Contains(in.Frames, fr) {
				in.Frames = append(in.Frames, fr)
			}
		}
		if in.Message == "" {
			in.Message = f.Message
		}
		if o := outcome(f); o != "" && !strings.Contains(in.Outcome, o) {
			if in.Outcome != "" {
				in.Outcome += ", "
			}
			in.Outcome += o
		}
		in.Benign = in.Benign && f.Kind == analyzer.ReuseIn2MSL && f.Outcome == analyzer.OutcomeAccepted &&
			(f.Verdict == analyzer.VerdictSafeBySequence || f.Verdict == analyzer.VerdictSafeByTimestamps)
	}
	for i := range out {
		in := &out[i]
		sort.Slice(in.Frames, func(a, b int) bool { return in.Frames[a] < in.Frames[b] })
		if n := len(in.Frames); n > 0 {
			in.Filter = report.WiresharkFilter(in.Client, in.Server, in.Frames[0], in.Frames[n-1])
		} else {
			in.Filter = report.WiresharkFilter(in.Client, in.Server, 0, 0)
		}
	}
	return out
}

// outcome says what a finding's outcome, verdict or cause is, as one phrase.
func outcome(f *analyzer.Finding) string {
	var parts []string
	for _, s := range []string{string(f.Outcome), string(f.Verdict), string(f.Cause)} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

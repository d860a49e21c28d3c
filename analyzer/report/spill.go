package report

import (
	"net/netip"
	"unicode/utf8"

	"github.com/finack/finack/analyzer"
)

// The plain report of one capture (-o json, -o ndjson, -o tsv, text, with or without
// --connections) does not hold every connection record and finding until it is
// written: the analysis hands each record to a Recorder (records.go), which encodes
// it as the report prints it and sorts the bytes externally, past a bound in sorted
// runs in a temporary file, merged when the report is written. Memory stays flat
// however many connections the capture holds; what else reads the records keeps its
// own part of them as they pass (--export and --ladder: EvidenceCollector; --html's
// ladders: LadderCollector).

// StreamsReport says whether the report of this run streams its records: nothing
// but the report's writer reads them (and --write-baseline's, which has records of
// its own: Document.BaselineRecords), and o.HoldRecords (or HoldIncarnations) does
// not keep them. The records are sorted within o.Spill's bounds, shared out among
// the Recorders of the --workers and, in each, among the kinds of records it keeps
// (connections, findings, incidents: newRecorder).
func StreamsReport(o Options) bool {
	if o.HoldRecords || o.HoldIncarnations {
		return false
	}
	switch o.Output {
	case "json", "ndjson", "text", "tsv", "junit":
	default:
		return false
	}
	return true
}

// KeepsCompared says whether a run of o that streams its records (StreamsReport)
// keeps what a comparison reads of every finding as well (Document.Compared):
// --baseline compares them with the saved report's, one by one.
func KeepsCompared(o Options) bool { return StreamsReport(o) && len(o.Baselines) > 0 }

// CollectsIncidents says whether a run of o groups the findings into incidents in
// memory (an IncidentCollector per worker): not when the report streams its
// records and either lists no incidents (-o tsv) or has its Recorders group and
// sort them with the other records (-o json, -o ndjson: reportEncoder). The text
// report keeps only the incidents it lists (IncidentCollector.Limit).
func CollectsIncidents(o Options) bool {
	if o.HTML != "" {
		return true // --html: the page's table lists incidents
	}
	if o.Output == "junit" {
		// -o junit lists findings by kind; a baseline lists incidents: its -o json
		// Recorders group them when the report streams.
		return o.WriteBaseline != "" && !StreamsReport(o)
	}
	if !StreamsReport(o) {
		return true
	}
	switch o.Output {
	case "json", "ndjson", "tsv":
		return false
	}
	return true
}

// reportEncoder renders each record exactly as WriteJSON, WriteNDJSON or WriteText
// prints it from the document.
func reportEncoder(o Options) encoder {
	switch o.Output {
	case "json":
		return encoder{connection: appendConnectionJSON, finding: appendFindingJSON, incident: appendIncidentJSON, ignoreVLAN: o.IgnoreVLAN}
	case "ndjson":
		return encoder{connection: appendConnectionNDJSON, finding: appendFindingNDJSON, incident: AppendIncidentNDJSON, ignoreVLAN: o.IgnoreVLAN}
	case "tsv":
		// A row per connection, its findings' kinds in it; no finding records.
		var kinds []string
		return encoder{connectionFindings: func(dst []byte, c *analyzer.Connection, fs []analyzer.Finding) ([]byte, error) {
			kinds = appendKinds(kinds[:0], fs)
			return appendTSVRow(dst, c, kinds), nil
		}}
	case "junit":
		// Each finding's lines in its kind's test case, sorted by kind first.
		return encoder{finding: appendFindingJUnit, findingKey: junitFindingKey}
	default:
		e := encoder{
			// The text report lists incidents (IncidentCollector), not findings.
			finding: func(dst []byte, f *analyzer.Finding) ([]byte, error) { return dst, nil },
		}
		if o.Connections {
			e.connection = func(dst []byte, c *analyzer.Connection) ([]byte, error) { return appendConnectionText(dst, c), nil }
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

// appendFindingText and appendConnectionText are the lines of the text report. They
// write, by hand, what fmt.Appendf would write with the formats in their comments:
// fmt's allocations (a boxed argument each, the intermediate strings) would be most
// of their cost. TestTextRecords (spill_test.go) compares the two on random records.

// appendIncarnationText: "%s → %s #%d%s" of the client, server, incarnation and
// VLANs and tunnel (analyzer.PlaceText), as every kind of line names a connection.
func appendIncarnationText(dst []byte, client, server netip.AddrPort, incarnation int, vlan, serverVLAN []uint16, tunnel string) []byte {
	dst = analyzer.AppendEndpoint(dst, client)
	dst = append(dst, " → "...)
	dst = analyzer.AppendEndpoint(dst, server)
	dst = append(dst, " #"...)
	dst = analyzer.AppendInt(dst, int64(incarnation))
	dst = appendTagsText(dst, " vlan [", vlan)
	dst = appendTagsText(dst, " server vlan [", serverVLAN) // the server's, when they differ
	if tunnel != "" {
		dst = append(dst, ' ')
		dst = append(dst, tunnel...)
	}
	return dst
}

// appendTagsText appends prefix and the tags as fmt's %v of a []uint16 writes
// them, when there are any.
func appendTagsText(dst []byte, prefix string, vlan []uint16) []byte {
	if len(vlan) == 0 {
		return dst
	}
	return append(appendTags(append(dst, prefix...), vlan, ' '), ']')
}

// appendFindingText: "%-17s  %s → %s #%d%s  frames %s\n    %s\n" of the kind, client,
// server, incarnation, vlanText, framesText(frames) and message.
func appendFindingText(dst []byte, f *analyzer.Finding) []byte {
	dst = appendPadRight(dst, string(f.Kind), 17)
	dst = append(dst, "  "...)
	dst = appendIncarnationText(dst, f.Client, f.Server, f.Incarnation, f.VLAN, f.ServerVLAN, f.Tunnel)
	dst = append(dst, "  frames "...)
	dst = appendFrames(dst, f.Frames)
	dst = append(dst, "\n    "...)
	dst = append(dst, f.Message...)
	return append(dst, '\n')
}

// appendConnectionText: "  %6d  %s → %s #%d%s  %s  closer %s  TIME_WAIT %s  frames
// %d-%d, %d packets, FIN %d/%d, RST %d/%d%s  %s%s\n" of the first frame, client,
// server, incarnation, VLANs (" vlan %v"), close, active closer, TIME_WAIT holder
// ("none", or "%s until %s" with the time), frames, packets, FINs and RSTs per end,
// the notes on roles and dropping, the history and finText.
func appendConnectionText(dst []byte, c *analyzer.Connection) []byte {
	dst = append(dst, "  "...)
	var digits [20]byte
	dst = appendPadLeft(dst, analyzer.AppendUint(digits[:0], c.FirstFrame), 6)
	dst = append(dst, "  "...)
	dst = appendIncarnationText(dst, c.Client, c.Server, c.Incarnation, c.VLAN, c.ServerVLAN, c.Tunnel)
	dst = append(dst, "  "...)
	dst = append(dst, c.Close...)
	dst = append(dst, "  closer "...)
	dst = append(dst, c.ActiveCloser...)
	dst = append(dst, "  TIME_WAIT "...)
	if c.TimeWaitHolder != "none" {
		dst = append(dst, c.TimeWaitHolder...)
		dst = append(dst, " until "...)
		dst = append(dst, c.TimeWaitUntil...)
	} else {
		dst = append(dst, "none"...)
	}
	dst = append(dst, "  frames "...)
	dst = analyzer.AppendUint(dst, c.FirstFrame)
	dst = append(dst, '-')
	dst = analyzer.AppendUint(dst, c.LastFrame)
	dst = append(dst, ", "...)
	dst = analyzer.AppendUint(dst, c.Packets)
	dst = append(dst, " packets, FIN "...)
	dst = appendCountPair(dst, c.FINs)
	dst = append(dst, ", RST "...)
	dst = appendCountPair(dst, c.RSTs)
	if !c.RolesKnown {
		dst = append(dst, " (roles guessed: no handshake seen)"...)
	}
	if c.Dropped != "" {
		dst = append(dst, " (dropped: "...)
		dst = append(dst, c.Dropped...)
		dst = append(dst, ')')
	}
	dst = append(dst, "  "...)
	dst = append(dst, c.History...)
	dst = appendFinText(dst, c.FIN)
	return append(dst, '\n')
}

// appendCountPair appends "%d/%d" of the client's and the server's count.
func appendCountPair(dst []byte, p analyzer.Pair) []byte {
	dst = analyzer.AppendUint(dst, uint64(p.Client))
	dst = append(dst, '/')
	return analyzer.AppendUint(dst, uint64(p.Server))
}

// appendPadRight appends s and spaces up to width runes, as fmt's %-<width>s does.
func appendPadRight(dst []byte, s string, width int) []byte {
	dst = append(dst, s...)
	for n := utf8.RuneCountInString(s); n < width; n++ {
		dst = append(dst, ' ')
	}
	return dst
}

// appendPadLeft appends spaces up to width bytes, then digits: fmt's %<width>d.
func appendPadLeft(dst, digits []byte, width int) []byte {
	for n := len(digits); n < width; n++ {
		dst = append(dst, ' ')
	}
	return append(dst, digits...)
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

package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// Document is the whole report: what -o json prints, and what text and NDJSON render.
type Document struct {
	Summary  Summary            `json:"summary"`
	Findings []analyzer.Finding `json:"findings"`
	// Incidents: the findings grouped by the event they describe (incident.go).
	Incidents []Incident `json:"incidents"`
	// IncidentsOmitted: the incidents past Incidents that a collector bounded to
	// the ones the text report lists only counted (IncidentCollector.Limit).
	IncidentsOmitted int                   `json:"-"`
	Connections      []analyzer.Connection `json:"connections"`
	// Error names where reading stopped on a damaged input (the report covers what
	// was read before it).
	Error string `json:"error,omitempty"`
	// Overview: the summary per server endpoint and client address the text report
	// opens with (overview.go); nil when the analysis did not collect it (live).
	Overview *Overview `json:"-"`
	// Export: with --export, where the connections with findings went (export.go).
	Export *ExportInfo `json:"export,omitempty"`
	// Evidence: with --export or --ladder and Records, what their second pass reads
	// of every finding and of the connections on a finding's 4-tuple
	// (EvidenceCollector, MergeEvidence); nil when Connections and Findings hold
	// them.
	Evidence *Document `json:"-"`
	// view: the netstat view and TIME_WAIT accounting, with --states.
	View *view `json:"-"`
	// Pictures: what --html draws from every incarnation (TIME_WAIT over time, the
	// netstat view), with or without --states.
	Pictures *Pictures `json:"-"`
	// records: the findings and connections, encoded for the output format, when
	// the analysis streamed them (spill.go) instead of Findings and Connections.
	// The document's writer reads them, once.
	Records *Records `json:"-"`
	// BaselineRecords: with --write-baseline and Records, the records encoded for
	// the -o json report the baseline file holds (WriteBaselineFile reads them).
	BaselineRecords *Records `json:"-"`
	// Compared: with --baseline and Records, what the comparison reads of every
	// finding (gate.Finding), in report order, kept as the analysis streamed them
	// (Findings does not hold them).
	Compared []*gate.Finding `json:"-"`
	// KindTotals: each finding kind's totals, summed as the analysis streamed the
	// findings (--fail-on with Records); nil when Findings holds them all.
	KindTotals map[analyzer.Kind]gate.KindTotal `json:"-"`
	// warnings: what the user should know that is not in the report (printed on
	// stderr).
	Warnings []string `json:"-"`
}

type Summary struct {
	Files    []string          `json:"files"`
	Filter   string            `json:"filter,omitempty"`
	Packets  uint64            `json:"packets"`
	Segments uint64            `json:"tcp_segments"`
	Skipped  map[string]uint64 `json:"skipped"`
	// BadTimestamps: frames whose timestamp was out of range (kept the one before).
	BadTimestamps uint64     `json:"bad_timestamps"`
	First         *time.Time `json:"first_packet,omitempty"`
	Last          *time.Time `json:"last_packet,omitempty"`
	// ClockStepsBack: the capture clock stepped back by more than a second (see
	// capture.Stats.StepsBack); absent when it never did.
	ClockStepsBack *clockSteps `json:"clock_steps_back,omitempty"`
	// Dropped: connections finack stopped following before they closed, to bound
	// its memory (--idle-timeout, --max-connections); absent when none.
	Dropped *Dropped `json:"dropped,omitempty"`
	// TimeWaitSeconds is the TIME_WAIT length the analysis used.
	TimeWaitSeconds float64                `json:"time_wait_s"`
	Connections     int                    `json:"connections"`
	Closes          map[analyzer.Shape]int `json:"closes"`
	FindingCounts   map[analyzer.Kind]int  `json:"findings"`
	// Warnings: what the reader could not do that changes what the report can
	// show (link types it does not decode); absent when none.
	Warnings []string `json:"warnings,omitempty"`
	// Live: a live capture's interface, libpcap drop counts and tracker figures
	// (live.go); absent for files. LiveHeader prints them in text, in place of the
	// "file" line.
	Live       json.RawMessage `json:"live,omitempty"`
	LiveHeader func(io.Writer) `json:"-"`
}

// clockSteps: how often the capture clock stepped back, the largest step and the
// frame after it.
type clockSteps struct {
	Count    uint64  `json:"count"`
	LargestS float64 `json:"largest_s"`
	Frame    uint64  `json:"frame"`
}

// Dropped counts the connections finished before their close: idle past the idle
// timeout, or evicted at the connection cap (the least recently active tenth).
type Dropped struct {
	Idle               uint64  `json:"idle"`
	IdleTimeoutSeconds float64 `json:"idle_timeout_s"`
	Evicted            uint64  `json:"evicted"`
	MaxConnections     int     `json:"max_connections"`
}

func DroppedOf(o Options, st reassembly.TrackerStats) *Dropped {
	if st.Idle == 0 && st.Evicted == 0 {
		return nil
	}
	return &Dropped{Idle: st.Idle, IdleTimeoutSeconds: o.IdleTimeout.Seconds(), Evicted: st.Evicted, MaxConnections: o.MaxConns}
}

func NewDocument(o Options, st capture.Stats, rep analyzer.Report, readErr error) Document {
	d := Document{
		Summary: Summary{
			Files: o.Files, Filter: o.Filter, Packets: st.Packets, Segments: st.Segments,
			BadTimestamps:   st.BadTimestamps,
			Skipped:         make(map[string]uint64),
			TimeWaitSeconds: o.TimeWait.Seconds(),
			Connections:     rep.Total,
			Closes:          rep.Closes, FindingCounts: rep.Counts,
		},
		Findings: rep.Findings, Connections: rep.Connections,
	}
	for i, n := range st.Skipped {
		d.Summary.Skipped[capture.SkipReason(i).String()] = n
	}
	if !st.First.IsZero() {
		f, l := st.First.UTC(), st.Last.UTC()
		d.Summary.First, d.Summary.Last = &f, &l
	}
	if st.StepsBack > 0 {
		d.Summary.ClockStepsBack = &clockSteps{Count: st.StepsBack, LargestS: st.LargestStepBack.Seconds(), Frame: st.LargestStepBackFrame}
	}
	if d.Findings == nil {
		d.Findings = []analyzer.Finding{}
	}
	if d.Connections == nil {
		d.Connections = []analyzer.Connection{}
	}
	d.Incidents = Incidents(d.Findings, o.IgnoreVLAN)
	if readErr != nil {
		d.Error = readErr.Error()
	}
	if w := capture.LinkTypeWarning(st); w != "" {
		d.Summary.Warnings = append(d.Summary.Warnings, w)
		d.Warnings = append(d.Warnings, "WARNING: "+w)
	}
	return d
}

// WriteJSON writes the document with the summary indented and one finding or
// connection per line: a person can read it, grep it and diff two of them line by
// line, and a large capture does not pay for indenting every field.
func WriteJSON(w io.Writer, d Document) error {
	defer func() { _ = d.Records.Close() }() // removes spill files only: the report is written
	// The caller's buffer when it has one: the records are copied once, not twice.
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 64<<10)
	}
	summary, err := json.MarshalIndent(d.Summary, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "{\n  \"summary\": %s,\n", EscapeControls(summary))
	if v := d.View; v != nil {
		states, err := json.MarshalIndent(v.States, "  ", "  ")
		if err != nil {
			return err
		}
		at, _ := json.Marshal(v.At)
		tw, err := json.MarshalIndent(v.TimeWait, "  ", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "  \"states_at\": %s,\n  \"states\": %s,\n  \"time_wait\": %s,\n", at, EscapeControls(states), EscapeControls(tw))
	}
	findings, connections := eachJSON(d.Findings, appendFindingJSON), eachJSON(d.Connections, appendConnectionJSON)
	incidents := eachJSON(d.Incidents, appendIncidentJSON)
	if d.Records != nil {
		findings, connections = d.Records.Findings, d.Records.Connections
		if d.Records.KeepsIncidents() {
			incidents = d.Records.Incidents
		}
	}
	if err := writeJSONArray(bw, "findings", findings, true); err != nil {
		return err
	}
	if err := writeJSONArray(bw, "incidents", incidents, true); err != nil {
		return err
	}
	if err := writeJSONArray(bw, "connections", connections, d.Error != "" || d.Export != nil); err != nil {
		return err
	}
	if d.Export != nil {
		if err := writeExportJSON(bw, d.Export); err != nil {
			return err
		}
		if d.Error != "" {
			bw.WriteString(",")
		}
		bw.WriteString("\n")
	}
	if d.Error != "" {
		e, _ := json.Marshal(d.Error)
		fmt.Fprintf(bw, "  \"error\": %s\n", EscapeControls(e))
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// writeJSONArray writes the items each hands out (eachJSON, or the records of a
// spilling analysis), one a line.
func writeJSONArray(w *bufio.Writer, name string, each func(func([]byte) error) error, comma bool) error {
	fmt.Fprintf(w, "  %q: [", name)
	n := 0
	err := each(func(item []byte) error {
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		w.WriteString("\n    ")
		_, err := w.Write(item)
		return err
	})
	if err != nil {
		return err
	}
	if n > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("]")
	if comma {
		w.WriteString(",")
	}
	w.WriteString("\n")
	return nil
}

// EncodeConnections writes one NDJSON record per connection (appendConnectionJSON
// and the "type" of ndjsonConnection, through enc: a json.RawMessage is written as
// it is, compact JSON being left unchanged).
func EncodeConnections(enc *json.Encoder, conns []analyzer.Connection) error {
	var b []byte
	var err error
	for i := range conns {
		if b, err = appendConnectionNDJSON(b[:0], &conns[i]); err != nil {
			return err
		}
		if err := enc.Encode(json.RawMessage(b[:len(b)-1])); err != nil {
			return err
		}
	}
	return nil
}

// WriteNDJSON writes one record per line: every connection, then every finding,
// then every incident, then the summary; each record says what it is in "type".
func WriteNDJSON(w io.Writer, d Document) error {
	defer func() { _ = d.Records.Close() }() // removes spill files only: the report is written
	enc := NewJSONEncoder(w)
	if r := d.Records; r != nil {
		// Each record is its line already (reportEncoder).
		line := func(b []byte) error { _, err := w.Write(b); return err }
		if err := r.Connections(line); err != nil {
			return err
		}
		if err := r.Findings(line); err != nil {
			return err
		}
	}
	if err := EncodeConnections(enc, d.Connections); err != nil {
		return err
	}
	var b []byte
	var err error
	for i := range d.Findings {
		if d.Records != nil {
			break // written above (a run that keeps them for --baseline streams them too)
		}
		if b, err = appendFindingNDJSON(b[:0], &d.Findings[i]); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	for i := range d.Incidents {
		if d.Records.KeepsIncidents() {
			break // the same incidents, written below (--html keeps them for its page)
		}
		if b, err = AppendIncidentNDJSON(b[:0], &d.Incidents[i]); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if r := d.Records; r.KeepsIncidents() {
		if err := r.Incidents(func(b []byte) error { _, err := w.Write(b); return err }); err != nil {
			return err
		}
	}
	if d.Export != nil {
		if err := enc.Encode(struct {
			Type string `json:"type"`
			*ExportInfo
		}{"export", d.Export}); err != nil {
			return err
		}
	}
	return enc.Encode(struct {
		Type  string `json:"type"`
		Error string `json:"error,omitempty"`
		*Summary
	}{"summary", d.Error, &d.Summary})
}

// WriteText renders the report for a person: a header with the counts, a summary
// per server endpoint and client address, the incidents (bounded by maxFindings, 0:
// all), the --states view, and with connections every connection.
func WriteText(w io.Writer, d Document, connections bool, maxFindings int) error {
	defer func() { _ = d.Records.Close() }() // removes spill files only: the report is written
	s := d.Summary
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	if s.LiveHeader != nil {
		s.LiveHeader(w)
	} else {
		p("file         %s\n", printableList(s.Files))
	}
	if d.Error != "" {
		if s.Packets > 0 {
			p("error        %s: the report covers the %d frames read before it\n", d.Error, s.Packets)
		} else {
			p("error        %s\n", d.Error)
		}
	}
	if s.Filter != "" {
		p("filter       %s\n", s.Filter)
	}
	p("packets      %d (%d TCP segments%s)\n", s.Packets, s.Segments, skippedText(s.Skipped))
	if s.BadTimestamps > 0 {
		p("warning      %d frames had timestamps out of range (before 1824 or after 2115); each kept the timestamp of the frame before it\n", s.BadTimestamps)
	}
	for _, w := range s.Warnings {
		p("warning      %s\n", w)
	}
	if s.First != nil {
		p("time         %s to %s (%s)\n", s.First.Format(time.RFC3339Nano), s.Last.Format(time.RFC3339Nano), s.Last.Sub(*s.First))
	}
	if c := s.ClockStepsBack; c != nil {
		p("warning      the capture clock stepped back %d time(s), by up to %s (frame %d): durations across a step are not meaningful\n",
			c.Count, time.Duration(c.LargestS*float64(time.Second)).Round(time.Millisecond), c.Frame)
	}
	p("connections  %d TCP (TIME_WAIT length %s)\n", s.Connections, time.Duration(s.TimeWaitSeconds*float64(time.Second)))
	if x := s.Dropped; x != nil {
		idle := fmt.Sprintf("%d idle past --idle-timeout %s", x.Idle, time.Duration(x.IdleTimeoutSeconds*float64(time.Second)))
		if x.IdleTimeoutSeconds == 0 {
			idle = "" // no idle timeout: none idle
		}
		evicted := fmt.Sprintf("%d evicted at --max-connections %d", x.Evicted, x.MaxConnections)
		p("dropped      %s: finished before they closed\n", strings.Trim(idle+", "+evicted, ", "))
	}
	p("closes       %s\n", CountsText(analyzer.Shapes, s.Closes))
	p("findings     %s\n", CountsText(analyzer.Kinds, s.FindingCounts))
	if ov := d.Overview; ov != nil && s.Connections > 0 {
		writeParties(w, "server endpoints", ov.Servers, false)
		writeParties(w, "client addresses", ov.Clients, true)
	}
	writeIncidentsText(w, d, maxFindings)
	if d.View != nil {
		writeViewText(w, *d.View)
	}
	// The connection lines: from the document, or the records of a spilling analysis
	// (encoded by the same function).
	var b []byte
	write := func(line []byte) error { _, err := w.Write(line); return err }
	conns := len(d.Connections)
	eachConnection := func(fn func([]byte) error) error {
		for i := range d.Connections {
			b = appendConnectionText(b[:0], &d.Connections[i])
			if err := fn(b); err != nil {
				return err
			}
		}
		return nil
	}
	if r := d.Records; r != nil {
		conns = r.NumConnections()
		eachConnection = r.Connections
	}
	if connections && conns > 0 {
		p("\nconnections (first frame, client → server #incarnation, close, active closer, TIME_WAIT)\n")
		if err := eachConnection(write); err != nil {
			return err
		}
	}
	return nil
}

// partyLimit: the server endpoints and client addresses the summary lists.
const partyLimit = 10

// writeParties lists the first partyLimit parties, two lines each.
func writeParties(w io.Writer, title string, ps []Party, clients bool) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s (%d; most findings first, then most connections)\n", title, len(ps))
	for i, pt := range ps {
		if i == partyLimit {
			fmt.Fprintf(w, "  ... and %d more\n", len(ps)-partyLimit)
			break
		}
		var by []string
		for _, who := range []string{"server", "client", "both"} {
			if n := pt.ClosedBy[who]; n > 0 {
				by = append(by, fmt.Sprintf("%s %d", who, n))
			}
		}
		first := "no completed close"
		if len(by) > 0 {
			first = "first FIN from " + strings.Join(by, ", ")
		}
		conns := "connections"
		if pt.Connections == 1 {
			conns = "connection"
		}
		fmt.Fprintf(w, "  %-22s %d %s; %s; closes %s\n", pt.Name, pt.Connections, conns, first, CountsText(analyzer.Shapes, pt.Closes))
		line := "findings " + CountsText(analyzer.Kinds, pt.Findings)
		if pt.TimeWaitPeak > 0 {
			line += fmt.Sprintf("; TIME_WAIT on %s: peak %d at %s", pt.Host, pt.TimeWaitPeak, pt.TimeWaitPeakAt.Format(time.RFC3339Nano))
		} else {
			line += fmt.Sprintf("; TIME_WAIT on %s: none", pt.Host)
		}
		if clients && pt.PortsPeak > 0 {
			line += fmt.Sprintf("; ports peak %d towards %s at %s", pt.PortsPeak, pt.PortsServer, pt.PortsPeakAt.Format(time.RFC3339Nano))
		}
		fmt.Fprintf(w, "      %s\n", line)
	}
}

// writeIncidentsText lists the incidents but the safe, accepted reuses (counted per
// server endpoint and verdict), the first maxFindings of them (0: all).
func writeIncidentsText(w io.Writer, d Document, maxFindings int) {
	var listed []*Incident
	reuses := map[reuseKey]int{}
	for i := range d.Incidents {
		in := &d.Incidents[i]
		if SafeAccepted(in.Kind, in.Verdict, in.Outcome) {
			reuses[reuseKey{in.Server, in.Verdict}]++
			continue
		}
		listed = append(listed, in)
	}
	var counted []SafeReuses
	if d.Overview != nil {
		counted = d.Overview.Reuses
	} else {
		for k, n := range reuses {
			counted = append(counted, k.counted(n))
		}
		sort.Slice(counted, func(i, j int) bool {
			if counted[i].Server != counted[j].Server {
				return counted[i].Server < counted[j].Server
			}
			return counted[i].Verdict < counted[j].Verdict
		})
	}
	if len(listed)+d.IncidentsOmitted == 0 && len(counted) == 0 {
		return
	}
	total := 0
	for _, c := range counted {
		total += c.Count
	}
	all := len(listed) + d.IncidentsOmitted
	fmt.Fprintf(w, "\nincidents (%d", all)
	if total > 0 {
		fmt.Fprintf(w, ", and %d safe accepted reuses counted below", total)
	}
	fmt.Fprintf(w, "; each with a Wireshark display filter)\n")
	for i, c := range counted {
		if i == partyLimit {
			fmt.Fprintf(w, "  ... and %d more server endpoints with safe accepted reuses\n", len(counted)-partyLimit)
			break
		}
		fmt.Fprintf(w, "  reuse of a 4-tuple in TIME_WAIT, safe and accepted: %s %d %s\n", c.Server, c.Count, strings.ReplaceAll(c.Verdict, "_", " "))
	}
	if maxFindings > 0 && len(listed) > maxFindings {
		listed = listed[:maxFindings]
	}
	for _, in := range listed {
		kinds := ""
		if len(in.Findings) > 1 {
			rest := make([]string, len(in.Findings)-1)
			for j, k := range in.Findings[1:] {
				rest[j] = string(k)
			}
			kinds = " (+ " + strings.Join(rest, ", ") + ")"
		}
		place := analyzer.PlaceText(in.VLAN, in.Tunnel)
		frames := fmt.Sprintf("frame %d", in.FirstFrame)
		if in.LastFrame != in.FirstFrame {
			frames = fmt.Sprintf("frames %d-%d", in.FirstFrame, in.LastFrame)
		}
		fmt.Fprintf(w, "  %s%s  %s → %s #%d%s  %s  %s\n", in.Kind, kinds, analyzer.EndpointString(in.Client), analyzer.EndpointString(in.Server), in.Incarnation, place, frames, in.Time.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "      %s\n", in.Summary)
		fmt.Fprintf(w, "      wireshark: %s\n", in.Filter)
	}
	if maxFindings > 0 && all > maxFindings {
		fmt.Fprintf(w, "  ... and %d more: -o json has every one, --max-findings 0 lists them all\n", all-maxFindings)
	}
}

// appendFinText shows each end's FIN and what acknowledged it: "  FIN c 8→9 +0.1ms"
// (fmt's "  FIN %s %d" and "→%d +%gms").
func appendFinText(b []byte, f analyzer.FinPair) []byte {
	for _, e := range [2]struct {
		who string
		fa  *analyzer.FinAck
	}{{"c", f.Client}, {"s", f.Server}} {
		if e.fa == nil {
			continue
		}
		b = append(b, "  FIN "...)
		b = append(b, e.who...)
		b = append(b, ' ')
		b = analyzer.AppendUint(b, e.fa.Frame)
		if e.fa.AckedBy != 0 {
			b = append(b, "→"...)
			b = analyzer.AppendUint(b, e.fa.AckedBy)
			b = append(b, " +"...)
			b = strconv.AppendFloat(b, *e.fa.AckedAfterMS, 'g', -1, 64) // %g
			b = append(b, "ms"...)
		} else {
			b = append(b, "→unacked"...)
		}
	}
	return b
}

func skippedText(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("; skipped:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %d", k, m[k])
	}
	return b.String()
}

func CountsText[K ~string](order []K, m map[K]int) string {
	var b strings.Builder
	for _, k := range order {
		if m[k] > 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", k, m[k])
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

func FramesText(frames []uint64) string { return string(appendFrames(nil, frames)) }

// appendFrames appends the frame numbers, comma separated.
func appendFrames(b []byte, frames []uint64) []byte {
	for i, f := range frames {
		if i > 0 {
			b = append(b, ',')
		}
		b = analyzer.AppendUint(b, f)
	}
	return b
}

// AppendIncidentNDJSON appends the NDJSON record of one incident, with its newline:
// the incident as -o json's incidents[] holds it, "type":"incident" first.
func AppendIncidentNDJSON(b []byte, in *Incident) ([]byte, error) {
	n := len(b)
	b, ok := appendIncidentFields(append(b, `{"type":"incident",`...), in)
	if ok {
		return append(b, '}', '\n'), nil
	}
	b, err := appendIncidentJSON(b[:n+len(`{"type":"incident",`)], in)
	if err != nil {
		return b[:n], err
	}
	// appendIncidentJSON wrote an object: drop its '{', after the type's comma.
	i := n + len(`{"type":"incident",`)
	b = append(b[:i], b[i+1:]...)
	return append(b, '\n'), nil
}

// appendIncidentJSON encodes one incident, compact, "&&" of its filter as it is
// (as the records of jsonrec.go: encoding/json's bytes, written by hand).
func appendIncidentJSON(b []byte, in *Incident) ([]byte, error) {
	n := len(b)
	b, ok := appendIncidentFields(append(b, '{'), in)
	if !ok {
		return appendJSONReference(b[:n], in, false)
	}
	return append(b, '}'), nil
}

// appendIncidentFields appends the members of in, without braces. ok is false when
// a value is one encoding/json refuses.
func appendIncidentFields(b []byte, in *Incident) (_ []byte, ok bool) {
	ok = true
	b = append(b, `"kind":`...)
	b = appendJSONString(b, string(in.Kind))
	b = append(b, `,"findings":`...)
	if in.Findings == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, k := range in.Findings {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(k))
		}
		b = append(b, ']')
	}
	b = append(b, `,"client":`...)
	b = appendJSONEndpoint(b, in.Client)
	b = append(b, `,"server":`...)
	b = appendJSONEndpoint(b, in.Server)
	b = appendJSONVLAN(b, `,"vlan":[`, in.VLAN)
	b = appendJSONTunnel(b, in.Tunnel)
	b = append(b, `,"incarnation":`...)
	b = analyzer.AppendInt(b, int64(in.Incarnation))
	b = append(b, `,"time":`...)
	b, ok = appendJSONTime(b, in.Time, ok)
	b = append(b, `,"first_frame":`...)
	b = analyzer.AppendUint(b, in.FirstFrame)
	b = append(b, `,"last_frame":`...)
	b = analyzer.AppendUint(b, in.LastFrame)
	if in.Sender != "" {
		b = append(b, `,"sender":`...)
		b = appendJSONString(b, in.Sender)
	}
	if in.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = appendJSONString(b, string(in.Outcome))
	}
	if in.Verdict != "" {
		b = append(b, `,"verdict":`...)
		b = appendJSONString(b, string(in.Verdict))
	}
	b = append(b, `,"summary":`...)
	b = appendJSONString(b, in.Summary)
	b = append(b, `,"filter":`...)
	b = appendJSONString(b, in.Filter)
	return b, ok
}

package gate

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
)

// A baseline is a saved -o json report (one capture, or several from --separate).
// Only the findings are compared, by kind: a kind is worse when its total (as
// --fail-on counts it) or its number of findings is above the baseline's by more
// than the kind's tolerance. Findings are matched to the baseline's by connection
// only to name them in the diff: a re-recorded capture gets new ephemeral ports,
// and should compare equal when the same things went wrong.
//
// Nothing machine- or run-dependent takes part: captures are matched by name (see
// captureNames), not by the paths as given, and timestamps come from the capture.

// savedReport is what a baseline needs from one capture's report. Unknown fields are
// ignored, so reports of older and newer finack versions load.
type savedReport struct {
	Summary  savedSummary `json:"summary"`
	Findings []Finding    `json:"-"` // (read by savedDoc.field)
	Error    string       `json:"error"`
}

// savedSummary is what the checks read of a saved report's summary.
type savedSummary struct {
	Files           []string `json:"files"`
	Filter          string   `json:"filter"`
	TimeWaitSeconds float64  `json:"time_wait_s"`
	// Findings: the findings of each kind, which come after the summary; read
	// only as a hint of how many to make room for (findingsHint).
	Findings json.RawMessage `json:"findings"`
}

// findingsHint is how many findings the summary s says its report lists, for the
// room to make for them: at most maxFindingsHint, 0 when it does not say (the
// summary is input, and only a hint: the findings are appended as they come).
func (s *savedSummary) findingsHint() int {
	var counts map[string]float64
	if json.Unmarshal(s.Findings, &counts) != nil {
		return 0
	}
	n := 0.0
	for _, v := range counts {
		if v > 0 {
			n += v
		}
	}
	return int(min(n, maxFindingsHint))
}

const maxFindingsHint = 1 << 20

// Baseline is one capture's saved report and where it came from.
type Baseline struct {
	name   string // capture name, matched against the run's
	file   string // the baseline file, for messages
	report savedReport
}

// LoadBaselines reads every --baseline argument (a file or a glob pattern) and
// returns the captures they hold. Errors name the flag and the file.
func LoadBaselines(args []string) ([]Baseline, error) {
	files, err := capture.ExpandPatterns("--baseline", args)
	if err != nil {
		return nil, err
	}
	var out []Baseline
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--baseline: %w", err)
		}
		reports, err := readSaved(bufio.NewReaderSize(f, 256<<10))
		_ = f.Close() // read-only: reading told every error that matters
		if err != nil {
			return nil, fmt.Errorf("--baseline: %s: %w", file, err)
		}
		var sets [][]string
		for _, r := range reports {
			sets = append(sets, r.Summary.Files)
		}
		for i, name := range capture.Names(sets) {
			out = append(out, Baseline{name: name, file: file, report: reports[i]})
		}
	}
	return out, nil
}

// readSaved reads a saved report: the two shapes finack writes, one capture's
// document or the --separate document with "captures". It keeps what the checks
// read (the summary's files, filter and TIME_WAIT, the findings, the error) and
// reads past the rest (connections, incidents) unkept (jsonScanner): a report of a
// large capture is not held whole in memory.
func readSaved(r io.Reader) ([]savedReport, error) {
	sc := newJSONScanner(r)
	intern := map[string]string{}
	doc := savedDoc{intern: intern}
	err := sc.readObject(func(key string) error {
		// (Keys match their fields whatever their case, as encoding/json matches
		// them.)
		switch {
		case strings.EqualFold(key, "captures"):
			doc.captures = []savedReport{}
			null, err := sc.readArray(func() error {
				c := savedDoc{intern: intern}
				if err := sc.readObject(c.field(sc)); err != nil {
					return err
				}
				doc.captures = append(doc.captures, c.report)
				return nil
			})
			doc.hasCaptures = !null // (null: as if absent, as decoding into a slice has it)
			return err
		}
		return doc.field(sc)(key)
	})
	if err == nil {
		err = sc.atEnd()
	}
	if err != nil {
		return nil, fmt.Errorf("not a finack -o json report: %w", err)
	}
	var out []savedReport
	switch {
	case doc.hasCaptures:
		out = doc.captures
	case doc.hasSummary:
		out = []savedReport{doc.report}
	default:
		return nil, errors.New("not a finack -o json report: no \"summary\" or \"captures\"")
	}
	if err := checkSaved(out); err != nil {
		return nil, fmt.Errorf("not a finack -o json report: %w", err)
	}
	return out, nil
}

// checkSaved refuses a saved capture's report that names no file or holds a
// finding without a kind.
func checkSaved(reports []savedReport) error {
	for i := range reports {
		if len(reports[i].Summary.Files) == 0 {
			return errors.New("a capture without summary.files")
		}
		for _, f := range reports[i].Findings {
			if f.Kind == "" {
				return errors.New("a finding without kind")
			}
		}
	}
	return nil
}

// savedFinding is what the checks read of a saved finding (Finding): decoded
// without the rest (its message,
// time and evidence), which is read past.
type savedFinding struct {
	Kind        analyzer.Kind    `json:"kind"`
	Client      netip.AddrPort   `json:"client"`
	Server      netip.AddrPort   `json:"server"`
	VLAN        []uint16         `json:"vlan"`
	ServerVLAN  []uint16         `json:"server_vlan"`
	Tunnel      string           `json:"tunnel"`
	Incarnation int              `json:"incarnation"`
	Frames      []uint64         `json:"frames"`
	Count       *uint64          `json:"count"`
	Outcome     analyzer.Outcome `json:"outcome"`
	Verdict     analyzer.Verdict `json:"verdict"`
	Sender      string           `json:"sender"`
	Cause       analyzer.Cause   `json:"cause"`
}

// finding is what a comparison reads of f (its strings, interned as decoded, kept).
func (f *savedFinding) finding() Finding {
	return findingOf(&analyzer.Finding{Kind: f.Kind, Client: f.Client, Server: f.Server, VLAN: f.VLAN, ServerVLAN: f.ServerVLAN,
		Tunnel: f.Tunnel, Incarnation: f.Incarnation, Frames: f.Frames, Count: f.Count, Outcome: f.Outcome,
		Verdict: f.Verdict, Sender: f.Sender, Cause: f.Cause})
}

// savedDoc is a saved document as readSaved reads it.
type savedDoc struct {
	report      savedReport
	hasSummary  bool
	captures    []savedReport
	hasCaptures bool
	// intern: the strings of the findings decoded (decodeSavedFinding).
	intern map[string]string
}

// field reads the value of one key of a capture's document into d; what the checks
// do not read is read past.
func (d *savedDoc) field(sc *jsonScanner) func(key string) error {
	return func(key string) error {
		switch {
		case strings.EqualFold(key, "summary"):
			d.hasSummary = true
			d.report.Summary = savedSummary{}
			return sc.decode(&d.report.Summary)
		case strings.EqualFold(key, "error"):
			d.report.Error = ""
			return sc.decode(&d.report.Error)
		case strings.EqualFold(key, "findings"):
			// Room for what the summary (before) counts: a slice grown by append
			// copies its findings about twice over, to memory faulted in each
			// time.
			d.report.Findings = nil
			hint := d.report.Summary.findingsHint()
			null, err := sc.readArray(func() error {
				if d.report.Findings == nil {
					d.report.Findings = make([]Finding, 0, hint)
				}
				var f savedFinding
				raw, err := sc.rawValue()
				if err == nil && !decodeSavedFinding(raw, &f, d.intern) {
					f = savedFinding{}
					err = json.Unmarshal(raw, &f)
				}
				d.report.Findings = append(d.report.Findings, f.finding())
				return err
			})
			if !null && d.report.Findings == nil {
				d.report.Findings = []Finding{} // [] (as decoding it whole gives)
			}
			return err
		}
		return sc.skip()
	}
}

// Tolerance is how far a kind may grow over its baseline before the run fails.
type Tolerance struct {
	n       uint64
	percent bool // n is a percentage of the baseline's value (rounded down)
}

func (t Tolerance) String() string {
	if t.percent {
		return fmt.Sprintf("+%d%%", t.n)
	}
	return fmt.Sprintf("+%d", t.n)
}

// allowed is the growth tolerated over a baseline value.
func (t Tolerance) allowed(base uint64) uint64 {
	if t.percent {
		return base * t.n / 100
	}
	return t.n
}

// ParseTolerances parses --tolerance terms "KIND+N" or "KIND+N%"; "any+N" sets the
// tolerance of every kind not named. The default is +0.
func ParseTolerances(terms []string) (map[analyzer.Kind]Tolerance, error) {
	m := make(map[analyzer.Kind]Tolerance)
	var anyTol *Tolerance
	named := map[analyzer.Kind]bool{}
	for _, term := range terms {
		term = strings.TrimSpace(term)
		name, num, ok := strings.Cut(term, "+")
		if !ok {
			return nil, fmt.Errorf("--tolerance: %q: want KIND+N or KIND+N%% (e.g. fin_retransmit+2)", term)
		}
		var t Tolerance
		if s, cut := strings.CutSuffix(num, "%"); cut {
			num, t.percent = s, true
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--tolerance: %q: want KIND+N or KIND+N%% with N a whole number", term)
		}
		t.n = n
		if name == "any" {
			anyTol = &t
			continue
		}
		if !knownKind(name) {
			return nil, fmt.Errorf("--tolerance: unknown finding kind %q (want any or one of %s)", name, KindList())
		}
		m[analyzer.Kind(name)] = t
		named[analyzer.Kind(name)] = true
	}
	if anyTol != nil {
		for _, k := range analyzer.Kinds {
			if !named[k] {
				m[k] = *anyTol
			}
		}
	}
	return m, nil
}

// KindDiff is one kind's comparison with the baseline.
type KindDiff struct {
	kind     analyzer.Kind
	Was, Now KindTotal
	Tol      Tolerance
	worse    bool
	Lines    []string // the findings that differ, naming their connections
}

func (d KindDiff) better() bool {
	return !d.worse && (d.Now.Total < d.Was.Total || d.Now.Findings < d.Was.Findings)
}

// Comparison is one capture's comparison with its baseline.
type Comparison struct {
	capture string
	File    string // the baseline file; "" when the capture has none
	notes   []string
	kinds   []KindDiff // kinds whose totals or findings changed, in report order
}

// Worse reports whether some kind got worse.
func (c *Comparison) Worse() bool {
	for _, k := range c.kinds {
		if k.worse {
			return true
		}
	}
	return false
}

func (c *Comparison) WorseKinds() map[analyzer.Kind]*KindDiff {
	m := map[analyzer.Kind]*KindDiff{}
	for i := range c.kinds {
		if c.kinds[i].worse {
			m[c.kinds[i].kind] = &c.kinds[i]
		}
	}
	return m
}

// Run is what a comparison needs from this run's report of a capture: the
// settings the baseline's notes compare, and the findings (FindingsOf, or kept as
// the analysis handed them out: FindingList, MergeFindings), in report order.
type Run struct {
	Filter          string
	TimeWaitSeconds float64
	Findings        []*Finding
}

// CompareBaseline compares a capture's findings with its baseline (nil: none, so
// every finding is new).
func CompareBaseline(name string, run Run, base *Baseline, tols map[analyzer.Kind]Tolerance) Comparison {
	c := Comparison{capture: name}
	var old []*Finding
	if base == nil {
		c.notes = append(c.notes, "no baseline for this capture: every finding is new (record one with --write-baseline)")
	} else {
		c.File = base.file
		old = make([]*Finding, len(base.report.Findings))
		for i := range old {
			old[i] = &base.report.Findings[i]
		}
		s := base.report.Summary
		if s.Filter != run.Filter {
			c.notes = append(c.notes, fmt.Sprintf("the baseline was made with filter %q, this run has %q", s.Filter, run.Filter))
		}
		if s.TimeWaitSeconds != 0 && s.TimeWaitSeconds != run.TimeWaitSeconds {
			c.notes = append(c.notes, fmt.Sprintf("the baseline was made with --time-wait %gs, this run %gs", s.TimeWaitSeconds, run.TimeWaitSeconds))
		}
		if base.report.Error != "" {
			c.notes = append(c.notes, "the baseline's capture was damaged: "+base.report.Error)
		}
	}
	was, now := totalsOf(old), totalsOf(run.Findings)
	olds, curs, counted := map[analyzer.Kind][]*Finding{}, map[analyzer.Kind][]*Finding{}, map[analyzer.Kind]bool{}
	byKind(old, olds, counted)
	byKind(run.Findings, curs, counted)
	for _, k := range analyzer.Kinds {
		w, n := was[k], now[k]
		lines := changes(olds[k], curs[k], counted[k])
		if w.Findings == n.Findings && w.Total == n.Total && len(lines) == 0 {
			continue
		}
		t := tols[k]
		d := KindDiff{kind: k, Was: w, Now: n, Tol: t, Lines: lines}
		d.worse = n.Total > w.Total+t.allowed(w.Total) ||
			uint64(n.Findings) > uint64(w.Findings)+t.allowed(uint64(w.Findings))
		c.kinds = append(c.kinds, d)
	}
	return c
}

// sideID is a finding's connection and side, to pair it with the baseline's.
type sideID struct {
	conn   analyzer.ConnID
	sender string
}

func findingKey(f *Finding) sideID { return sideID{f.ID, f.Sender} }

// looseKey is findingKey without the client's port: a re-recorded capture gives the
// same connection another ephemeral port.
func looseKey(f *Finding) sideID {
	k := findingKey(f)
	k.conn.Client = netip.AddrPortFrom(k.conn.Client.Addr(), 0)
	return k
}

// FindingChanges lists the findings of kind k that appeared (+), went away (-) or
// changed their count (~), by connection. Findings are paired by connection and
// side first, then those left over by the same with any client port, so a
// re-recorded capture shows "~ ... (was port P)" rather than a + and a -.
func FindingChanges(k analyzer.Kind, old, cur []analyzer.Finding) []string {
	olds, curs, counted := map[analyzer.Kind][]*Finding{}, map[analyzer.Kind][]*Finding{}, map[analyzer.Kind]bool{}
	byKind(FindingsOf(old), olds, counted)
	byKind(FindingsOf(cur), curs, counted)
	return changes(olds[k], curs[k], counted[k])
}

// changes is FindingChanges of what a comparison keeps of the findings: olds and
// curs those of one kind, counted whether one of them carries a count.
func changes(olds, curs []*Finding, counted bool) []string {
	pair := make([]int, len(curs)) // index into olds, or -1
	for i := range pair {
		pair[i] = -1
	}
	taken := make([]bool, len(olds))
	// next: per old finding, the next one of its key not taken (-1: none), in
	// the list of each key that first begins.
	next := make([]int, len(olds))
	for _, key := range []func(*Finding) sideID{findingKey, looseKey} {
		// Each current finding takes the first old one of its key not yet taken:
		// the old ones of each key in order, each list read from the front.
		first := make(map[sideID]int, len(olds))
		for j := len(olds) - 1; j >= 0; j-- {
			if !taken[j] {
				k := key(olds[j])
				n, ok := first[k]
				if !ok {
					n = -1
				}
				next[j], first[k] = n, j
			}
		}
		if len(first) == 0 {
			break // every old one taken
		}
		for i, c := range curs {
			if pair[i] >= 0 {
				continue
			}
			k := key(c)
			if j, ok := first[k]; ok && j >= 0 {
				pair[i], taken[j] = j, true
				first[k] = next[j]
			}
		}
	}
	val := func(f *Finding) string {
		if counted {
			return fmt.Sprintf("  count %d", f.value())
		}
		return ""
	}
	at := func(f *Finding) string {
		if f.hasFrame {
			return fmt.Sprintf(" frame %d", f.frame)
		}
		return ""
	}
	var lines []string
	for i, c := range curs {
		if pair[i] < 0 {
			lines = append(lines, fmt.Sprintf("  + %s%s  new%s", c.text(), at(c), val(c)))
			continue
		}
		o := olds[pair[i]]
		was := ""
		if o.ID.Client != c.ID.Client {
			was = "  (was " + analyzer.EndpointString(o.ID.Client) + ")"
		}
		switch {
		case o.value() != c.value():
			lines = append(lines, fmt.Sprintf("  ~ %s%s  count %d → %d%s", c.text(), at(c), o.value(), c.value(), was))
		case was != "":
			lines = append(lines, fmt.Sprintf("  ~ %s%s%s%s", c.text(), at(c), val(c), was))
		}
	}
	for j, o := range olds {
		if !taken[j] {
			lines = append(lines, fmt.Sprintf("  - %s  gone%s", o.text(), val(o)))
		}
	}
	return lines
}

// byKind adds each finding to the list of its kind (in order), and notes the
// kinds of those that carry a count.
func byKind(fs []*Finding, into map[analyzer.Kind][]*Finding, counted map[analyzer.Kind]bool) {
	for _, f := range fs {
		into[f.Kind] = append(into[f.Kind], f)
		if f.hasCount {
			counted[f.Kind] = true
		}
	}
}

// maxDiffLines bounds the findings named per kind: the diff stays short.
const maxDiffLines = 8

// Text renders a comparison for stderr: worse kinds with the findings that
// differ, better kinds in one line each; nothing when nothing changed.
func (c *Comparison) Text() string {
	if len(c.kinds) == 0 && (c.File != "" || len(c.notes) == 0) {
		return ""
	}
	var b strings.Builder
	from := c.File
	if from == "" {
		from = "no baseline"
	}
	fmt.Fprintf(&b, "finack: baseline: %s (%s):\n", c.capture, from)
	for _, n := range c.notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	for _, d := range c.kinds {
		verdict := "changed, within tolerance " + d.Tol.String()
		switch {
		case d.worse:
			verdict = "WORSE (tolerance " + d.Tol.String() + ")"
		case d.better():
			verdict = "better: write the baseline again to keep it so"
		}
		fmt.Fprintf(&b, "  %s: %s → %s: %s\n", d.kind, TotalText(d.Was), TotalText(d.Now), verdict)
		if !d.worse {
			continue
		}
		for i, l := range d.Lines {
			if i == maxDiffLines {
				fmt.Fprintf(&b, "    … %d more\n", len(d.Lines)-i)
				break
			}
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}

func TotalText(t KindTotal) string {
	if uint64(t.Findings) == t.Total {
		return fmt.Sprintf("%d", t.Findings)
	}
	return fmt.Sprintf("%d (total %d)", t.Findings, t.Total)
}

// MatchBaselines pairs each capture of the run with its baseline: by name, except
// that one capture against one baseline capture pair up whatever their names (the
// file was renamed, or read from stdin).
func MatchBaselines(names []string, bases []Baseline) ([]*Baseline, []string) {
	out := make([]*Baseline, len(names))
	if len(names) == 1 && len(bases) == 1 {
		out[0] = &bases[0]
		return out, nil
	}
	byName := map[string]*Baseline{}
	for i := range bases {
		byName[bases[i].name] = &bases[i]
	}
	used := map[string]bool{}
	for i, n := range names {
		out[i] = byName[n]
		used[n] = true
	}
	var unused []string
	for _, b := range bases {
		if !used[b.name] {
			unused = append(unused, b.name+" ("+b.file+")")
		}
	}
	sort.Strings(unused)
	return out, unused
}

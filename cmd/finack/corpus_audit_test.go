package main

// TestCorpusAudit holds finack's findings on the public corpus to an audit made against
// the packets: testdata/corpus-audit.tsv lists every finding of the kinds below that
// finack makes on the corpus, each decided right or wrong from the capture, and the
// findings it should make and does not (missing). Its header describes the columns.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture/synth"
)

// auditedKinds are the finding kinds the audit covers: those about the end of a
// connection and the reuse of its 4-tuple that a wrong reading of the exchange turns
// into false alarms.
var auditedKinds = []analyzer.Kind{
	analyzer.MissingFinalAck, analyzer.FirstFinUnacked, analyzer.ReuseIn2MSL, analyzer.ReuseRefused,
	analyzer.StaleSegment, analyzer.LateInTimeWait, analyzer.RstInTimeWait,
}

const auditFile = "testdata/corpus-audit.tsv"

// Audit verdicts.
const (
	auditRight   = "right"
	auditWrong   = "wrong"
	auditMissing = "missing"
)

// auditKey names one finding: its capture, its kind, its 4-tuple (the two ends in
// sorted order, so a change of who counts as client leaves it alone) and the first
// frame of its evidence. Messages, counts and incarnation numbers may change without
// the finding becoming another one.
type auditKey struct {
	Path, Kind string
	A, B       string
	Frame      uint64
}

func newAuditKey(path, kind, end1, end2 string, frame uint64) auditKey {
	if end2 < end1 {
		end1, end2 = end2, end1
	}
	return auditKey{Path: path, Kind: kind, A: end1, B: end2, Frame: frame}
}

func (k auditKey) String() string {
	return fmt.Sprintf("%s: %s %s %s frame %d", k.Path, k.Kind, k.A, k.B, k.Frame)
}

// auditRow is one line of the audit table.
type auditRow struct {
	Line    int
	Key     auditKey
	Verdict string
	Item    string // issue item explaining a wrong or missing row
	Rule    string
	Reason  string
}

func (r auditRow) String() string {
	return fmt.Sprintf("%v (%s:%d): %s", r.Key, auditFile, r.Line, r.Reason)
}

// readAudit reads the audit table and checks each row's form.
func readAudit(t *testing.T) []auditRow {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(auditFile))
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, f)
	want := []string{"path", "kind", "client", "server", "frame", "verdict", "item", "rule", "reason"}
	var rows []auditRow
	header := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if !header {
			if !slices.Equal(fields, want) {
				t.Fatalf("%s:%d: header %q, want %q", auditFile, n, fields, want)
			}
			header = true
			continue
		}
		if len(fields) != len(want) {
			t.Fatalf("%s:%d: %d fields, want %d", auditFile, n, len(fields), len(want))
		}
		frame, err := strconv.ParseUint(fields[4], 10, 64)
		if err != nil || frame == 0 {
			t.Fatalf("%s:%d: frame %q is not a frame number", auditFile, n, fields[4])
		}
		r := auditRow{Line: n, Key: newAuditKey(fields[0], fields[1], fields[2], fields[3], frame),
			Verdict: fields[5], Item: fields[6], Rule: fields[7], Reason: fields[8]}
		if !slices.Contains(auditedKinds, analyzer.Kind(r.Key.Kind)) {
			t.Errorf("%s:%d: kind %q is not one the audit covers", auditFile, n, r.Key.Kind)
		}
		switch r.Verdict {
		case auditRight:
		case auditWrong, auditMissing:
			if _, err := strconv.Atoi(r.Item); err != nil || r.Rule == "" {
				t.Errorf("%s:%d: a %s row names the issue item (a number) and its rule", auditFile, n, r.Verdict)
			}
		default:
			t.Errorf("%s:%d: verdict %q: right, wrong or missing", auditFile, n, r.Verdict)
		}
		if r.Reason == "" {
			t.Errorf("%s:%d: no reason: say what the packets show", auditFile, n)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s holds no row", auditFile)
	}
	return rows
}

// auditFinding is the part of a finding the audit keys on.
type auditFinding struct {
	Kind   string   `json:"kind"`
	Client string   `json:"client"`
	Server string   `json:"server"`
	Frames []uint64 `json:"frames"`
}

// auditGroups collects rows under their issue item, to list them item by item.
type auditGroups map[string][]string

func (g auditGroups) add(r auditRow, what string) {
	k := fmt.Sprintf("item %s (%s)", r.Item, r.Rule)
	g[k] = append(g[k], what)
}

func (g auditGroups) report(t *testing.T, head string) {
	t.Helper()
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	byItem := func(a, b string) int {
		na, _ := strconv.Atoi(strings.Fields(a)[1])
		nb, _ := strconv.Atoi(strings.Fields(b)[1])
		if na != nb {
			return na - nb
		}
		return strings.Compare(a, b)
	}
	slices.SortFunc(keys, byItem)
	for _, k := range keys {
		t.Errorf("%s, %s: %d\n\t%s", head, k, len(g[k]), strings.Join(g[k], "\n\t"))
	}
}

// TestCorpusAudit runs finack on every capture of the public corpus and compares its
// findings of the audited kinds with the audit table. It fails when finack makes a
// finding the table does not list (it has to be decided against its packets), still
// makes one the table says the packets contradict (wrong), does not make one the
// table says it should (missing), or no longer makes one the table found right (the
// change has to be checked against the packets, and the row updated).
func TestCorpusAudit(t *testing.T) {
	results := runCorpus(t)
	rows := readAudit(t)
	table := map[auditKey]auditRow{}
	for _, r := range rows {
		if prev, dup := table[r.Key]; dup {
			t.Errorf("%s:%d: %v already listed at line %d", auditFile, r.Line, r.Key, prev.Line)
		}
		table[r.Key] = r
	}
	paths := map[string]bool{}
	for _, res := range results {
		paths[res.Row.Path] = true
	}
	for _, r := range rows {
		if !paths[r.Key.Path] {
			t.Errorf("%s:%d: %s is not in the corpus's MANIFEST.tsv", auditFile, r.Line, r.Key.Path)
		}
	}

	got := map[auditKey]bool{}
	var fresh []string
	for _, res := range results {
		if res.Doc == nil {
			continue // no report: TestCorpusNoPanicNoHang says why
		}
		var doc struct {
			Findings []auditFinding `json:"findings"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &doc); err != nil {
			t.Fatalf("%s: %v", res.Row.Path, err)
		}
		for _, f := range doc.Findings {
			if !slices.Contains(auditedKinds, analyzer.Kind(f.Kind)) {
				continue
			}
			if len(f.Frames) == 0 {
				t.Errorf("%s: %s %s %s: a finding without frames cannot be audited", res.Row.Path, f.Kind, f.Client, f.Server)
				continue
			}
			k := newAuditKey(res.Row.Path, f.Kind, f.Client, f.Server, f.Frames[0])
			got[k] = true
			if _, ok := table[k]; !ok {
				fresh = append(fresh, fmt.Sprintf("%s\t%s\t%s\t%s\t%d (frames %v)", k.Path, f.Kind, f.Client, f.Server, f.Frames[0], f.Frames))
			}
		}
	}

	wrong, missing := auditGroups{}, auditGroups{}
	var gone []string
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.Verdict]++
		switch {
		case r.Verdict == auditWrong && got[r.Key]:
			wrong.add(r, r.String())
		case r.Verdict == auditMissing && !got[r.Key]:
			missing.add(r, r.String())
		case r.Verdict == auditRight && !got[r.Key]:
			gone = append(gone, r.String())
		}
	}
	if len(fresh) > 0 {
		t.Errorf("%d new finding(s), not in %s: decide each against its packets and add it:\n\t%s",
			len(fresh), auditFile, strings.Join(fresh, "\n\t"))
	}
	wrong.report(t, "findings the packets contradict, still reported")
	missing.report(t, "findings the packets call for, not reported")
	if len(gone) > 0 {
		t.Errorf("%d finding(s) the audit found right are no longer reported (or their first frame moved): check each against its packets and update its row:\n\t%s",
			len(gone), strings.Join(gone, "\n\t"))
	}
	t.Logf("%s: %d rows (%d right, %d wrong, %d missing); finack made %d findings of the audited kinds",
		auditFile, len(rows), counts[auditRight], counts[auditWrong], counts[auditMissing], len(got))
}

package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/finack/finack/analyzer"
)

func TestParseTolerances(t *testing.T) {
	m, err := ParseTolerances([]string{"fin_retransmit+2", "any+10%", "reuse_in_2msl+0"})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[analyzer.Kind]uint64{analyzer.FinRetransmit: 2, analyzer.MissingFinalAck: 3, analyzer.ReuseIn2MSL: 0} {
		if got := m[k].allowed(35); got != want {
			t.Errorf("%s: allowed %d over 35, want %d", k, got, want)
		}
	}
}

// TestFindingChanges pairs findings with the baseline's: by connection and side,
// then by the same with another client port; the rest are new or gone.
func TestFindingChanges(t *testing.T) {
	n := func(v uint64) *uint64 { return &v }
	f := func(client string, inc int, sender string, count uint64, frame uint64) analyzer.Finding {
		return analyzer.Finding{Kind: analyzer.FinRetransmit, Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort("10.0.0.2:80"), Incarnation: inc,
			Sender: sender, Count: n(count), Frames: []uint64{frame}}
	}
	old := []analyzer.Finding{
		f("10.0.0.1:1000", 1, "server", 2, 10), // same, count 2 → 3
		f("10.0.0.1:2000", 1, "client", 1, 20), // port 2000 → 3000
		f("10.0.0.1:4000", 1, "client", 1, 40), // gone
		f("10.0.0.1:5000", 1, "client", 1, 50), // unchanged
		{Kind: analyzer.ReuseIn2MSL, Client: netip.MustParseAddrPort("10.0.0.1:6000"), Server: netip.MustParseAddrPort("10.0.0.2:80"), Incarnation: 2, Frames: []uint64{60}},
	}
	cur := []analyzer.Finding{
		f("10.0.0.1:1000", 1, "server", 3, 11),
		f("10.0.0.1:3000", 1, "client", 1, 21),
		f("10.0.0.9:1000", 1, "server", 4, 90), // another host: new
		f("10.0.0.1:5000", 1, "client", 1, 50),
	}
	want := []string{
		"  ~ 10.0.0.1:1000 → 10.0.0.2:80 #1 (server) frame 11  count 2 → 3",
		"  ~ 10.0.0.1:3000 → 10.0.0.2:80 #1 (client) frame 21  count 1  (was 10.0.0.1:2000)",
		"  + 10.0.0.9:1000 → 10.0.0.2:80 #1 (server) frame 90  new  count 4",
		"  - 10.0.0.1:4000 → 10.0.0.2:80 #1 (client)  gone  count 1",
	}
	if got := FindingChanges(analyzer.FinRetransmit, old, cur); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := FindingChanges(analyzer.ReuseIn2MSL, old, cur); len(got) != 1 || got[0] != "  - 10.0.0.1:6000 → 10.0.0.2:80 #2  gone" {
		t.Errorf("reuse_in_2msl: %q", got)
	}
}

// TestFindingChangesPairsAsPairwise: FindingChanges pairs each current finding with
// the first old one of the same key not yet taken (by connection and side, then
// with any client port), as comparing every pair in order does (pairwise, below),
// on lists drawn with many equal keys, old and current in any order.
func TestFindingChangesPairsAsPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	draw := func(n int) []analyzer.Finding {
		fs := make([]analyzer.Finding, n)
		for i := range fs {
			c := uint64(1 + rng.IntN(3))
			fs[i] = analyzer.Finding{Kind: analyzer.FinRetransmit,
				Client:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + rng.IntN(3))}), uint16(1000+rng.IntN(4))),
				Server:      netip.MustParseAddrPort("10.0.0.9:80"),
				Incarnation: 1 + rng.IntN(2), Sender: []string{"client", "server"}[rng.IntN(2)],
				Count: &c, Frames: []uint64{uint64(i)}}
		}
		return fs
	}
	for round := range 200 {
		old, cur := draw(rng.IntN(40)), draw(rng.IntN(40))
		got, want := FindingChanges(analyzer.FinRetransmit, old, cur), pairwise(old, cur)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("round %d:\n%s\nwant (pairwise):\n%s", round, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// pairwise is FindingChanges for fin_retransmit findings with counts, pairing by
// comparing every current finding with every old one in turn.
func pairwise(old, cur []analyzer.Finding) []string {
	pair := make([]int, len(cur))
	for i := range pair {
		pair[i] = -1
	}
	taken := make([]bool, len(old))
	oldKept, curKept := FindingsOf(old), FindingsOf(cur)
	for _, key := range []func(*Finding) sideID{findingKey, looseKey} {
		for i := range cur {
			if pair[i] >= 0 {
				continue
			}
			for j := range old {
				if !taken[j] && key(curKept[i]) == key(oldKept[j]) {
					pair[i], taken[j] = j, true
					break
				}
			}
		}
	}
	var lines []string
	for i := range cur {
		c := &cur[i]
		at := fmt.Sprintf(" frame %d", c.Frames[0])
		if pair[i] < 0 {
			lines = append(lines, fmt.Sprintf("  + %s%s  new  count %d", curKept[i].text(), at, *c.Count))
			continue
		}
		o := &old[pair[i]]
		was := ""
		if o.Client != c.Client {
			was = "  (was " + analyzer.EndpointString(o.Client) + ")"
		}
		switch {
		case *o.Count != *c.Count:
			lines = append(lines, fmt.Sprintf("  ~ %s%s  count %d → %d%s", curKept[i].text(), at, *o.Count, *c.Count, was))
		case was != "":
			lines = append(lines, fmt.Sprintf("  ~ %s%s  count %d%s", curKept[i].text(), at, *c.Count, was))
		}
	}
	for j := range old {
		if !taken[j] {
			lines = append(lines, fmt.Sprintf("  - %s  gone  count %d", oldKept[j].text(), *old[j].Count))
		}
	}
	return lines
}

// TestReadSaved reads saved reports of both shapes as decoding the whole document
// does (json.Unmarshal, below), the records it reads past included, and refuses
// what is not a report.
func TestReadSaved(t *testing.T) {
	one := `{"summary":{"files":["a.pcap"],"filter":"tcp","time_wait_s":30,"packets":9},
 "findings":[{"kind":"fin_retransmit","client":"10.0.0.1:1","server":"10.0.0.2:80","incarnation":1,"frames":[3,4],"time":"2026-01-02T03:04:05Z","count":2,"sender":"server","message":"m"}],
 "incidents":[{"kind":"fin_retransmit","findings":["fin_retransmit"],"nested":{"a":[1,{"b":null}]}}],
 "connections":[{"client":"10.0.0.1:1","x":[[],{}]},{"y":"z"}],
 "error":"cut short","export":{"dir":"d"},"extra":[1,2,3],"n":null}`
	for _, tc := range []struct {
		name, doc string
		err       string // "" = reads as json.Unmarshal does
	}{
		{"one capture", one, ""},
		{"separate", `{"captures":[` + one + `,{"summary":{"files":["b.pcap"]},"findings":null}],"total":{"findings":[{"kind":"x"}]}}`, ""},
		{"no findings", `{"summary":{"files":["a.pcap"]}}`, ""},
		{"captures null", `{"captures":null,"summary":{"files":["a.pcap"]},"findings":[{"kind":"a"}]}`, ""},
		{"captures empty", `{"captures":[],"summary":{"files":["a.pcap"]}}`, ""},
		{"findings twice", `{"summary":{"files":["a.pcap"]},"findings":[{"kind":"a"}],"findings":[{"kind":"b"},{"kind":"c"}]}`, ""},
		{"whitespace after", one + "\n\n", ""},
		{"data after", one + `{}`, "not a finack -o json report"},
		{"cut short", one[:len(one)-40], "not a finack -o json report"},
		{"not json", "summary: yes", "not a finack -o json report"},
		{"an array", `[1,2]`, "not a finack -o json report"},
		{"neither", `{"connections":[]}`, `no "summary" or "captures"`},
		{"no files", `{"summary":{"filter":"x"}}`, "without summary.files"},
		{"finding without kind", `{"summary":{"files":["a"]},"findings":[{"client":"10.0.0.1:1"}]}`, "a finding without kind"},
		{"findings not a list", `{"summary":{"files":["a"]},"findings":{"kind":"a"}}`, "not a finack -o json report"},
	} {
		got, err := readSaved(strings.NewReader(tc.doc))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if want := unmarshalSaved(t, tc.doc); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read\n%+v\nwant\n%+v", tc.name, got, want)
		}
	}
}

// unmarshalSaved is readSaved by decoding the whole document (unmarshalSavedOK),
// for a document both accept.
func unmarshalSaved(t *testing.T, doc string) []savedReport {
	out, err := unmarshalSavedOK(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzReadSaved: readSaved, which reads a saved report a token at a time, accepts
// what decoding the whole document accepts (unmarshalSavedOK), with the same
// result, and refuses what it refuses.
func FuzzReadSaved(f *testing.F) {
	for _, seed := range []string{
		`{"summary":{"files":["a.pcap"]},"findings":[{"kind":"fin_retransmit","client":"10.0.0.1:1","server":"10.0.0.2:80","frames":[1],"count":2}],"connections":[{"x":[1,{}]}],"error":"e"}`,
		`{"captures":[{"summary":{"files":["a"]},"findings":null},{"summary":{"files":["b"]},"incidents":[]}],"total":{}}`,
		`{"captures":null,"summary":{"files":["a"]}}`,
		`{"summary":null}`, `{"summary":{"files":[]}}`, `[]`, `{}`, `{"findings":[{}]}`, `{"summary":{"files":["a"]}} x`,
	} {
		f.Add(seed)
	}
	defer func(n int) { jsonScanBuffer = n }(jsonScanBuffer)
	f.Fuzz(func(t *testing.T, doc string) {
		if msg := readSavedDiffers(doc); msg != "" {
			t.Fatal(msg)
		}
	})
}

// readSavedDiffers says how readSaved reads doc differently from decoding it whole
// (unmarshalSavedOK), "" when it does not: read at once, and a byte at a time into
// a buffer of 4 bytes at first (what is kept of a value moves, and the buffer
// grows, as bytes come).
func readSavedDiffers(doc string) string {
	want, wantErr := unmarshalSavedOK(doc)
	for _, small := range []bool{false, true} {
		jsonScanBuffer = 256 << 10
		var r io.Reader = strings.NewReader(doc)
		if small {
			jsonScanBuffer, r = 4, iotest.OneByteReader(r)
		}
		got, err := readSaved(r)
		if (err != nil) != (wantErr != nil) {
			return fmt.Sprintf("readSaved(%q) (a byte at a time: %v): error %v; decoding it whole: error %v", doc, small, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("readSaved(%q) (a byte at a time: %v) = %+v, decoding it whole gives %+v", doc, small, got, want)
		}
	}
	return ""
}

// TestReadSavedLikeUnmarshal: readSaved accepts and refuses what decoding the
// whole document does (unmarshalSavedOK), and reads the same, on the values JSON's
// grammar is strict about, in a value read past (a connection record) and in one
// kept (a finding, the summary): every control character in a string, escapes,
// numbers, literals, white space; and on every prefix of a report (cut anywhere),
// read at once and a byte at a time (readSavedDiffers).
func TestReadSavedLikeUnmarshal(t *testing.T) {
	defer func(n int) { jsonScanBuffer = n }(jsonScanBuffer)
	values := []string{`"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\uD83D\uDE00"`, `"\u00g0"`, `"\x"`, `"\u12"`, `"ÿþ"`, `"é → ✓"`,
		`0`, `-0`, `01`, `-`, `-a`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-3`, `1e+10`, `-0.5e-3`, `2.e1`, `1ee1`, `1.5.5`, `+1`,
		`true`, `tru`, `truex`, `false`, `fals`, `null`, `nul`, `nulll`, `[]`, `[,]`, `[1,]`, `[1 2]`, `{}`, `{,}`, `{"a"}`, `{"a":}`, `{"a":1,}`,
		`{"a" : [ 1 , { "b" : null } ] }`, "\t[\r\n1\n]", `{1:2}`, `[}`, `{]`}
	for c := range 0x20 {
		values = append(values, `"a`+string(rune(c))+`b"`)
	}
	var docs []string
	for _, v := range values {
		docs = append(docs,
			`{"summary":{"files":["a"]},"connections":[`+v+`]}`,
			`{"summary":{"files":["a"]},"incidents":`+v+`}`,
			`{"summary":{"files":["a"],"filter":`+v+`}}`,
			`{"summary":{"files":["a"]},"findings":[{"kind":"stale_segment","message":`+v+`}]}`,
			`{"summary":{"files":["a"]},"error":`+v+`}`,
			`{"captures":[{"summary":{"files":["a"]},"x":`+v+`}]}`,
		)
	}
	full := `{"summary":{"files":["a.pcap"],"filter":"tcp","time_wait_s":60},"findings":[{"kind":"fin_retransmit","client":"10.0.0.1:1","server":"10.0.0.2:80","frames":[1,2],"count":2,"message":"m \"q\""}],` +
		`"incidents":[{"kind":"x","findings":["a"],"n":-1.5e3}],"connections":[{"client":"10.0.0.1:1","fin":{"client":{"frame":3}},"reused":true,"idle":null}],"error":"e"}` + " \n"
	for i := range len(full) + 1 {
		docs = append(docs, full[:i])
	}
	for _, doc := range docs {
		if msg := readSavedDiffers(doc); msg != "" {
			t.Error(msg)
		}
	}
}

// TestReadSavedDepth: a value read past (a connection record) may nest arrays and
// objects as deep as encoding/json allows, counted from the document's top, and no
// deeper.
func TestReadSavedDepth(t *testing.T) {
	for _, depth := range []int{2, 3, 9999, 10000, 10001, 10002} {
		for _, open := range []string{"[", `{"a":`} {
			closing := "]"
			if open != "[" {
				closing = "}"
			}
			// The document and its "connections" array are two levels (depth 2: an
			// empty array).
			doc := `{"summary":{"files":["a"]},"connections":[` + strings.Repeat(open, depth-2) + strings.Repeat(closing, depth-2) + `]}`
			_, err := readSaved(strings.NewReader(doc))
			_, wantErr := unmarshalSavedOK(doc)
			if (err != nil) != (wantErr != nil) {
				t.Errorf("depth %d of %q: error %v; decoding it whole: error %v", depth, open, err, wantErr)
			}
		}
	}
}

// unmarshalSavedOK reads a saved report by decoding it whole, with readSaved's
// checks (checkSaved).
func unmarshalSavedOK(doc string) ([]savedReport, error) {
	// A saved report's findings as the checks read them (savedFinding).
	type capture struct {
		Summary  savedSummary   `json:"summary"`
		Findings []savedFinding `json:"findings"`
		Error    string         `json:"error"`
	}
	var d struct {
		Summary  *savedSummary  `json:"summary"`
		Findings []savedFinding `json:"findings"`
		Error    string         `json:"error"`
		Captures []capture      `json:"captures"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return nil, err
	}
	findings := func(fs []savedFinding) []Finding {
		if fs == nil {
			return nil
		}
		out := []Finding{}
		for i := range fs {
			out = append(out, fs[i].finding())
		}
		return out
	}
	var out []savedReport
	switch {
	case d.Captures != nil:
		out = []savedReport{}
		for _, c := range d.Captures {
			out = append(out, savedReport{Summary: c.Summary, Findings: findings(c.Findings), Error: c.Error})
		}
	case d.Summary != nil:
		out = []savedReport{{Summary: *d.Summary, Findings: findings(d.Findings), Error: d.Error}}
	default:
		return nil, errors.New("no summary or captures")
	}
	return out, checkSaved(out)
}

// FuzzScanValue: scanValue, the scanner's fast path for a value all in its buffer,
// reads exactly one whole valid array or object (json.Valid), and reads every one
// nested less than 64 deep; it gives up on the rest (cut, invalid, too deep), which
// the scanner then reads a byte at a time (readSavedDiffers covers both).
func FuzzScanValue(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, ` [1, -2.5e3, "a\"\u00e9", true, false, null, {"k": [{}]}] `, `{"a":1,}`, `[1 2]`,
		`[01]`, `[1.]`, `["\u12"]`, `{"a" :1}x`, `[1`, `{"a":1}{}`, `["a` + "\x01" + `"]`, strings.Repeat("[", 70) + strings.Repeat("]", 70),
		`{"client":"10.77.0.1:57014","first_frame":1,"fin":{"client":{"frame":9,"acked_after_ms":0.003}},"history":"ShADadfLFl"}`} {
		f.Add(seed, 10000)
	}
	f.Fuzz(func(t *testing.T, doc string, room int) {
		b := []byte(doc)
		n, ok := scanValue(b, room)
		value := bytes.TrimLeft(b[:max(n, 0)], " \t\r\n")
		if ok && (!json.Valid(b[:n]) || len(value) == 0 || value[0] != '{' && value[0] != '[') {
			t.Fatalf("scanValue(%q) read %q: not one valid array or object", doc, b[:n])
		}
		whole := bytes.Trim(b, " \t\r\n") // JSON's white space
		if !json.Valid(whole) || len(whole) == 0 || whole[0] != '{' && whole[0] != '[' || jsonDepth(whole) >= min(64, room) {
			return
		}
		if trailing := len(b) - len(bytes.TrimRight(b, " \t\r\n")); !ok || n != len(b)-trailing {
			t.Fatalf("scanValue(%q, %d) = %d, %v; want all of it (%d bytes)", doc, room, n, ok, len(b)-trailing)
		}
	})
}

// jsonDepth is how deep the arrays and objects of the valid JSON value v nest.
func jsonDepth(v []byte) int {
	d := json.NewDecoder(bytes.NewReader(v))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
)

// A reader of Zeek's ASCII logs, written from Zeek's description of the format (the
// logging framework's ASCII writer): '#' lines carry the header (#separator with its
// value escaped and a space before it, the other directives as key, separator,
// value), then one row per record, fields split by the separator. A field equal to
// #unset_field is unset; a string or set equal to #empty_field is empty; set
// elements are split by #set_separator; \xNN stands for the byte NN. Times and
// intervals are decimal seconds, ports numbers, bools T or F.

// zeekLog is one log: its header directives and its rows.
type zeekLog struct {
	directives map[string]string // every '#' line but #fields and #types, by key
	fields     []string
	types      []string
	rows       []map[string]zeekValue
}

// zeekValue is one parsed field: set false when unset.
type zeekValue struct {
	set  bool
	str  string   // string, enum, addr (as written)
	num  float64  // time, interval
	n    uint64   // count, port
	i    int64    // int
	b    bool     // bool
	elem []string // set[string]
}

// zeekUnescape turns \xNN back into its byte.
func zeekUnescape(s string) (string, error) {
	if !strings.Contains(s, `\x`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %q: %v", s, err)
			}
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		if s[i] == '\\' {
			return "", fmt.Errorf("lone backslash in %q", s)
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// parseZeekLog reads a log. canonified accepts btest's XXX placeholders for times
// (Zeek's test baselines replace them).
func parseZeekLog(data []byte, canonified bool) (*zeekLog, error) {
	l := &zeekLog{directives: map[string]string{}}
	sep := ""
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if strings.HasPrefix(line, "### ") && canonified {
			continue // btest's own banner
		}
		if strings.HasPrefix(line, "#separator ") {
			v, err := zeekUnescape(strings.TrimPrefix(line, "#separator "))
			if err != nil {
				return nil, err
			}
			sep = v
			continue
		}
		if sep == "" {
			return nil, fmt.Errorf("line %d: before #separator: %q", n+1, line)
		}
		if strings.HasPrefix(line, "#") {
			key, val, ok := strings.Cut(line[1:], sep)
			if !ok && canonified {
				key, val, ok = strings.Cut(line[1:], " ") // btest rewrites #open and #close
			}
			if !ok {
				return nil, fmt.Errorf("line %d: directive without value: %q", n+1, line)
			}
			switch key {
			case "fields":
				l.fields = strings.Split(val, sep)
			case "types":
				l.types = strings.Split(val, sep)
			default:
				l.directives[key] = val
			}
			continue
		}
		if len(l.fields) == 0 || len(l.fields) != len(l.types) {
			return nil, fmt.Errorf("line %d: row before #fields and #types agree", n+1)
		}
		cols := strings.Split(line, sep)
		if len(cols) != len(l.fields) {
			return nil, fmt.Errorf("line %d: %d fields, want %d", n+1, len(cols), len(l.fields))
		}
		row := map[string]zeekValue{}
		for i, col := range cols {
			v, err := l.parseValue(col, l.types[i], canonified)
			if err != nil {
				return nil, fmt.Errorf("line %d, field %s: %v", n+1, l.fields[i], err)
			}
			row[l.fields[i]] = v
		}
		l.rows = append(l.rows, row)
	}
	return l, nil
}

func (l *zeekLog) parseValue(s, typ string, canonified bool) (zeekValue, error) {
	unset, empty, setSep := l.directives["unset_field"], l.directives["empty_field"], l.directives["set_separator"]
	if s == unset {
		return zeekValue{}, nil
	}
	v := zeekValue{set: true}
	var err error
	switch {
	case strings.HasPrefix(typ, "set[") || strings.HasPrefix(typ, "vector["):
		if s == empty {
			v.elem = []string{}
			return v, nil
		}
		for _, e := range strings.Split(s, setSep) {
			u, err := zeekUnescape(e)
			if err != nil {
				return v, err
			}
			v.elem = append(v.elem, u)
		}
	case typ == "string" || typ == "enum":
		if s == empty {
			return v, nil
		}
		v.str, err = zeekUnescape(s)
	case typ == "addr":
		var a netip.Addr
		a, err = netip.ParseAddr(s)
		v.str = a.String()
	case typ == "time" || typ == "interval" || typ == "double":
		if canonified && strings.Trim(s, "X.") == "" {
			return v, nil
		}
		v.num, err = strconv.ParseFloat(s, 64)
	case typ == "count" || typ == "port":
		v.n, err = strconv.ParseUint(s, 10, 64)
	case typ == "int":
		v.i, err = strconv.ParseInt(s, 10, 64)
	case typ == "bool":
		switch s {
		case "T":
			v.b = true
		case "F":
		default:
			err = fmt.Errorf("bool %q", s)
		}
	default:
		err = fmt.Errorf("type %q not read", typ)
	}
	return v, err
}

// wantTSVFields: the columns of -o tsv as docs/usage.md documents them.
var wantTSVFields = []string{
	"ts time", "id.orig_h addr", "id.orig_p port", "id.resp_h addr", "id.resp_p port", "proto enum",
	"duration interval", "history string", "vlan int", "inner_vlan int", "tunnel string",
	"roles_known bool", "incarnation count", "first_frame count", "last_frame count", "packets count",
	"close string", "active_closer string", "time_wait_holder string", "time_wait_until time",
	"finack_history string", "orig_fin_frame count", "orig_fin_acked_by count", "orig_fin_ack_delay interval",
	"resp_fin_frame count", "resp_fin_acked_by count", "resp_fin_ack_delay interval",
	"orig_fins count", "resp_fins count", "orig_rsts count", "resp_rsts count", "reset_by string",
	"idle_before_end interval", "reused bool", "dropped string", "findings set[string]",
}

// TestTSVReadsAsJSON reads every expected -o tsv report of testdata/pcaps with the
// parser above and checks each row against the connection of the expected JSON
// report in the same place, field by field.
func TestTSVReadsAsJSON(t *testing.T) {
	sets := captureSets(t)
	if len(sets) == 0 {
		t.Fatal("no captures in testdata/pcaps")
	}
	for _, set := range sets {
		t.Run(set[0], func(t *testing.T) {
			base := filepath.Join(pcapDir, set[0])
			data, err := os.ReadFile(base + ".expected.tsv")
			if err != nil {
				t.Fatal(err)
			}
			l, err := parseZeekLog(data, false)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(base + ".expected.json")
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Summary struct {
					First *time.Time `json:"first_packet"`
					Last  *time.Time `json:"last_packet"`
				} `json:"summary"`
				Findings    []analyzer.Finding    `json:"findings"`
				Connections []analyzer.Connection `json:"connections"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			checkTSVHeader(t, l, doc.Summary.First, doc.Summary.Last)
			if len(l.rows) != len(doc.Connections) {
				t.Fatalf("%d rows, the JSON report has %d connections", len(l.rows), len(doc.Connections))
			}
			for i := range doc.Connections {
				checkTSVRow(t, i, l.rows[i], &doc.Connections[i], doc.Findings)
			}
		})
	}
}

func checkTSVHeader(t *testing.T, l *zeekLog, first, last *time.Time) {
	t.Helper()
	logTime := func(p *time.Time) string {
		if p == nil {
			return "-"
		}
		return p.UTC().Format("2006-01-02-15-04-05")
	}
	want := map[string]string{
		"set_separator": ",", "empty_field": "(empty)", "unset_field": "-", "path": "finack_conn",
		"open": logTime(first), "close": logTime(last),
	}
	for k, v := range want {
		if l.directives[k] != v {
			t.Errorf("#%s %q, want %q", k, l.directives[k], v)
		}
	}
	var got []string
	for i := range l.fields {
		got = append(got, l.fields[i]+" "+l.types[i])
	}
	if strings.Join(got, ", ") != strings.Join(wantTSVFields, ", ") {
		t.Errorf("fields and types:\n got %v\nwant %v", got, wantTSVFields)
	}
}

// checkTSVRow compares a row with its connection's JSON record.
func checkTSVRow(t *testing.T, i int, row map[string]zeekValue, c *analyzer.Connection, findings []analyzer.Finding) {
	t.Helper()
	fail := func(field string, got, want any) {
		t.Errorf("row %d (%s → %s #%d): %s = %v, want %v", i+1, c.Client, c.Server, c.Incarnation, field, got, want)
	}
	secs := func(field string, want float64, set bool) {
		v := row[field]
		if v.set != set || set && math.Abs(v.num-want) > 0.6e-6 {
			fail(field, v, want)
		}
	}
	count := func(field string, want uint64, set bool) {
		if v := row[field]; v.set != set || v.n != want {
			fail(field, v, want)
		}
	}
	str := func(field, want string) {
		if v := row[field]; v.set != (want != "") || v.str != want {
			fail(field, v, want)
		}
	}
	boolean := func(field string, want bool) {
		if v := row[field]; !v.set || v.b != want {
			fail(field, v, want)
		}
	}
	unix := func(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

	secs("ts", unix(c.Start), true)
	for _, e := range []struct {
		ap   netip.AddrPort
		h, p string
	}{{c.Client, "id.orig_h", "id.orig_p"}, {c.Server, "id.resp_h", "id.resp_p"}} {
		ap := e.ap
		str(e.h, ap.Addr().String())
		count(e.p, uint64(ap.Port()), true)
	}
	str("proto", "tcp")
	d := c.End.Sub(c.Start).Seconds()
	secs("duration", d, d > 0)
	var zeek []byte
	for _, r := range c.History {
		if strings.ContainsRune("SHADTWQFRshadtwqfr", r) {
			zeek = append(zeek, byte(r))
		}
	}
	str("history", string(zeek))
	for n, field := range []string{"vlan", "inner_vlan"} {
		v := row[field]
		if v.set != (n < len(c.VLAN)) || v.set && v.i != int64(c.VLAN[n]) {
			fail(field, v, c.VLAN)
		}
	}
	str("tunnel", c.Tunnel)
	boolean("roles_known", c.RolesKnown)
	count("incarnation", uint64(c.Incarnation), true)
	count("first_frame", c.FirstFrame, true)
	count("last_frame", c.LastFrame, true)
	count("packets", c.Packets, true)
	str("close", string(c.Close))
	str("active_closer", c.ActiveCloser)
	str("time_wait_holder", c.TimeWaitHolder)
	if c.TimeWaitUntil == "" {
		secs("time_wait_until", 0, false)
	} else {
		tw, err := time.Parse(time.RFC3339Nano, c.TimeWaitUntil)
		if err != nil {
			t.Fatal(err)
		}
		secs("time_wait_until", unix(tw), true)
	}
	str("finack_history", c.History)
	for _, e := range []struct {
		prefix string
		f      *analyzer.FinAck
	}{{"orig_fin_", c.FIN.Client}, {"resp_fin_", c.FIN.Server}} {
		if e.f == nil {
			count(e.prefix+"frame", 0, false)
			count(e.prefix+"acked_by", 0, false)
			secs(e.prefix+"ack_delay", 0, false)
			continue
		}
		count(e.prefix+"frame", e.f.Frame, true)
		count(e.prefix+"acked_by", e.f.AckedBy, e.f.AckedBy != 0)
		if e.f.AckedAfterMS == nil {
			secs(e.prefix+"ack_delay", 0, false)
		} else {
			secs(e.prefix+"ack_delay", *e.f.AckedAfterMS/1000, true)
		}
	}
	count("orig_fins", uint64(c.FINs.Client), true)
	count("resp_fins", uint64(c.FINs.Server), true)
	count("orig_rsts", uint64(c.RSTs.Client), true)
	count("resp_rsts", uint64(c.RSTs.Server), true)
	str("reset_by", c.ResetBy)
	if c.IdleBeforeEndMS == nil {
		secs("idle_before_end", 0, false)
	} else {
		secs("idle_before_end", *c.IdleBeforeEndMS/1000, true)
	}
	boolean("reused", c.Reused)
	str("dropped", c.Dropped)

	kinds := map[string]bool{}
	for _, f := range findings {
		if f.Client == c.Client && f.Server == c.Server && f.Incarnation == c.Incarnation &&
			f.Tunnel == c.Tunnel && fmt.Sprint(f.VLAN) == fmt.Sprint(c.VLAN) {
			kinds[string(f.Kind)] = true
		}
	}
	v := row["findings"]
	got := map[string]bool{}
	for _, k := range v.elem {
		got[k] = true
	}
	if !v.set || len(v.elem) != len(got) || fmt.Sprint(got) != fmt.Sprint(kinds) {
		fail("findings", v.elem, kinds)
	}
}

// TestTSVEscapes writes values that need Zeek's escapes (separators, the unset and
// empty markers, bytes outside printable ASCII) and reads them back with the parser.
func TestTSVEscapes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		value  string // in a string field (tunnel) and as a set element (a finding kind)
		inText string // how the string field must read in the log
	}{
		{"plain", "gre key 7", "gre key 7"},
		{"tab", "a\tb", `a\x09b`},
		{"newline", "a\nb", `a\x0ab`},
		{"backslash", `a\x09b`, `a\x5cx09b`},
		{"unset marker", "-", `\x2d`},
		{"empty marker", "(empty)", `\x28empty)`},
		{"set separator", "a,b", "a,b"},
		{"utf-8", "vxlan é", `vxlan \xc3\xa9`},
		{"nul", "\x00", `\x00`},
		{"hash first", "#fields", "#fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
			c := analyzer.Connection{Client: netip.MustParseAddrPort("192.0.2.1:40000"), Server: netip.MustParseAddrPort("192.0.2.10:80"), Tunnel: tc.value, Incarnation: 1,
				Start: start, End: start.Add(time.Second), History: "S"}
			d := report.Document{
				Summary:     report.Summary{First: &start, Last: &c.End},
				Connections: []analyzer.Connection{c},
				Findings: []analyzer.Finding{
					{Kind: analyzer.Kind(tc.value), Client: c.Client, Server: c.Server, Tunnel: c.Tunnel, Incarnation: 1},
					{Kind: analyzer.MissingFinalAck, Client: c.Client, Server: c.Server, Tunnel: c.Tunnel, Incarnation: 1},
				},
			}
			var buf bytes.Buffer
			if err := report.WriteTSV(&buf, d); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(buf.String(), "\n")
			row := ""
			for _, l := range lines {
				if l != "" && l[0] != '#' {
					row = l
				}
			}
			if cols := strings.Split(row, "\t"); len(cols) != len(wantTSVFields) || cols[10] != tc.inText {
				t.Fatalf("row %q: tunnel written as %q, want %q", row, cols[10], tc.inText)
			}
			l, err := parseZeekLog(buf.Bytes(), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.rows) != 1 {
				t.Fatalf("%d rows", len(l.rows))
			}
			if got := l.rows[0]["tunnel"]; !got.set || got.str != tc.value {
				t.Errorf("tunnel read back as %+v, want %q", got, tc.value)
			}
			kinds := l.rows[0]["findings"].elem
			want := []string{tc.value, string(analyzer.MissingFinalAck)}
			if want[0] > want[1] {
				want[0], want[1] = want[1], want[0]
			}
			if fmt.Sprint(kinds) != fmt.Sprint(want) || len(kinds) != 2 {
				t.Errorf("findings read back as %q, want %q", kinds, want)
			}
		})
	}
}

// TestZeekLogParser checks the parser on Zeek's own logs: the conn.log baselines of
// Zeek's test suite in the public corpus (times replaced by btest with X).
func TestZeekLogParser(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "zeek", "testing", "btest", "Baseline")
	logs, _ := filepath.Glob(filepath.Join(dir, "*", "conn*.log"))
	if len(logs) == 0 {
		t.Skipf("no Zeek conn.log baselines in %s", dir)
	}
	read := 0
	for _, p := range logs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("\n#separator ")) {
			continue // zeek-cut's output, not a log
		}
		read++
		l, err := parseZeekLog(data, true)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if l.directives["path"] != "conn" || len(l.rows) == 0 {
			t.Errorf("%s: path %q, %d rows", p, l.directives["path"], len(l.rows))
		}
		for i, r := range l.rows {
			if !r["id.orig_h"].set || !r["id.resp_p"].set || !r["proto"].set {
				t.Errorf("%s row %d: id fields unset: %+v", p, i+1, r)
			}
		}
	}
	if read == 0 {
		t.Errorf("none of %d conn logs in %s is in Zeek's log format", len(logs), dir)
	}
}

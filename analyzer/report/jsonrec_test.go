package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
)

// The hand-written encoders of jsonrec.go against encoding/json, the reference:
// every record must come out byte for byte as encoding/json writes it with
// SetEscapeHTML(false) and EscapeControls makes of it, and a record
// encoding/json refuses must fail with its error.

// refRecordJSON encodes v as the report did with encoding/json: newline trimmed for
// -o json, kept for -o ndjson.
func refRecordJSON(v any, newline bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := EscapeControls(buf.Bytes())
	if newline {
		return b, nil
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

func sameJSON(t testing.TB, what string, v any, got []byte, gotErr error, want []byte, wantErr error) {
	t.Helper()
	switch {
	case gotErr != nil || wantErr != nil:
		if gotErr == nil || wantErr == nil || gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s: error %v, encoding/json: %v\nvalue %#v", what, gotErr, wantErr, v)
		}
	case !bytes.Equal(got, want):
		t.Fatalf("%s:\n got  %s\n want %s\nvalue %#v", what, got, want, v)
	}
}

// checkConnection compares every form of c: -o json, -o ndjson, and EncodeConnections.
// A prefix already in dst must be kept.
func checkConnection(t testing.TB, c *analyzer.Connection) {
	t.Helper()
	want, wantErr := refRecordJSON(c, false)
	got, err := appendConnectionJSON([]byte("x"), c)
	if err == nil {
		if got[0] != 'x' {
			t.Fatalf("prefix lost: %s", got)
		}
		got = got[1:]
	}
	sameJSON(t, "connection", c, got, err, want, wantErr)

	want, wantErr = refRecordJSON(ndjsonConnection(c), true)
	got, err = appendConnectionNDJSON(nil, c)
	sameJSON(t, "ndjson connection", c, got, err, want, wantErr)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err = EncodeConnections(enc, []analyzer.Connection{*c})
	sameJSON(t, "encodeConnections", c, buf.Bytes(), err, want, wantErr)
}

func checkFinding(t testing.TB, f *analyzer.Finding) {
	t.Helper()
	want, wantErr := refRecordJSON(f, false)
	got, err := appendFindingJSON([]byte("x"), f)
	if err == nil {
		if got[0] != 'x' {
			t.Fatalf("prefix lost: %s", got)
		}
		got = got[1:]
	}
	sameJSON(t, "finding", f, got, err, want, wantErr)

	want, wantErr = refRecordJSON(ndjsonFinding(f), true)
	got, err = appendFindingNDJSON(nil, f)
	sameJSON(t, "ndjson finding", f, got, err, want, wantErr)
}

func f64(x float64) *float64 { return &x }
func u64(x uint64) *uint64   { return &x }

// Strings with every class of escape encoding/json applies (and the HTML characters
// it leaves alone with SetEscapeHTML(false)).
// jsonEdgeEndpoints are endpoints of every form: IPv4, IPv6, IPv4-mapped IPv6, a
// zone (the one part of an endpoint's text that may need escaping), the zero
// AddrPort.
var jsonEdgeEndpoints = []netip.AddrPort{
	{},
	netip.MustParseAddrPort("10.0.0.1:443"),
	netip.MustParseAddrPort("0.0.0.0:0"),
	netip.MustParseAddrPort("[2001:db8::1]:65535"),
	netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"),
	netip.MustParseAddrPort("[::]:1"),
	netip.MustParseAddrPort(`[fe80::1%eth0]:22`),
	netip.MustParseAddrPort("[fe80::1%\"q\\<\u2028>]:22"),
}

var addrPortType = reflect.TypeFor[netip.AddrPort]()

// fuzzEndpoint makes an endpoint of a fuzzed string: an address parsed from it when
// it is one, else one of jsonEdgeEndpoints.
func fuzzEndpoint(s string, n uint64) netip.AddrPort {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, uint16(n))
	}
	return jsonEdgeEndpoints[n%uint64(len(jsonEdgeEndpoints))]
}

var jsonEdgeStrings = []string{
	"",
	"plain 10.0.0.1:443",
	`quote " backslash \ slash /`,
	"\b\f\n\r\t",
	"\x00\x01\x02\x03\x04\x05\x06\x07\x0b\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f",
	"<script>&amp;</script>",
	"\x7f del",
	"c1 \u0080 \u0085 \u009b[2J \u009f \u00a0 edge",
	"é € 日本 😀",
	"\u2028 line \u2029 paragraph",
	"\xff\xfe invalid",
	"truncated \xc3",
	"\xe2\x80",         // truncated U+2028
	"\xed\xa0\x80",     // surrogate
	"\xf4\x90\x80\x80", // beyond U+10FFFF
	"\xc0\x80",         // overlong NUL
	"\ufffd real replacement",
	"mixed \"\xff\u2028\n<é>",
}

// Floats around encoding/json's switch between 'f' and 'e', and the extremes.
var jsonEdgeFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.5, 1.5, 123.456, -0.001, 1e-3, 201.5,
	1e-6, -1e-6, math.Nextafter(1e-6, 0), math.Nextafter(1e-6, 1), 1e-7, 1.5e-7, 1e-9, 1e-10, 1.234e-100,
	1e20, 1e21, -1e21, math.Nextafter(1e21, 0), math.Nextafter(1e21, math.Inf(1)), 1e22, 1.5e300,
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64,
	0x1p-1022, 123456789012345678, 9007199254740993, 0.1 + 0.2,
}

var jsonEdgeTimes = []time.Time{
	{},
	time.Unix(0, 0).UTC(),
	time.Unix(1700000000, 123456789).UTC(),
	time.Unix(1700000000, 120000000).UTC(),
	time.Unix(1700000000, 1).UTC(),
	time.Unix(1700000000, 0).In(time.FixedZone("", 5*3600+30*60)),
	time.Unix(1700000000, 500).In(time.FixedZone("", -(3*3600 + 45*60))),
	time.Unix(1700000000, 0).In(time.FixedZone("", -30*60)),
	time.Unix(1700000000, 0).In(time.FixedZone("", 3601)),          // seconds in the offset
	time.Unix(1700000000, 0).In(time.FixedZone("", 23*3600+59*60)), // largest accepted
	time.Unix(1700000000, 0).In(time.FixedZone("", 24*3600)),       // refused
	time.Unix(1700000000, 0).In(time.FixedZone("", -100*3600)),     // refused (3 digits)
	time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC), // refused
	time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // refused
	time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC).Local(),
	time.Now(), // with a monotonic reading
}

func TestRecordJSONEdgeCases(t *testing.T) {
	full := analyzer.Connection{
		Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80"), RolesKnown: true, VLAN: []uint16{0, 100, 4095, 65535},
		Incarnation: 2, FirstFrame: 1, LastFrame: math.MaxUint64, Start: jsonEdgeTimes[2], End: jsonEdgeTimes[3],
		Packets: 10, Close: analyzer.FourWay, ActiveCloser: "client", TimeWaitHolder: "client",
		TimeWaitUntil: "2023-11-14T22:14:20.123Z", History: "ShADadFf",
		FIN: analyzer.FinPair{
			Client: &analyzer.FinAck{Frame: 7, AckedBy: 8, AckedAfterMS: f64(0.012)},
			Server: &analyzer.FinAck{Frame: 9},
		},
		FINs: analyzer.Pair{Client: 1, Server: math.MaxUint32}, RSTs: analyzer.Pair{Server: 2},
		ResetBy: "server", IdleBeforeEndMS: f64(1500), Reused: true, Dropped: "idle",
	}
	conns := map[string]analyzer.Connection{
		"zero":           {},
		"full":           full,
		"empty vlan":     {VLAN: []uint16{}},
		"server fin":     {FIN: analyzer.FinPair{Server: &analyzer.FinAck{Frame: 3, AckedAfterMS: f64(0)}}},
		"negative":       {Incarnation: -5, IdleBeforeEndMS: f64(-0.5)},
		"zero ack after": {FIN: analyzer.FinPair{Client: &analyzer.FinAck{AckedAfterMS: f64(math.Copysign(0, -1))}}},
		"nan idle":       {IdleBeforeEndMS: f64(math.NaN())},
		"inf ack":        {FIN: analyzer.FinPair{Client: &analyzer.FinAck{AckedAfterMS: f64(math.Inf(-1))}}},
	}
	for name, c := range conns {
		t.Run("connection/"+name, func(t *testing.T) { checkConnection(t, &c) })
	}

	findings := map[string]analyzer.Finding{
		"zero":        {},
		"nil frames":  {Kind: analyzer.MissingFinalAck, Frames: nil},
		"no frames":   {Kind: analyzer.MissingFinalAck, Frames: []uint64{}},
		"empty lists": {IntervalsMS: []float64{}, NATEvidence: []string{}},
		"full": {
			Kind: analyzer.ReuseIn2MSL, Client: netip.MustParseAddrPort("[2001:db8::1]:5000"), Server: netip.MustParseAddrPort("[2001:db8::2]:443"), Incarnation: 3,
			Frames: []uint64{1, 2, math.MaxUint64}, Time: jsonEdgeTimes[5], Count: u64(0), Outcome: analyzer.OutcomeAccepted,
			Verdict: analyzer.VerdictUnsafe, Sender: "client", Cause: analyzer.CauseMixed,
			IntervalsMS: []float64{200, 400.5, 1e-7}, DurationMS: f64(-12.25), TimeWaitHolder: "server",
			NATEvidence: []string{"ttl", "ip_id", ""}, AckAfterTap: true, Message: "new SYN 12ms into TIME_WAIT",
		},
		"nan interval": {IntervalsMS: []float64{1, math.NaN()}},
		"inf duration": {DurationMS: f64(math.Inf(1))},
	}
	for name, f := range findings {
		t.Run("finding/"+name, func(t *testing.T) { checkFinding(t, &f) })
	}

	for _, ep := range jsonEdgeEndpoints {
		c := analyzer.Connection{Client: ep, Server: ep}
		checkConnection(t, &c)
		f := analyzer.Finding{Client: ep, Server: ep}
		checkFinding(t, &f)
	}
	for _, s := range jsonEdgeStrings {
		c := analyzer.Connection{Close: analyzer.Shape(s), ActiveCloser: s, TimeWaitHolder: s,
			TimeWaitUntil: s, History: s, ResetBy: s, Dropped: s}
		checkConnection(t, &c)
		f := analyzer.Finding{Kind: analyzer.Kind(s), Outcome: analyzer.Outcome(s), Verdict: analyzer.Verdict(s), Sender: s, Cause: analyzer.Cause(s),
			TimeWaitHolder: s, NATEvidence: []string{s, s}, Message: s}
		checkFinding(t, &f)
		// Every string, and every pair, in one field.
		for _, s2 := range jsonEdgeStrings {
			f := analyzer.Finding{Message: s + s2}
			checkFinding(t, &f)
		}
	}
	for _, x := range jsonEdgeFloats {
		for _, x := range []float64{x, -x} {
			c := analyzer.Connection{IdleBeforeEndMS: f64(x), FIN: analyzer.FinPair{Client: &analyzer.FinAck{AckedAfterMS: f64(x)}}}
			checkConnection(t, &c)
			f := analyzer.Finding{IntervalsMS: []float64{x, x}, DurationMS: f64(x)}
			checkFinding(t, &f)
		}
	}
	for _, tm := range jsonEdgeTimes {
		c := analyzer.Connection{Start: tm}
		checkConnection(t, &c)
		c = analyzer.Connection{End: tm}
		checkConnection(t, &c)
		f := analyzer.Finding{Time: tm}
		checkFinding(t, &f)
	}

	// What the edge cases must look like, beyond agreeing with encoding/json.
	b, _ := appendFindingJSON(nil, &analyzer.Finding{})
	if !strings.Contains(string(b), `"frames":null`) {
		t.Errorf("nil frames: %s", b)
	}
	b, _ = appendFindingJSON(nil, &analyzer.Finding{Frames: []uint64{}, IntervalsMS: []float64{}})
	if !strings.Contains(string(b), `"frames":[]`) || strings.Contains(string(b), "intervals_ms") {
		t.Errorf("empty frames: %s", b)
	}
	b, _ = appendConnectionNDJSON(nil, &analyzer.Connection{})
	if !strings.HasPrefix(string(b), `{"type":"connection","client":""`) {
		t.Errorf("ndjson: %s", b)
	}
}

// recordFiller fills records with random values through reflection, so that a field
// added to the records (or a type they hold) is filled too, and the comparison fails
// until jsonrec.go encodes it.
type recordFiller struct {
	r *rand.Rand
	// invalid: also values encoding/json refuses (NaN, infinities, times it cannot
	// write as RFC 3339).
	invalid bool
}

var timeType = reflect.TypeFor[time.Time]()

func (g *recordFiller) fill(t testing.TB, v reflect.Value) {
	r := g.r
	switch v.Kind() {
	case reflect.String:
		v.SetString(g.string())
	case reflect.Bool:
		v.SetBool(r.Intn(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := v.Type().Bits()
		var x int64
		switch r.Intn(4) {
		case 0:
			x = int64(r.Intn(10))
		case 1:
			x = -int64(r.Intn(1000))
		case 2:
			x = int64(r.Uint64()) >> (64 - bits)
		default:
			x = []int64{math.MinInt64 >> (64 - bits), math.MaxInt64 >> (64 - bits)}[r.Intn(2)]
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		bits := v.Type().Bits()
		var x uint64
		switch r.Intn(4) {
		case 0:
			x = uint64(r.Intn(3)) // 0 often, for omitempty
		case 1:
			x = uint64(r.Intn(100000))
		case 2:
			x = r.Uint64() >> (64 - bits)
		default:
			x = math.MaxUint64 >> (64 - bits)
		}
		v.SetUint(x)
	case reflect.Float64:
		v.SetFloat(g.float())
	case reflect.Slice:
		switch r.Intn(4) {
		case 0:
			v.SetZero()
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, r.Intn(2)))
		default:
			n := 1 + r.Intn(4)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := range n {
				g.fill(t, s.Index(i))
			}
			v.Set(s)
		}
	case reflect.Pointer:
		if r.Intn(3) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		g.fill(t, p.Elem())
		v.Set(p)
	case reflect.Struct:
		if v.Type() == addrPortType {
			v.Set(reflect.ValueOf(jsonEdgeEndpoints[r.Intn(len(jsonEdgeEndpoints))]))
			return
		}
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(g.time()))
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				g.fill(t, f)
			} else if v.Type().Field(i).IsExported() {
				t.Fatalf("cannot fill %s.%s", v.Type(), v.Type().Field(i).Name)
			}
		}
	default:
		t.Fatalf("no random values for %s (kind %s): teach recordFiller and jsonrec.go", v.Type(), v.Kind())
	}
}

var stringPieces = []string{
	"a", "Z", "0", " ", ".", ":", "[", "]", "10.0.0.1:443", "four_way", "S", "F", "f", "r",
	`"`, `\`, "/", "<", ">", "&", "\x7f", "é", "€", "😀", "\u2028", "\u2029", "\ufffd",
	"\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\x80",
}

func (g *recordFiller) string() string {
	r := g.r
	n := r.Intn(8)
	if r.Intn(5) == 0 {
		return ""
	}
	var b []byte
	for range n {
		switch r.Intn(6) {
		case 0:
			b = append(b, byte(r.Intn(0x20))) // control characters
		case 1:
			b = append(b, byte(r.Intn(256))) // anything
		default:
			b = append(b, stringPieces[r.Intn(len(stringPieces))]...)
		}
	}
	return string(b)
}

func (g *recordFiller) float() float64 {
	r := g.r
	switch r.Intn(6) {
	case 0:
		x := jsonEdgeFloats[r.Intn(len(jsonEdgeFloats))]
		if r.Intn(2) == 0 {
			x = -x
		}
		return x
	case 1:
		for {
			x := math.Float64frombits(r.Uint64())
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				return x
			}
		}
	case 2:
		// Near the bounds of the 'f' format.
		x := []float64{1e-6, 1e21}[r.Intn(2)] * (1 + (r.Float64()-0.5)*1e-15)
		return x
	case 3:
		if g.invalid && r.Intn(20) == 0 {
			return []float64{math.NaN(), math.Inf(1), math.Inf(-1)}[r.Intn(3)]
		}
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.Intn(61)-30))
	default:
		// What finack writes: milliseconds rounded to microseconds.
		return math.Round(r.NormFloat64()*1e9) / 1e3
	}
}

var randomZones = []*time.Location{
	time.UTC, time.Local,
	time.FixedZone("", 0), time.FixedZone("A", 3600), time.FixedZone("B", -8*3600),
	time.FixedZone("", 5*3600+30*60), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 45),
	time.FixedZone("", -3599), time.FixedZone("", 23*3600+59*60+59),
}

var refusedZones = []*time.Location{
	time.FixedZone("", 24*3600), time.FixedZone("", -30*3600), time.FixedZone("", 99*3600+59*60),
	time.FixedZone("", 100*3600), time.FixedZone("", -150*3600),
}

func (g *recordFiller) time() time.Time {
	r := g.r
	const (
		year0    = -62167219200 // 0000-01-01T00:00:00Z
		year9999 = 253402300799 // 9999-12-31T23:59:59Z
	)
	var sec int64
	switch r.Intn(5) {
	case 0:
		return time.Time{}
	case 1:
		sec = year0 + r.Int63n(year9999-year0)
	case 2:
		if g.invalid {
			sec = r.Int63n(1<<40) - 1<<39 // beyond the years 0-9999 either way
			break
		}
		fallthrough
	default:
		sec = 1700000000 + r.Int63n(1e6)
	}
	var nsec int64
	switch r.Intn(4) {
	case 0:
	case 1:
		nsec = int64(r.Intn(1000)) * 1e6
	case 2:
		nsec = int64(r.Intn(1e6)) * 1e3
	default:
		nsec = r.Int63n(1e9)
	}
	loc := randomZones[r.Intn(len(randomZones))]
	if g.invalid && r.Intn(10) == 0 {
		loc = refusedZones[r.Intn(len(refusedZones))]
	}
	return time.Unix(sec, nsec).In(loc)
}

func TestRecordJSONRandom(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, invalid := range []bool{false, true} {
		g := &recordFiller{r: rand.New(rand.NewSource(int64(len(t.Name())) + map[bool]int64{false: 1, true: 2}[invalid])), invalid: invalid}
		for range n {
			var c analyzer.Connection
			g.fill(t, reflect.ValueOf(&c).Elem())
			checkConnection(t, &c)
			var f analyzer.Finding
			g.fill(t, reflect.ValueOf(&f).Elem())
			checkFinding(t, &f)
		}
	}
}

func FuzzRecordJSON(f *testing.F) {
	f.Add("10.0.0.1:1", "x\"\\\n\u2028\xff", 1.5, 1e-7, uint64(1), int64(3), int64(1700000000), int64(123), 0, true)
	f.Add("", "", 0.0, math.Copysign(0, -1), uint64(0), int64(-1), int64(0), int64(0), -3600, false)
	f.Add("<&>", "\x00\x1f\x7f", 1e21, 1e-6, uint64(math.MaxUint64), int64(math.MinInt64), int64(-62167219201), int64(999999999), 86400, true)
	f.Add("é", "\xed\xa0\x80", math.NaN(), math.Inf(1), uint64(7), int64(0), int64(253402300800), int64(1), 19800, false)
	f.Fuzz(func(t *testing.T, s1, s2 string, x, y float64, n uint64, i, sec, nsec int64, offset int, flag bool) {
		tm := time.Unix(sec, nsec).In(time.FixedZone(s1, offset))
		var ints []float64
		if flag {
			ints = []float64{x, y}
		}
		c := analyzer.Connection{
			Client: fuzzEndpoint(s1, n), Server: fuzzEndpoint(s2, uint64(i)), RolesKnown: flag, VLAN: []uint16{uint16(n)}, Incarnation: int(i),
			FirstFrame: n, LastFrame: uint64(i), Start: tm, End: tm.Add(time.Duration(i)), Packets: n,
			Close: analyzer.Shape(s2), ActiveCloser: s1, TimeWaitHolder: s2, TimeWaitUntil: s1 + s2, History: s2 + s1,
			FIN:  analyzer.FinPair{Client: &analyzer.FinAck{Frame: n, AckedBy: uint64(i), AckedAfterMS: &x}},
			FINs: analyzer.Pair{Client: uint32(n), Server: uint32(i)}, RSTs: analyzer.Pair{Client: uint32(sec)},
			ResetBy: s1, IdleBeforeEndMS: &y, Reused: flag, Dropped: s2,
		}
		if flag {
			c.FIN.Server, c.FIN.Client = c.FIN.Client, nil
		}
		checkConnection(t, &c)
		fd := analyzer.Finding{
			Kind: analyzer.Kind(s1), Client: fuzzEndpoint(s2, n), Server: fuzzEndpoint(s1, uint64(i)), Incarnation: int(i), Frames: []uint64{n, uint64(sec)},
			Time: tm, Count: &n, Outcome: analyzer.Outcome(s1), Verdict: analyzer.Verdict(s2), Sender: s1, Cause: analyzer.Cause(s2), IntervalsMS: ints, DurationMS: &x,
			TimeWaitHolder: s1, NATEvidence: []string{s1, s2}, AckAfterTap: flag, Message: s1 + s2,
		}
		checkFinding(t, &fd)
	})
}

// TestAppendFastPaths: the shortcuts of appendJSONFloat and appendJSONTime for the
// values a report holds (milliseconds rounded to the microsecond, UTC times) write
// what the general path writes, and leave every other value to it.
func TestAppendFastPaths(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	floats := []float64{0.001, 0.01, 0.1, 1, 1.5, 200.113, 0.12, 999.999, 1000, 1073741.823, 1073741.824,
		0.0005, 0.0015, 1e-7, 0, math.Copysign(0, -1), 0.1 + 0.2, 1.0005, math.NaN(), math.Inf(1), math.Inf(-1)}
	for range 200000 {
		switch r.Intn(4) {
		case 0: // what roundMS makes, of any size
			floats = append(floats, math.Round(float64(r.Int63n(1<<uint(r.Intn(63))))/1e3)/1e3)
		case 1: // thousandths near the bound
			floats = append(floats, float64(1<<30-r.Intn(1000)+500)/1000)
		case 2: // just off a thousandth
			x := float64(r.Intn(1e7)) / 1000
			floats = append(floats, math.Nextafter(x, math.Inf(1)), math.Nextafter(x, 0))
		default:
			floats = append(floats, (r.Float64()-0.5)*math.Pow(10, float64(r.Intn(20)-6)))
		}
	}
	for _, x := range floats {
		for _, x := range []float64{x, -x} {
			want := strconv.AppendFloat(nil, x, 'f', -1, 64)
			got, done := appendMillis([]byte{}, x)
			if done && !bytes.Equal(got, want) {
				t.Fatalf("appendMillis(%v) = %s, want %s", x, got, want)
			}
			if n := math.Round(math.Abs(x) * 1000); !done && n >= 1 && n < 1<<30 && n/1000 == math.Abs(x) {
				t.Errorf("appendMillis(%v) left it to strconv", x)
			}
		}
	}

	const (
		year0     = -62167219200
		year10000 = 253402300800
	)
	times := []time.Time{time.Unix(year0, 0), time.Unix(year0-1, 999999999), time.Unix(year10000-1, 999999999),
		time.Unix(year10000, 0), time.Unix(0, 0), time.Unix(951782400, 0) /* 2000-02-29 */, time.Unix(-1, 1)}
	for range 200000 {
		sec := year0 - 86400 + r.Int63n(year10000-year0+2*86400)
		if r.Intn(2) == 0 {
			sec = 1700000000 + r.Int63n(1e8)
		}
		nsec := []int64{0, int64(r.Intn(1000)) * 1e6, int64(r.Intn(1e6)) * 1e3, r.Int63n(1e9)}[r.Intn(4)]
		times = append(times, time.Unix(sec, nsec))
	}
	for _, tm := range times {
		for _, tm := range []time.Time{tm.UTC(), tm.In(time.FixedZone("", 0)), tm.Local()} {
			want, wantOK := appendJSONTimeGeneral(tm)
			got, done := appendUTC([]byte{}, tm)
			switch {
			case done && (!wantOK || !bytes.Equal(got, want)):
				t.Fatalf("appendUTC(%v) = %s, want %s (ok %v)", tm, got, want, wantOK)
			case !done && wantOK && tm.Location() == time.UTC:
				t.Fatalf("appendUTC(%v) left it to AppendFormat", tm)
			}
		}
	}
}

// appendJSONTimeGeneral is appendJSONTime without appendUTC.
func appendJSONTimeGeneral(t time.Time) ([]byte, bool) {
	b, err := t.MarshalJSON()
	return b, err == nil
}

// benchRecords are typical records of a large capture's report.
func benchRecords() (analyzer.Connection, analyzer.Finding) {
	start := time.Unix(1700000000, 123456000).UTC()
	c := analyzer.Connection{
		Client: netip.MustParseAddrPort("10.1.2.3:51234"), Server: netip.MustParseAddrPort("192.168.10.20:443"), RolesKnown: true, Incarnation: 1,
		FirstFrame: 123456, LastFrame: 123470, Start: start, End: start.Add(1234567 * time.Microsecond), Packets: 12,
		Close: analyzer.FourWay, ActiveCloser: "client", TimeWaitHolder: "client", TimeWaitUntil: "2023-11-14T22:14:21.357Z",
		History: "ShADadFf",
		FIN: analyzer.FinPair{
			Client: &analyzer.FinAck{Frame: 123467, AckedBy: 123468, AckedAfterMS: f64(0.231)},
			Server: &analyzer.FinAck{Frame: 123469, AckedBy: 123470, AckedAfterMS: f64(0.187)},
		},
		FINs: analyzer.Pair{Client: 1, Server: 1},
	}
	f := analyzer.Finding{
		Kind: analyzer.FinRetransmit, Client: netip.MustParseAddrPort("10.1.2.3:51234"), Server: netip.MustParseAddrPort("192.168.10.20:443"), Incarnation: 1,
		Frames: []uint64{123467, 123471, 123480}, Time: start, Count: u64(2), Sender: "client", Cause: analyzer.CauseNotAcked,
		IntervalsMS: []float64{201.5, 403.25}, Message: "client's FIN retransmitted 2 times (201ms, 403ms apart)",
	}
	return c, f
}

func BenchmarkRecordJSON(b *testing.B) {
	c, f := benchRecords()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var dst []byte
	var err error
	b.Run("connection/encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(&c); err != nil {
				b.Fatal(err)
			}
			dst = append(dst[:0], bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	})
	b.Run("connection/appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if dst, err = appendConnectionJSON(dst[:0], &c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("finding/encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(&f); err != nil {
				b.Fatal(err)
			}
			dst = append(dst[:0], bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	})
	b.Run("finding/appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if dst, err = appendFindingJSON(dst[:0], &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ndjson_connection/encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(ndjsonConnection(&c)); err != nil {
				b.Fatal(err)
			}
			dst = append(dst[:0], buf.Bytes()...)
		}
	})
	b.Run("ndjson_connection/appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if dst, err = appendConnectionNDJSON(dst[:0], &c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

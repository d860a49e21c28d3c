package report

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
)

// TestIncidentJSON: appendIncidentJSON writes what encoding/json writes of an
// incident (SetEscapeHTML(false), then EscapeControls), and AppendIncidentNDJSON the
// same members in its record, for the incidents of every shape: empty and nil
// lists, zones, VLAN tags, every string escape, a time encoding/json refuses (its
// error).
func TestIncidentJSON(t *testing.T) {
	strs := []string{"", "plain", `q"b\`, "\x00\n\t", "<&>", "\x7f\u0085\u009b", "é\u2028", "\xff bad", "ip.addr==10.0.0.1 && !vlan"}
	eps := []netip.AddrPort{{}, netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[fe80::1%eth\u009b0]:443"), netip.MustParseAddrPort("[::ffff:1.2.3.4]:1")}
	times := []time.Time{{}, time.Date(2024, 3, 1, 12, 0, 0, 1405000, time.UTC), time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("y", 25*3600))}
	var cases []Incident
	for i, s := range strs {
		cases = append(cases, Incident{
			Kind: analyzer.Kind(s), Findings: []analyzer.Kind{analyzer.Kind(s), analyzer.MissingFinalAck},
			Client: eps[i%len(eps)], Server: eps[(i+1)%len(eps)], Tunnel: s, Incarnation: i - 2,
			Time: times[i%2], FirstFrame: uint64(i), LastFrame: uint64(1 << 63), Sender: s,
			Outcome: analyzer.Outcome(s), Verdict: analyzer.Verdict(s), Summary: s + s, Filter: s,
		})
	}
	cases = append(cases, Incident{}, Incident{Findings: []analyzer.Kind{}, VLAN: []uint16{}}, Incident{VLAN: []uint16{0, 4095, 65535}})
	for _, tm := range times {
		cases = append(cases, Incident{Time: tm})
	}
	for _, in := range cases {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		wantErr := enc.Encode(&in)
		want := bytes.TrimSuffix(EscapeControls(buf.Bytes()), []byte("\n"))
		got, err := appendIncidentJSON([]byte("x"), &in)
		switch {
		case err != nil || wantErr != nil:
			if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
				t.Errorf("%#v: error %v, encoding/json %v", in, err, wantErr)
			}
		case string(got) != "x"+string(want):
			t.Errorf("\n got  %s\n want x%s", got, want)
		}
		// The NDJSON record: the same members, "type":"incident" first, a newline;
		// nothing appended on an error.
		got, err = AppendIncidentNDJSON([]byte("x"), &in)
		switch {
		case err != nil || wantErr != nil:
			if err == nil || wantErr == nil || err.Error() != wantErr.Error() || string(got) != "x" {
				t.Errorf("%#v: NDJSON %q, error %v, encoding/json %v", in, got, err, wantErr)
			}
		case string(got) != `x{"type":"incident",`+string(want[1:])+"\n":
			t.Errorf("\n got  %s\n want x{\"type\":\"incident\",%s", got, want[1:])
		}
	}
}

// TestSortIncidentsStable: SortIncidents orders by time, first frame and kind, and
// keeps the order of incidents equal in all three (as sort.SliceStable did), both
// for a few (insertion) and for many (by their places).
func TestSortIncidentsStable(t *testing.T) {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	kinds := []analyzer.Kind{analyzer.MissingFinalAck, analyzer.ReuseIn2MSL, analyzer.FinRetransmit}
	for _, n := range []int{0, 1, 5, 12, 13, 200} {
		incs := make([]Incident, n)
		for i := range incs {
			// Few distinct keys: many ties, told apart by Incarnation (the order given).
			incs[i] = Incident{Time: base.Add(time.Duration(i*7%3) * time.Nanosecond), FirstFrame: uint64(i * 5 % 2), Kind: kinds[i*11%3], Incarnation: i}
		}
		want := slices.Clone(incs)
		sort.SliceStable(want, func(i, j int) bool { return incidentBefore(&want[i], &want[j]) })
		SortIncidents(incs)
		for i := range incs {
			if incs[i].Incarnation != want[i].Incarnation {
				t.Fatalf("n=%d: at %d incident %d, want %d", n, i, incs[i].Incarnation, want[i].Incarnation)
			}
		}
	}
}

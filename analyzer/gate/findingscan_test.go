package gate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// decodeDiffers says how decodeSavedFinding decodes raw differently from
// json.Unmarshal ("" when it does not, or leaves raw to it); accepted reports
// whether it decoded raw itself.
func decodeDiffers(raw string) (msg string, accepted bool) {
	var want savedFinding
	wantErr := json.Unmarshal([]byte(raw), &want)
	var got savedFinding
	if !decodeSavedFinding([]byte(raw), &got, map[string]string{}) {
		return "", false
	}
	if wantErr != nil {
		return "decoded what json.Unmarshal refuses (" + wantErr.Error() + "): " + raw, true
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		return "decoded " + raw + "\n as " + string(g) + "\nwant " + string(w), true
	}
	return "", true
}

// TestDecodeSavedFinding: what decodeSavedFinding decodes, it decodes as
// json.Unmarshal does, and it decodes every finding of the committed captures'
// expected reports (what finack writes); a finding in another form (white space,
// escapes, keys in another case, nulls, numbers that are not whole or do not fit,
// values of another type, duplicate keys, values it reads past) it decodes the
// same or leaves to json.Unmarshal.
func TestDecodeSavedFinding(t *testing.T) {
	reports, err := filepath.Glob("../../testdata/pcaps/*.expected.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range reports {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Findings []json.RawMessage `json:"findings"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, f := range doc.Findings {
			// As written: compact, whatever the indentation around.
			var c bytes.Buffer
			if err := json.Compact(&c, f); err != nil {
				t.Fatal(err)
			}
			msg, accepted := decodeDiffers(c.String())
			if msg != "" {
				t.Errorf("%s: %s", filepath.Base(path), msg)
			}
			if !accepted {
				t.Errorf("%s: a finding as finack writes it left to json.Unmarshal: %s", filepath.Base(path), c.String())
			}
			n++
		}
	}
	if n < 50 {
		t.Fatalf("%d findings in the expected reports: testdata/pcaps holds more", n)
	}
	base := `"kind":"fin_retransmit","client":"10.0.0.1:1","server":"[fd00::2]:80","vlan":[10,20],"server_vlan":[],"tunnel":"vxlan 7",` +
		`"incarnation":3,"frames":[1,2,18446744073709551615],"count":4,"outcome":"accepted","verdict":"safe_by_sequence","sender":"client","cause":"c"`
	cases := []struct {
		raw    string
		accept bool
	}{
		{`{` + base + `}`, true},
		{`{}`, true},
		{`{"message":"a \"q\" \\ \u00e9","time":"2026-01-01T00:00:00Z","evidence":{"a":[1,{"b":null}],"c":true},"n":-1.5e3,` + base + `}`, true},
		{`{"kind":"a","kind":"b","frames":[1],"frames":[2,3],"count":1,"count":2}`, true},
		{`{"frames":[]}`, true},
		{`{"incarnation":-2}`, true},
		{`{"incarnation":-0}`, true},
		{`{"count":0}`, true},
		{`{"client":""}`, true},
		{`{ "kind":"a"}`, false},
		{`{"kind" :"a"}`, false},
		{`{"KIND":"a"}`, false},
		{`{"Frames":[1]}`, false},
		{`{"kind":"a\"b"}`, false},
		{`{"kind":"é"}`, false},
		{`{"k\u0069nd":"a"}`, false},
		{`{"kind":null}`, false},
		{`{"frames":null}`, false},
		{`{"count":null}`, false},
		{`{"client":null}`, false},
		{`{"kind":5}`, false},
		{`{"incarnation":"5"}`, false},
		{`{"incarnation":1.5}`, false},
		{`{"incarnation":1e3}`, false},
		{`{"incarnation":99999999999999999999}`, false},
		{`{"frames":[-1]}`, false},
		{`{"frames":[1.0]}`, false},
		{`{"frames":[18446744073709551616]}`, false},
		{`{"vlan":[65536]}`, false},
		{`{"client":"10.0.0.1"}`, false},
		{`{"client":"nonsense:80"}`, false},
		{`[]`, false},
		{`"x"`, false},
		{`null`, false},
	}
	for _, c := range cases {
		msg, accepted := decodeDiffers(c.raw)
		if msg != "" {
			t.Error(msg)
		}
		if accepted != c.accept {
			t.Errorf("%s: decoded itself %v, want %v", c.raw, accepted, c.accept)
		}
	}
}

// FuzzDecodeSavedFinding: on any valid JSON value, decodeSavedFinding decodes as
// json.Unmarshal does or leaves the value to it.
func FuzzDecodeSavedFinding(f *testing.F) {
	for _, seed := range []string{`{"kind":"fin_retransmit","client":"10.0.0.1:1","server":"10.0.0.2:80","frames":[1],"count":2}`,
		`{"kind":"a","x":[{"y":"\""}],"vlan":[1,2],"incarnation":-3}`, `{}`, `[]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return // the scanner hands on only values it checked
		}
		if msg, _ := decodeDiffers(raw); msg != "" {
			t.Fatal(msg)
		}
	})
}

package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

// TestUnreadableLinkType: frames of a link type finack does not decode give one
// warning line on stderr and one in the report (text and JSON), naming the link
// type and the frames it cost, instead of a silent "0 connections"; a capture
// whose link types are all read has none.
func TestUnreadableLinkType(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, link layers.LinkType) {
		synth.WriteLinkFile(t, filepath.Join(dir, name), link)
	}
	write("user0.pcap", 147)
	write("raw.pcap", 101)
	for _, tc := range []struct {
		file, want string // want: the warning, "" for none
	}{
		{"user0.pcap", "11 frames skipped: link type 147 not decoded"},
		{"raw.pcap", ""},
	} {
		out, stderr, code := runIn(t, dir, "-r", tc.file)
		if code != 0 {
			t.Fatalf("%s: exit %d, stderr %q", tc.file, code, stderr)
		}
		jout, jerr, code := runIn(t, dir, "-r", tc.file, "-o", "json")
		if code != 0 {
			t.Fatalf("%s json: exit %d", tc.file, code)
		}
		var doc struct {
			Summary struct {
				Warnings []string `json:"warnings"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(jout), &doc); err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if strings.Contains(out, "warning") || stderr != "" || jerr != "" || doc.Summary.Warnings != nil {
				t.Errorf("%s: a warning where none is due: %q %q %q %v", tc.file, out, stderr, jerr, doc.Summary.Warnings)
			}
			continue
		}
		if n := strings.Count(out, "\nwarning      "+tc.want); n != 1 {
			t.Errorf("%s: %d report lines with %q:\n%s", tc.file, n, tc.want, out)
		}
		for _, e := range []string{stderr, jerr} {
			if strings.Count(e, "\n") != 1 || !strings.Contains(e, tc.want) {
				t.Errorf("%s: stderr %q, want one line with %q", tc.file, e, tc.want)
			}
		}
		if len(doc.Summary.Warnings) != 1 || !strings.HasPrefix(doc.Summary.Warnings[0], tc.want) {
			t.Errorf("%s: JSON warnings %q", tc.file, doc.Summary.Warnings)
		}
	}
}

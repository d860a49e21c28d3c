package pipeline

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// unreadableLink is a live source on an interface whose link type (147) finack
// does not decode, as pcap.Open opens it: the stats name the link type
// before the first frame, and each frame is counted as skipped (the file behind it
// has that link type).
type unreadableLink struct{ synth.FileSource }

func (u unreadableLink) Stats() capture.Stats {
	st := u.FileSource.Stats()
	st.UnsupportedLinkTypes = []uint16{147}
	return st
}

// TestUnreadableLinkTypeLive: a live capture on a link type finack does not decode
// says so in one warning line on stderr when it starts, not after a run that can
// only end with 0 connections, and its report (text and JSON) carries the
// warning a file's report has, with the frames it cost.
func TestUnreadableLinkTypeLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "user0.pcap")
	synth.WriteLinkFile(t, path, 147)
	const start = "finack: WARNING: link type 147 not decoded: its frames are skipped (finack reads "
	const end = "11 frames skipped: link type 147 not decoded"
	for _, output := range []string{"text", "json"} {
		r, err := capture.Open([]string{path}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		prof, err := analyzer.LookupProfile("linux")
		if err != nil {
			t.Fatal(err)
		}
		cfg := LiveConfig{
			Options: report.Options{Output: output, TimeWait: reassembly.DefaultTimeWait, View: report.ViewOptions{Profile: prof},
				MaxConns: DefaultMaxConns, IdleTimeout: DefaultIdleTimeout},
			Live: LiveOptions{Iface: "test0", MaxFindings: DefaultMaxFindings, Snaplen: capture.DefaultSnapLen},
		}
		var out, errb bytes.Buffer
		run := NewLiveRun(cfg, unreadableLink{synth.FileSource{R: r}}, &out, &errb, nil)
		if got := errb.String(); !strings.HasPrefix(got, start) || strings.Count(got, "\n") != 1 {
			t.Errorf("%s: stderr at the start %q, want one line %q...", output, got, start)
		}
		var stop atomic.Bool
		by, err := run.Loop(&stop)
		if err != nil {
			t.Fatal(err)
		}
		if code := run.Finish(by, nil); code != ExitOK {
			t.Fatalf("%s: exit %d", output, code)
		}
		synth.CheckClose(t, r)
		if n := strings.Count(errb.String(), "\n"); n != 1 {
			t.Errorf("%s: %d lines on stderr, want the one warning:\n%s", output, n, errb.String())
		}
		rep := out.String()
		if output == "text" {
			if n := strings.Count(rep, "\nwarning      "+end); n != 1 {
				t.Errorf("text: %d report lines with %q:\n%s", n, end, rep)
			}
			continue
		}
		var doc struct {
			Summary struct {
				Warnings []string `json:"warnings"`
			} `json:"summary"`
		}
		if err := json.Unmarshal([]byte(rep), &doc); err != nil {
			t.Fatalf("json: %v\n%s", err, rep)
		}
		if len(doc.Summary.Warnings) != 1 || !strings.HasPrefix(doc.Summary.Warnings[0], end) {
			t.Errorf("json: warnings %q, want %q...", doc.Summary.Warnings, end)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/capture/synth"
)

// TestHTMLModes: --html beside the other ways to run: the netstat view at --at as
// well as at the end, stdin (no second pass: no ladders, said on the page),
// --separate (a page per capture), a damaged capture (the error on the page), and
// an output that is one of the inputs or in no directory (refused before reading).
func TestHTMLModes(t *testing.T) {
	dir := t.TempDir()
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join(pcapDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole, err := os.ReadFile(abs("final-ack-dropped.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(cut, whole[:len(whole)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	inputCopy := filepath.Join(dir, "input.pcap")
	if err := os.WriteFile(inputCopy, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string // a capture to read as -r -
		code  int
		pages map[string][]string // page → what it must hold
		err   string
	}{
		{name: "at", args: []string{"-r", abs("final-ack-dropped.pcap"), "--at", "+1s"}, pages: map[string][]string{"out.html": {
			"<h3>at the end of the capture, 2026-11-24T14:59:59.024486Z</h3>",
			"<h3>at --at, 2026-11-24T14:59:58.592196Z</h3>",
			`id="ladder-1"`}}},
		{name: "stdin", args: []string{"-r", "-"}, stdin: abs("final-ack-dropped.pcap"), pages: map[string][]string{"out.html": {
			"no ladders: drawing them reads the capture a second time", `data-kinds="missing_final_ack fin_retransmit"`}}},
		{name: "separate", args: []string{"--separate", "-r", abs("final-ack-dropped.pcap"), "-r", abs("server-close.pcap")}, pages: map[string][]string{
			"out-final-ack-dropped.pcap.html": {"<title>finack: " + abs("final-ack-dropped.pcap") + "</title>", `id="ladder-1"`},
			"out-server-close.pcap.html":      {"<title>finack: " + abs("server-close.pcap") + "</title>", "No incidents"}}},
		{name: "damaged", args: []string{"-r", cut}, code: pipeline.ExitError, pages: map[string][]string{"out.html": {
			`<p class="error" id="error">error: `}}},
		{name: "no such directory", args: []string{"-r", abs("final-ack-dropped.pcap"), "--html", filepath.Join(dir, "nowhere", "out.html")}, code: pipeline.ExitError,
			err: "--html " + filepath.Join(dir, "nowhere", "out.html") + ": no directory " + filepath.Join(dir, "nowhere")},
		{name: "output is an input", args: []string{"-r", inputCopy, "--html", inputCopy}, code: pipeline.ExitError,
			err: "--html: " + inputCopy + " is one of the captures read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := tc.args
			if tc.err == "" {
				args = append(args, "--html", filepath.Join(out, "out.html"))
			}
			if tc.stdin != "" {
				f, err := os.Open(tc.stdin)
				if err != nil {
					t.Fatal(err)
				}
				defer synth.CheckClose(t, f)
				old := os.Stdin
				os.Stdin = f
				defer func() { os.Stdin = old }()
			}
			_, errOut, code := runIn(t, ".", args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			if tc.err != "" && !strings.Contains(errOut, tc.err) {
				t.Errorf("stderr %q lacks %q", errOut, tc.err)
			}
			for name, wants := range tc.pages {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Error(err)
					continue
				}
				for _, w := range wants {
					if !strings.Contains(string(b), w) {
						t.Errorf("%s lacks %q", name, w)
					}
				}
			}
			if entries, _ := os.ReadDir(out); len(entries) != len(tc.pages) {
				t.Errorf("%d files written, want %d", len(entries), len(tc.pages))
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer/pipeline"
)

// The HTML report is checked in a real browser: headless Chromium loads the page
// finack wrote for a committed capture, runs its script, and the test reads the
// DOM it ends with (--dump-dom) and the console messages it logged
// (--enable-logging=stderr: "CONSOLE" lines). The charts must hold the points and
// bars the capture's JSON report implies, computed here from that report, not
// from the page's own code.

// chromium finds a headless Chromium, or skips the test saying why.
func chromium(t *testing.T) string {
	t.Helper()
	bin := chromiumOrEmpty()
	if bin == "" {
		t.Skip("no headless Chromium (Debian's chromium-headless-shell; .ci/deps --test installs it)")
	}
	return bin
}

func chromiumOrEmpty() string {
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browse loads page in Chromium with mode's flags (--dump-dom, --screenshot=FILE)
// and returns what it printed on stdout and the console messages the page logged.
func browse(t *testing.T, bin, page string, mode ...string) (stdout string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--disable-background-networking", "--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0", "--window-size=1280,2400"}, mode...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+abs)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, tail(errb.String(), 20))
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	return out.String(), console
}

// artifactDir is where the screenshots go: $FINACK_TEST_ARTIFACTS (CI keeps it),
// else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("FINACK_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestBrowserConsoleSeen: the console messages of a page reach browse, so that
// TestHTMLInBrowser's "no console message" means something.
func TestBrowserConsoleSeen(t *testing.T) {
	bin := chromium(t)
	page := filepath.Join(t.TempDir(), "throws.html")
	if err := os.WriteFile(page, []byte(`<!DOCTYPE html><p>x</p><script>console.error("seen-error"); missingFunction();</script>`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, console := browse(t, bin, page, "--dump-dom")
	joined := strings.Join(console, "\n")
	for _, want := range []string{"seen-error", "missingFunction is not defined"} {
		if !strings.Contains(joined, want) {
			t.Errorf("console %q not seen; console lines:\n%s", want, joined)
		}
	}
}

// htmlJSON is what the tests read of -o json.
type htmlJSON struct {
	Summary struct {
		First    time.Time      `json:"first_packet"`
		Last     time.Time      `json:"last_packet"`
		Closes   map[string]int `json:"closes"`
		Findings map[string]int `json:"findings"`
	} `json:"summary"`
	Findings []struct {
		Kind   string `json:"kind"`
		Server string `json:"server"`
	} `json:"findings"`
	Connections []struct {
		Client         string    `json:"client"`
		Server         string    `json:"server"`
		End            time.Time `json:"end"`
		TimeWaitHolder string    `json:"time_wait_holder"`
		TimeWaitUntil  time.Time `json:"time_wait_until"`
		Reused         bool      `json:"reused"`
	} `json:"connections"`
}

func hostOf(endpoint string) string {
	i := strings.LastIndex(endpoint, ":")
	return strings.Trim(endpoint[:i], "[]")
}

// timeWaitPoints is the TIME_WAIT series each host's chart must draw, from the
// JSON report: a capture where TIME_WAIT begins at each holder's last packet (its
// final ACK) and lasts past the capture's end, no 4-tuple reused (the test says so
// when a capture is not one). Points: the count at the first packet, then the
// count after each instant some TIME_WAIT began, then the count at the last packet
// if nothing began then. As "x y" strings, x in seconds to the µs.
func timeWaitPoints(t *testing.T, rep *htmlJSON) map[string][]string {
	starts := map[string]map[time.Time]int{}
	for _, c := range rep.Connections {
		var hosts []string
		switch c.TimeWaitHolder {
		case "client":
			hosts = []string{hostOf(c.Client)}
		case "server":
			hosts = []string{hostOf(c.Server)}
		case "both":
			hosts = []string{hostOf(c.Client), hostOf(c.Server)}
		default:
			continue
		}
		if c.Reused || !c.TimeWaitUntil.After(rep.Summary.Last) {
			t.Fatalf("%s → %s: TIME_WAIT ends within the capture or cut by a reuse: pick a capture where it lasts past the end", c.Client, c.Server)
		}
		for _, h := range hosts {
			if starts[h] == nil {
				starts[h] = map[time.Time]int{}
			}
			starts[h][c.End]++
		}
	}
	x := func(at time.Time) string {
		return strconv.FormatFloat(at.Sub(rep.Summary.First).Seconds(), 'f', 6, 64)
	}
	out := map[string][]string{}
	for h, m := range starts {
		var at []time.Time
		for a := range m {
			at = append(at, a)
		}
		slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		pts := []string{x(rep.Summary.First) + " 0"}
		n := 0
		for _, a := range at {
			n += m[a]
			pts = append(pts, x(a)+" "+strconv.Itoa(n))
		}
		if !at[len(at)-1].Equal(rep.Summary.Last) {
			pts = append(pts, x(rep.Summary.Last)+" "+strconv.Itoa(n))
		}
		out[h] = pts
	}
	return out
}

// svgOf returns the markup of the SVG with this id in the DOM.
func svgOf(t *testing.T, dom, id string) string {
	t.Helper()
	i := strings.Index(dom, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no #%s in the page", id)
	}
	j := strings.Index(dom[i:], "</svg>")
	return dom[i : i+j]
}

var (
	reSeries = regexp.MustCompile(`<g class="series" data-series="([^"]*)">(.*?)</g>`)
	rePoint  = regexp.MustCompile(`<circle class="pt"[^>]* data-x="([^"]*)" data-y="([^"]*)"`)
	reBar    = regexp.MustCompile(`<rect class="bar"[^>]* data-layer="([^"]*)" data-count="(\d+)"`)
	reHBar   = regexp.MustCompile(`<g class="hbar" data-label="([^"]*)" data-total="(\d+)"`)
	reFrame  = regexp.MustCompile(`<g class="seg( evidence)?" data-frame="(\d+)"`)
)

// layerSums adds up the data-count of a chart's bars per layer.
func layerSums(svg string) map[string]int {
	m := map[string]int{}
	for _, b := range reBar.FindAllStringSubmatch(svg, -1) {
		n, _ := strconv.Atoi(b[2])
		m[b[1]] += n
	}
	return m
}

func withoutZeros(m map[string]int, skip ...string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v > 0 && !slices.Contains(skip, k) {
			out[k] = v
		}
	}
	return out
}

func TestHTMLInBrowser(t *testing.T) {
	bin := chromium(t)
	shots := artifactDir(t)
	for _, tc := range []struct {
		pcap string
		// ladderFrames, evidence: the frames the first ladder draws, and those of
		// them a finding names.
		ladderFrames, evidence []int
		foldText               string
	}{
		{pcap: "final-ack-dropped.pcap", ladderFrames: []int{1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14}, evidence: []int{10, 11, 12, 13, 14},
			foldText: "2 segment(s) not drawn, frames 4-5"},
		{pcap: "many-connections.pcap"},
		{pcap: "server-close.pcap"},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			page := filepath.Join(t.TempDir(), "report.html")
			out, errOut, code := runIn(t, pcapDir, "-r", tc.pcap, "-o", "json", "--html", page)
			if code != pipeline.ExitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var rep htmlJSON
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			// Self-contained: nothing to fetch.
			if m := regexp.MustCompile(`(?i)(\ssrc=|href="(https?:)?//|url\((["']?)(https?:)?//|@import)`).Find(raw); m != nil {
				t.Errorf("the page refers to something outside it: %q", m)
			}

			dom, console := browse(t, bin, page, "--dump-dom")
			if len(console) > 0 {
				t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
			}
			shot := filepath.Join(shots, strings.TrimSuffix(tc.pcap, ".pcap")+".png")
			if _, console := browse(t, bin, page, "--screenshot="+shot); len(console) > 0 {
				t.Errorf("console messages (screenshot):\n%s", strings.Join(console, "\n"))
			}
			t.Logf("screenshot: %s", shot)

			// The script ran: it counts the incident rows.
			nIncidents := strings.Count(dom, "<tr data-kinds=")
			if nIncidents > 0 && !strings.Contains(dom, `<span id="incident-count">`+strconv.Itoa(nIncidents)+" of "+strconv.Itoa(nIncidents)+" shown</span>") {
				t.Errorf("incident count not filled in by the script (%d rows)", nIncidents)
			}
			if (nIncidents > 0) != (len(rep.Findings) > 0) {
				t.Errorf("%d incident rows for %d findings", nIncidents, len(rep.Findings))
			}

			// TIME_WAIT per host: a point per change.
			want := timeWaitPoints(t, &rep)
			got := map[string][]string{}
			for _, s := range reSeries.FindAllStringSubmatch(svgOf(t, dom, "chart-timewait-svg"), -1) {
				for _, p := range rePoint.FindAllStringSubmatch(s[2], -1) {
					got[s[1]] = append(got[s[1]], p[1]+" "+p[2])
				}
			}
			if len(want) == 0 {
				t.Fatal("no host holds TIME_WAIT: the capture tests nothing here")
			}
			for h, w := range want {
				if !slices.Equal(got[h], w) {
					t.Errorf("TIME_WAIT of %s: points\n%v\nwant\n%v", h, got[h], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("TIME_WAIT series for %d hosts, want %d", len(got), len(want))
			}

			// Closes per second and findings over time: every close and finding
			// in some column, per shape and kind.
			if g, w := layerSums(svgOf(t, dom, "chart-closes-svg")), withoutZeros(rep.Summary.Closes, "none"); !mapsEqual(g, w) {
				t.Errorf("closes chart %v, want %v", g, w)
			}
			if g, w := layerSums(svgOf(t, dom, "chart-findings-svg")), withoutZeros(rep.Summary.Findings); !mapsEqual(g, w) {
				t.Errorf("findings chart %v, want %v", g, w)
			}
			// Findings per server endpoint: a bar each, its total.
			perServer := map[string]int{}
			for _, f := range rep.Findings {
				perServer[f.Server]++
			}
			bars := map[string]int{}
			for _, b := range reHBar.FindAllStringSubmatch(svgOf(t, dom, "chart-endpoints-svg"), -1) {
				bars[b[1]], _ = strconv.Atoi(b[2])
			}
			if !mapsEqual(bars, perServer) {
				t.Errorf("findings per server endpoint: bars %v, want %v", bars, perServer)
			}

			if tc.ladderFrames == nil {
				if strings.Contains(dom, `class="ladder"`) {
					t.Error("a ladder drawn for a capture without findings")
				}
				return
			}
			lad := svgOf(t, dom, "ladder-1-svg")
			var frames, evidence []int
			for _, m := range reFrame.FindAllStringSubmatch(lad, -1) {
				n, _ := strconv.Atoi(m[2])
				frames = append(frames, n)
				if m[1] != "" {
					evidence = append(evidence, n)
				}
			}
			if !slices.Equal(frames, tc.ladderFrames) || !slices.Equal(evidence, tc.evidence) {
				t.Errorf("ladder frames %v (evidence %v), want %v (evidence %v)", frames, evidence, tc.ladderFrames, tc.evidence)
			}
			if !strings.Contains(lad, tc.foldText) {
				t.Errorf("ladder lacks %q", tc.foldText)
			}
			if !strings.Contains(dom, "frame.number&gt;=1 &amp;&amp; frame.number&lt;=14") {
				t.Error("ladder without its Wireshark filter")
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// TestHTMLTableInBrowser: the incident table filtered and sorted by the script, as
// the address's fragment asks, over gen-stale-earlier-incarnations (five findings on
// one 4-tuple, each its own incident: three safe, accepted reuses and two stale
// segments), read as the first frame of each row shown, in order; and
// gen-first-fin-unacked's four findings, two per unanswered FIN, as two incidents.
func TestHTMLTableInBrowser(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "stale.html")
	if _, errOut, code := runIn(t, pcapDir, "-r", "gen-stale-earlier-incarnations.pcap", "--html", page); code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	reRow := regexp.MustCompile(`<tr data-kinds="[^"]*"( data-benign="1")?( hidden="")?>(?:<td[^>]*>[^<]*</td>){5}<td data-v="(\d+)">`)
	for _, tc := range []struct {
		fragment string
		shown    []string
	}{
		{"", []string{"11", "22", "28", "29", "37"}},
		{"#benign=0", []string{"28", "29"}},
		{"#kind=reuse_in_2msl&sort=frames&dir=desc", []string{"37", "22", "11"}},
		{"#q=incarnation%202%20reached&sort=%23&dir=asc", []string{"29"}},
		{"#sort=kinds&dir=desc", []string{"28", "29", "11", "22", "37"}},
	} {
		t.Run(tc.fragment, func(t *testing.T) {
			abs, _ := filepath.Abs(page)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
				"--user-data-dir="+t.TempDir(), "--enable-logging=stderr", "--v=0", "--dump-dom", "file://"+abs+tc.fragment)
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, tail(errb.String(), 20))
			}
			if strings.Contains(errb.String(), ":CONSOLE") {
				t.Errorf("console messages:\n%s", errb.String())
			}
			var shown []string
			rows := reRow.FindAllStringSubmatch(out.String(), -1)
			for _, m := range rows {
				if m[2] == "" {
					shown = append(shown, m[3])
				}
			}
			if len(rows) != 5 || !slices.Equal(shown, tc.shown) {
				t.Errorf("%d rows, shown %v, want 5 rows, shown %v", len(rows), shown, tc.shown)
			}
			if want := fmt.Sprintf(`<span id="incident-count">%d of 5 shown</span>`, len(tc.shown)); !strings.Contains(out.String(), want) {
				t.Errorf("no %s", want)
			}
		})
	}

	page = filepath.Join(dir, "unacked.html")
	if _, errOut, code := runIn(t, pcapDir, "-r", "gen-first-fin-unacked.pcap", "--html", page); code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dom, console := browse(t, bin, page, "--dump-dom")
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	if n := strings.Count(dom, `<tr data-kinds="first_fin_unacked fin_retransmit">`); n != 2 {
		t.Errorf("%d incidents of first_fin_unacked and fin_retransmit, want 2", n)
	}
}

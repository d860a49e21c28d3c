package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/pipeline"
	"github.com/finack/finack/analyzer/report"
	"github.com/finack/finack/analyzer/spill"
	"github.com/finack/finack/reassembly"
)

// TestHTMLStreamedPictures: the page --html writes from the streaming trackers (what
// report.PictureCollector counts of each connection as it is handed out, merged
// across --workers) is the page drawn from every connection kept until the end
// (HoldIncarnations: report.NewPictures), byte for byte, for every
// committed capture, at the end and at --at, whatever the number of workers.
//
// One difference, by design: the streamed port pressure counts a client port tied
// up once per connection, where the kept one counts it once per pair at a time
// (the union of its spans). They differ where one 4-tuple is open at once on two
// VLANs or tunnels (two connections, as the trackers key them): there the streamed
// chart counts both, and the rest of the page is the same.
func TestHTMLStreamedPictures(t *testing.T) {
	samePortTwice := map[string]string{ // capture → the streamed port pressure
		"gen-ethernet-vlan-qinq.pcap": "192.0.2.1 → 192.0.2.10:80: 3 of 28232 ports",
		"gen-gre.pcap":                "192.0.2.22 → 192.0.2.220:443: 2 of 28232 ports",
		"gen-vxlan.pcap":              "192.0.2.21 → 192.0.2.210:80: 2 of 28232 ports",
	}
	portsChart := regexp.MustCompile(`(?s)<figure class="fig" id="chart-ports">.*?</figure>`)
	captures, err := filepath.Glob(filepath.Join(pcapDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	footer := regexp.MustCompile(`<footer>Written by finack [^<]* at [^<;]*`)
	// tunedPage writes the page of finack args (options tuned by tune) to dir/name.
	tunedPage := func(t *testing.T, dir, name string, tune func(*options), args ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		_, stderr, code := runTunedIn(t, ".", tune, append(args, "-q", "--html", out)...)
		if code != 0 && code != 1 && code != 2 {
			t.Fatalf("finack %v: exit %d: %s", args, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return footer.ReplaceAllString(string(b), "<footer>")
	}
	page := func(t *testing.T, dir, name string, args ...string) string {
		t.Helper()
		return tunedPage(t, dir, name, nil, args...)
	}
	keptPage := func(t *testing.T, dir, name string, args ...string) string {
		t.Helper()
		return tunedPage(t, dir, name, func(o *options) { o.HoldIncarnations = true }, args...)
	}
	n := 0
	for _, c := range captures {
		base := filepath.Base(c)
		if base == "README.md" || strings.Contains(base, ".expected.") || strings.HasSuffix(base, ".txt") {
			continue
		}
		n++
		for _, extra := range [][]string{nil} {
			t.Run(base+strings.Join(extra, ""), func(t *testing.T) {
				dir := t.TempDir()
				args := append([]string{"-r", c}, extra...)
				kept := keptPage(t, dir, "kept.html", append(args, "--workers", "1")...)
				for _, w := range []string{"1", "2", "3"} {
					streamed := page(t, dir, "streamed"+w+".html", append(args, "--workers", w)...)
					if want, ok := samePortTwice[base]; ok {
						if !strings.Contains(streamed, want) {
							t.Errorf("--workers %s: the port pressure chart lacks %q", w, want)
						}
						streamed, kept = portsChart.ReplaceAllString(streamed, ""), portsChart.ReplaceAllString(kept, "")
					}
					if streamed != kept {
						t.Errorf("--workers %s: the streamed page differs from the kept one:\n%s", w, firstDiff(kept, streamed))
					}
				}
			})
		}
	}
	if n < 50 {
		t.Fatalf("%d captures compared: testdata/pcaps holds more", n)
	}
}

// TestPicturesAt: the netstat view at --at that report.PictureCollector counts, each
// connection's state at that moment as it is handed out, is the view of every
// connection kept until the end (HoldIncarnations: report.NewPictures), for every
// committed capture, with any number of workers. The rest of the pictures as well.
func TestPicturesAt(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join(pcapDir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range captures {
		for _, at := range []string{"+1s", "+0s", "+2m"} {
			o := report.Options{Files: []string{c}, Output: "text", TimeWait: reassembly.DefaultTimeWait, HTML: "page.html",
				MaxConns: pipeline.DefaultMaxConns, View: report.ViewOptions{At: at, Ports: analyzer.LinuxPortRange(), PortPressure: 0.5}}
			kept := o
			kept.HoldIncarnations, kept.Workers = true, 1
			want, _, err := pipeline.ReadCapture(kept, nil)
			if err != nil {
				t.Fatal(err)
			}
			want.Pictures.Closes = nil // drawn from the connections kept
			for _, w := range []int{1, 2, 3} {
				o.Workers = w
				got, _, err := pipeline.ReadCapture(o, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Pictures.States) != 2 || !got.Pictures.States[1].Asked {
					t.Fatalf("%s --at %s: no view at --at: %+v", c, at, got.Pictures.States)
				}
				got.Pictures.Closes = nil
				// The ladders the streamed run picked: the kept document holds the
				// connections instead (TestHTMLStreamedPictures compares the pages).
				got.Pictures.Ladders = nil
				// The page's own incidents, beside the text report's: the kept
				// document's are all of them (TestHTMLStreamedPictures compares the
				// tables); counted, they are the same.
				bad := 0
				for i := range want.Incidents {
					if !report.BenignIncident(&want.Incidents[i]) {
						bad++
					}
				}
				if n := got.Pictures.Incidents; n == nil || got.Pictures.PageIncidents == nil || n.All != len(want.Incidents) || n.Bad != bad {
					t.Errorf("%s --at %s --workers %d: the page's incidents %+v (%d listed), want %d, %d not benign",
						filepath.Base(c), at, w, n, len(got.Pictures.PageIncidents), len(want.Incidents), bad)
				}
				got.Pictures.Incidents, got.Pictures.PageIncidents = nil, nil
				if filepath.Base(c) == "gen-hostile-time-backwards.pcap" {
					// Its timestamps step back an hour before the first one: a
					// +DURATION counts from the first timestamp read, which the
					// page's view names; the kept view counts from the earliest.
					d, _ := time.ParseDuration(at[1:])
					if g := got.Pictures.States[1].At; !g.Equal(time.Date(2024, 3, 1, 16, 0, 0, 0, time.UTC).Add(d)) {
						t.Errorf("%s --at %s: the view at %s", filepath.Base(c), at, g)
					}
					got.Pictures.States, want.Pictures.States = got.Pictures.States[:1], want.Pictures.States[:1]
				}
				if strings.HasPrefix(filepath.Base(c), "gen-") && (strings.Contains(c, "vlan") || strings.Contains(c, "gre") || strings.Contains(c, "vxlan")) {
					got.Pictures.TimeWait.PortPressure, want.Pictures.TimeWait.PortPressure = nil, nil // see TestHTMLStreamedPictures
				}
				if !reflect.DeepEqual(got.Pictures, want.Pictures) {
					t.Errorf("%s --at %s --workers %d:\n got %+v\nwant %+v", filepath.Base(c), at, w, got.Pictures, want.Pictures)
				}
			}
		}
	}
}

// firstDiff shows where two texts part.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(i-300, 0)
	return "kept:     ..." + a[from:min(i+300, len(a))] + "\nstreamed: ..." + b[from:min(i+300, len(b))]
}

// TestStatesStreamedAsHeld: the --states view (the netstat view at the end and at
// --at, the TIME_WAIT per host with its chart, the closing side per server, the
// port pressure per pair) that report.ViewCollector measures of each connection as
// the trackers hand it out, merged across --workers and through spans sorted on
// disk, is the view of every connection kept until the end (HoldIncarnations:
// report.NewView), for every committed capture.
func TestStatesStreamedAsHeld(t *testing.T) {
	captures, err := filepath.Glob(filepath.Join(pcapDir, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	n, hosts, pairs := 0, 0, 0
	for _, c := range captures {
		if strings.Contains(c, ".expected.") {
			continue
		}
		n++
		for _, at := range []string{"", "+1s", "+0s", "+2m"} {
			o := report.Options{Files: []string{c}, Output: "json", TimeWait: reassembly.DefaultTimeWait,
				MaxConns: pipeline.DefaultMaxConns, View: report.ViewOptions{States: true, At: at, Ports: analyzer.LinuxPortRange(), PortPressure: 0.5}}
			held := o
			held.HoldIncarnations, held.Workers = true, 1
			want, _, err := pipeline.ReadCapture(held, nil)
			if err != nil {
				t.Fatal(err)
			}
			hosts += len(want.View.TimeWait.Hosts)
			pairs += len(want.View.TimeWait.PortPressure)
			for _, w := range []int{1, 2, 3} {
				o.Workers = w
				o.Spill = spill.Options{}
				if w == 3 {
					o.Spill = spill.Options{MaxRecords: 3, Dir: t.TempDir()} // the spans in runs on disk
				}
				got, _, err := pipeline.ReadCapture(o, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got.View == nil {
					t.Fatalf("%s --at %q --workers %d: no view", filepath.Base(c), at, w)
				}
				gv, wv := *got.View, *want.View
				if filepath.Base(c) == "gen-hostile-time-backwards.pcap" && at != "" {
					// A +DURATION counts from the first timestamp read (the held view:
					// from the earliest, an hour before it): see TestPicturesAt.
					d, _ := time.ParseDuration(at[1:])
					if !gv.At.Equal(time.Date(2024, 3, 1, 16, 0, 0, 0, time.UTC).Add(d)) {
						t.Errorf("%s --at %s: the view at %s", filepath.Base(c), at, gv.At)
					}
					gv.At, gv.States, gv.Hosts = wv.At, wv.States, wv.Hosts
				}
				if !reflect.DeepEqual(gv, wv) {
					t.Errorf("%s --at %q --workers %d:\n got %+v\nwant %+v", filepath.Base(c), at, w, gv, wv)
				}
			}
		}
	}
	if n < 50 || hosts == 0 || pairs == 0 {
		t.Fatalf("%d captures compared (%d hosts holding TIME_WAIT, %d client → server pairs): testdata/pcaps holds more", n, hosts, pairs)
	}
}

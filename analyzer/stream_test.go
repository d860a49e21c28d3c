package analyzer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// TestStreamingEqualsBatch reads every committed capture (committedCaptures) twice:
// with a tracker that keeps every incarnation, and with a streaming tracker that
// hands each one to a Stream as soon as it is over and forgets it. The reports must
// be the same. The streaming tracker remembers how many incarnations each 4-tuple it
// forgot had (KeepCounts), as finack's do, so that a 4-tuple used again after its
// TIME_WAIT is numbered on, not from 1.
func TestStreamingEqualsBatch(t *testing.T) {
	// With a TIME_WAIT of 1 s, connections are over, and their 4-tuples forgotten by
	// the streaming tracker, in the middle of most captures: what a segment finds
	// must not depend on that (a batch tracker keeps every flow).
	for _, tw := range []time.Duration{0, time.Second} {
		for _, set := range committedCaptures(t) {
			t.Run(fmt.Sprintf("%s/time-wait-%v", filepath.Base(set[0]), tw), func(t *testing.T) {
				batch := report(t, set, false, tw)
				stream := report(t, set, true, tw)
				b, _ := json.Marshal(batch)
				s, _ := json.Marshal(stream)
				if string(b) != string(s) {
					t.Errorf("streaming report differs from the batch report:\nbatch  %s\nstream %s", b, s)
				}
			})
		}
	}
}

// committedCaptures returns the captures in testdata/pcaps, each as the files read
// together: one file (pcap, pcapng, either gzip-compressed), or the pieces of a
// rotated capture (NAME.pcap0, NAME.pcap1, ...; tcpdump -C numbers them so) in order.
// Every file there but the expected reports, the ss(8) records and the README is a
// capture: one this does not read fails the tests that use it.
func committedCaptures(t testing.TB) [][]string {
	t.Helper()
	sets, err := synth.CaptureSets("../testdata/pcaps")
	if err != nil {
		t.Fatal(err)
	}
	return sets
}

// TestStreamingForgets: on a capture of many sequential connections, a streaming
// tracker holds a handful of incarnations at a time, not all of them, and a cap
// evicts the least recently active.
func TestStreamingForgets(t *testing.T) {
	var peak int
	tr := reassembly.NewTracker(reassembly.Config{TimeWait: time.Millisecond, Done: func(*reassembly.Incarnation) {}})
	feedFile(t, "../testdata/pcaps/many-connections.pcap", tr)
	st := tr.Stats()
	peak = st.PeakHeld
	if st.Finished != 100 || peak > 20 || st.Tracked != 0 {
		t.Errorf("with a 1 ms TIME_WAIT: finished %d (want 100), peak held %d (want a handful), held at the end %d", st.Finished, peak, st.Tracked)
	}
	tr = reassembly.NewTracker(reassembly.Config{MaxConnections: 10, Done: func(*reassembly.Incarnation) {}})
	feedFile(t, "../testdata/pcaps/many-connections.pcap", tr)
	st = tr.Stats()
	if st.PeakHeld > 10 || st.Evicted == 0 || st.Finished != 100 {
		t.Errorf("with a cap of 10: peak held %d, evicted %d, finished %d", st.PeakHeld, st.Evicted, st.Finished)
	}
}

func feedFile(t testing.TB, file string, tr *reassembly.Tracker) {
	t.Helper()
	feedFiles(t, []string{file}, tr)
}

// feedFiles feeds the files, read as one capture, to tr.
func feedFiles(t testing.TB, files []string, tr *reassembly.Tracker) {
	t.Helper()
	tr.Finish(reassembly.InstantOf(synth.EachSegment(t, files, tr.Add)))
}

// report: the report of files read as one capture, by a tracker that keeps every
// incarnation or by a Stream fed by a streaming tracker with a cap of max (0: none)
// that numbers incarnations as the first does (KeepCounts).
func report(t *testing.T, files []string, streaming bool, tw time.Duration) Report {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	if !streaming {
		tr := reassembly.NewTracker(reassembly.Config{TimeWait: tw})
		feedFiles(t, files, tr)
		return Analyze(tr.Incarnations(), Config{TimeWait: tw})
	}
	return streamReportTW(t, files, reassembly.Config{TimeWait: tw, KeepCounts: true}, tw)
}

// streamReport: the report of a Stream fed by a streaming tracker configured by cfg.
func streamReport(t *testing.T, files []string, cfg reassembly.Config) Report {
	t.Helper()
	return streamReportTW(t, files, cfg, 0)
}

// streamReportTW is streamReport with the analysis's TIME_WAIT length tw (0: the
// default).
func streamReportTW(t *testing.T, files []string, cfg reassembly.Config, tw time.Duration) Report {
	t.Helper()
	st := NewStream(Config{TimeWait: tw}, true)
	cfg.Done = func(inc *reassembly.Incarnation) { st.Add(inc) }
	tr := reassembly.NewTracker(cfg)
	feedFiles(t, files, tr)
	return st.Report()
}

// TestStreamKeepsNothing: finack lets its trackers reuse each incarnation once the
// analysis has it (reassembly.Config.DoneKeepsNothing), which is right only if a
// Stream keeps nothing of it: no pointer, no slice. With a TIME_WAIT of 1 ms, so that
// incarnations are handed out and reused all along, the report with reuse must be the
// report without, on every committed capture.
func TestStreamKeepsNothing(t *testing.T) {
	for _, set := range committedCaptures(t) {
		cfg := reassembly.Config{TimeWait: time.Millisecond}
		want, _ := json.Marshal(streamReport(t, set, cfg))
		cfg.DoneKeepsNothing = true
		got, _ := json.Marshal(streamReport(t, set, cfg))
		if string(got) != string(want) {
			t.Errorf("%s: the report changes when the tracker reuses analysed incarnations:\nreused %s\nfresh  %s", filepath.Base(set[0]), got, want)
		}
	}
}

// TestStreamReserve: a Stream given room for the records to come (Reserve, as a live
// run's stop does) appends them without growing its list, and reports what one
// without the room reports.
func TestStreamReserve(t *testing.T) {
	file := []string{filepath.Join("..", "testdata", "pcaps", "reuse-server-timewait.pcap")}
	count := func() int {
		n := 0
		tr := reassembly.NewTracker(reassembly.Config{Done: func(*reassembly.Incarnation) { n++ }})
		feedFiles(t, file, tr)
		return n
	}
	n := count()
	if n < 2 {
		t.Fatalf("%d connections: the test needs several", n)
	}
	var reports [2]string
	for i, reserve := range []bool{false, true} {
		st := NewStream(Config{}, true)
		if reserve {
			st.Reserve(n)
		}
		room := cap(st.rep.Connections)
		tr := reassembly.NewTracker(reassembly.Config{Done: func(inc *reassembly.Incarnation) { st.Add(inc) }})
		feedFiles(t, file, tr)
		if reserve && cap(st.rep.Connections) != room {
			t.Errorf("room for %d made, the list grew to %d for %d records", room, cap(st.rep.Connections), len(st.rep.Connections))
		}
		b, err := json.Marshal(st.Report())
		if err != nil {
			t.Fatal(err)
		}
		reports[i] = string(b)
	}
	if reports[0] != reports[1] {
		t.Errorf("the report with room reserved differs:\n%s\nwithout:\n%s", reports[1], reports[0])
	}
}

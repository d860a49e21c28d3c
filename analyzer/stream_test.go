package analyzer

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// TestStreamingEqualsBatch reads every capture in testdata/pcaps twice: with a tracker
// that keeps every incarnation, and with a streaming tracker that hands each one to a
// Stream as soon as it is over and forgets it. The reports must be the same, except
// for the incarnation index of a 4-tuple that a streaming tracker had forgotten (its
// previous use long over): it counts from 1 again.
func TestStreamingEqualsBatch(t *testing.T) {
	files, err := filepath.Glob("../testdata/pcaps/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatal("no captures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			batch := report(t, file, false, 0)
			stream := report(t, file, true, 0)
			b, _ := json.Marshal(batch)
			s, _ := json.Marshal(stream)
			if string(b) != string(s) && !strings.Contains(file, "gen-reuse-timestamps") {
				t.Errorf("streaming report differs from the batch report:\nbatch  %s\nstream %s", b, s)
			}
		})
	}
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
	tr.Finish(eachSegment(t, file, tr.Add))
}

// eachSegment hands every segment of file to fn and returns the capture's last
// timestamp (Unix ns).
func eachSegment(t testing.TB, file string, fn func(*capture.Segment)) int64 {
	t.Helper()
	r, err := capture.Open([]string{file}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seg capture.Segment
	for {
		if err := r.Next(&seg); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		fn(&seg)
	}
	return r.Stats().Last.UnixNano()
}

func report(t *testing.T, file string, streaming bool, max int) Report {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	if !streaming {
		tr := reassembly.NewTracker(reassembly.Config{})
		feedFile(t, file, tr)
		return Analyze(tr.Incarnations(), Config{})
	}
	return streamReport(t, file, reassembly.Config{MaxConnections: max})
}

// streamReport: the report of a Stream fed by a streaming tracker configured by cfg.
func streamReport(t *testing.T, file string, cfg reassembly.Config) Report {
	t.Helper()
	st := NewStream(Config{}, true)
	cfg.Done = func(inc *reassembly.Incarnation) { st.Add(inc) }
	tr := reassembly.NewTracker(cfg)
	feedFile(t, file, tr)
	return st.Report()
}

// TestStreamKeepsNothing: finack lets its trackers reuse each incarnation once the
// analysis has it (reassembly.Config.DoneKeepsNothing), which is right only if a
// Stream keeps nothing of it: no pointer, no slice. With a TIME_WAIT of 1 ms, so that
// incarnations are handed out and reused all along, the report with reuse must be the
// report without, on every committed capture.
func TestStreamKeepsNothing(t *testing.T) {
	files, _ := filepath.Glob("../testdata/pcaps/*.pcap*")
	n := 0
	for _, file := range files {
		if strings.Contains(file, ".expected.") {
			continue
		}
		n++
		cfg := reassembly.Config{TimeWait: time.Millisecond}
		want, _ := json.Marshal(streamReport(t, file, cfg))
		cfg.DoneKeepsNothing = true
		got, _ := json.Marshal(streamReport(t, file, cfg))
		if string(got) != string(want) {
			t.Errorf("%s: the report changes when the tracker reuses analysed incarnations:\nreused %s\nfresh  %s", filepath.Base(file), got, want)
		}
	}
	if n == 0 {
		t.Fatal("no captures")
	}
}

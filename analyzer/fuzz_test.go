package analyzer_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
	"github.com/finack/finack/reassembly"
)

// FuzzAnalyze runs arbitrary segment sequences (synth.DecodeSegments: see
// reassembly's FuzzTracker) through the tracker and the analysis, and checks the
// report a user gets, whatever the traffic:
//
//   - no panic;
//   - one connection record per incarnation, each in exactly one close shape, and
//     the shape counts of the summary add up to the records;
//   - the finding counts of the summary equal the findings, every kind present;
//   - every frame a finding or a connection names is a frame of the input, every
//     time lies within the capture, every finding belongs to a connection;
//   - values are from their documented sets (shapes, closers, outcomes, verdicts,
//     causes) and the report encodes as JSON (no NaN, no year out of range);
//   - bounded: a finding lists at most a few dozen frames and intervals;
//   - the same input gives the same bytes.
func FuzzAnalyze(f *testing.F) {
	seeds, err := synth.SegmentSeeds("../testdata/pcaps", 128<<10)
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed captures in ../testdata/pcaps: %v", err)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		segs := synth.DecodeSegments(data)
		rep := fzAnalyze(segs)
		fzCheckReport(t, segs, rep)
		a, err := json.Marshal(fzDoc(rep))
		if err != nil {
			t.Fatalf("the report does not encode as JSON: %v", err)
		}
		b, _ := json.Marshal(fzDoc(fzAnalyze(segs)))
		if !bytes.Equal(a, b) {
			t.Fatal("the same segments gave a different report")
		}
	})
}

func fzDoc(rep analyzer.Report) any {
	return struct {
		F []analyzer.Finding
		C []analyzer.Connection
		S map[analyzer.Shape]int
		K map[analyzer.Kind]int
	}{rep.Findings, rep.Connections, rep.Closes, rep.Counts}
}

func fzAnalyze(segs []capture.Segment) analyzer.Report {
	tr := reassembly.NewTracker(reassembly.Config{})
	var end reassembly.Instant
	for i := range segs {
		tr.Add(&segs[i])
		end = max(end, reassembly.InstantOf(segs[i].Time))
	}
	tr.Finish(end)
	return analyzer.Analyze(tr.Incarnations(), analyzer.Config{})
}

var (
	fzClosers  = map[string]bool{"client": true, "server": true, "both": true, "none": true}
	fzOutcomes = map[analyzer.Kind]map[analyzer.Outcome]bool{
		analyzer.MissingFinalAck: {analyzer.OutcomeRecovered: true, analyzer.OutcomeNever: true, analyzer.OutcomeUnresolved: true},
		analyzer.FirstFinUnacked: {analyzer.OutcomeNever: true, analyzer.OutcomeUnresolved: true},
		analyzer.ReuseIn2MSL: {analyzer.OutcomeAccepted: true, analyzer.OutcomeRefused: true, analyzer.OutcomeRST: true,
			analyzer.OutcomeUnanswered: true},
	}
	fzVerdicts = map[analyzer.Verdict]bool{analyzer.VerdictSafeBySequence: true, analyzer.VerdictSafeByTimestamps: true,
		analyzer.VerdictUnsafe: true, analyzer.VerdictUnknown: true}
	fzCauses = map[analyzer.Cause]bool{analyzer.CauseNotAcked: true, analyzer.CauseSpurious: true, analyzer.CauseEarly: true,
		analyzer.CauseMixed: true, analyzer.CauseOnAck: true}
)

// fzMaxFrames bounds the frames one finding may list: FIN transmissions are kept up
// to a fixed number per direction, and other findings name a handful of packets.
const fzMaxFrames = 64

func fzCheckReport(t *testing.T, segs []capture.Segment, rep analyzer.Report) {
	t.Helper()
	frames := make(map[uint64]bool, len(segs))
	var minT, maxT time.Time
	for i, s := range segs {
		frames[s.Frame] = true
		if i == 0 || s.Time.Before(minT) {
			minT = s.Time
		}
		if i == 0 || s.Time.After(maxT) {
			maxT = s.Time
		}
	}
	within := func(x time.Time) bool { return !x.Before(minT) && !x.After(maxT) }

	// Connections: one shape each, the shape counts add up, packets add up.
	shapes := map[analyzer.Shape]bool{}
	for _, s := range analyzer.Shapes {
		shapes[s] = true
		if _, ok := rep.Closes[s]; !ok {
			t.Errorf("summary closes lack %q", s)
		}
	}
	byShape := map[analyzer.Shape]int{}
	conns := map[analyzer.ConnID]bool{}
	var packets uint64
	for i, c := range rep.Connections {
		if !shapes[c.Close] {
			t.Errorf("connection %d: close %q is not a shape", i, c.Close)
		}
		byShape[c.Close]++
		packets += c.Packets
		conns[c.ID()] = true
		if c.Packets == 0 || !frames[c.FirstFrame] || !frames[c.LastFrame] || c.FirstFrame > c.LastFrame {
			t.Errorf("connection %d: frames %d-%d, %d packets", i, c.FirstFrame, c.LastFrame, c.Packets)
		}
		if !within(c.Start) || !within(c.End) {
			t.Errorf("connection %d: %v to %v outside the capture %v to %v", i, c.Start, c.End, minT, maxT)
		}
		if !fzClosers[c.ActiveCloser] || !fzClosers[c.TimeWaitHolder] {
			t.Errorf("connection %d: closer %q, TIME_WAIT holder %q", i, c.ActiveCloser, c.TimeWaitHolder)
		}
		if (c.TimeWaitHolder != "none") != (c.TimeWaitUntil != "") {
			t.Errorf("connection %d: TIME_WAIT holder %q until %q", i, c.TimeWaitHolder, c.TimeWaitUntil)
		}
		if c.TimeWaitUntil != "" {
			// TIME_WAIT ends at a segment's time (an RST cut it short) or after one.
			if until, err := time.Parse(time.RFC3339Nano, c.TimeWaitUntil); err != nil || until.Before(minT) {
				t.Errorf("connection %d: time_wait_until %s (%v) before the capture began (%v)", i, c.TimeWaitUntil, err, minT)
			}
		}
		fins := c.FINs.Client > 0 || c.FINs.Server > 0
		switch c.Close {
		case analyzer.NoClose:
			if fins {
				t.Errorf("connection %d: close none with FINs %+v", i, c.FINs)
			}
		case analyzer.Reset:
			if c.ResetBy == "" {
				t.Errorf("connection %d: reset by nobody", i)
			}
		case analyzer.Unfinished:
			if !fins {
				t.Errorf("connection %d: unfinished close without a FIN", i)
			}
		case analyzer.Simultaneous:
			if c.ActiveCloser != "both" || c.FINs.Client == 0 || c.FINs.Server == 0 {
				t.Errorf("connection %d: simultaneous close, closer %q, FINs %+v", i, c.ActiveCloser, c.FINs)
			}
		default: // four_way, three_way, half_close: both FINs, one active closer
			if c.FINs.Client == 0 || c.FINs.Server == 0 || (c.ActiveCloser != "client" && c.ActiveCloser != "server") {
				t.Errorf("connection %d: %s close, closer %q, FINs %+v", i, c.Close, c.ActiveCloser, c.FINs)
			}
		}
	}
	if packets != uint64(len(segs)) {
		t.Errorf("connections hold %d packets, the input has %d segments", packets, len(segs))
	}
	sum := 0
	for s, n := range rep.Closes {
		sum += n
		if byShape[s] != n {
			t.Errorf("summary: %d %s closes, records: %d", n, s, byShape[s])
		}
	}
	if sum != len(rep.Connections) {
		t.Errorf("summary closes add up to %d, %d connection records", sum, len(rep.Connections))
	}

	// Findings: counted right, evidence from the input, values from their sets.
	kinds := map[analyzer.Kind]bool{}
	for _, k := range analyzer.Kinds {
		kinds[k] = true
		if _, ok := rep.Counts[k]; !ok {
			t.Errorf("summary findings lack %q", k)
		}
	}
	byKind := map[analyzer.Kind]int{}
	for i, f := range rep.Findings {
		if !kinds[f.Kind] {
			t.Errorf("finding %d: unknown kind %q", i, f.Kind)
		}
		byKind[f.Kind]++
		if !conns[f.ID()] {
			t.Errorf("finding %d (%s): no connection %s → %s #%d", i, f.Kind, f.Client, f.Server, f.Incarnation)
		}
		if len(f.Frames) == 0 || len(f.Frames) > fzMaxFrames || len(f.IntervalsMS) > fzMaxFrames {
			t.Errorf("finding %d (%s): %d frames, %d intervals", i, f.Kind, len(f.Frames), len(f.IntervalsMS))
		}
		for _, fr := range f.Frames {
			if !frames[fr] {
				t.Errorf("finding %d (%s): frame %d is not in the input", i, f.Kind, fr)
			}
		}
		if !within(f.Time) {
			t.Errorf("finding %d (%s): time %v outside the capture %v to %v", i, f.Kind, f.Time, minT, maxT)
		}
		if f.Message == "" {
			t.Errorf("finding %d (%s): no message", i, f.Kind)
		}
		if set := fzOutcomes[f.Kind]; set != nil && !set[f.Outcome] {
			t.Errorf("finding %d (%s): outcome %q", i, f.Kind, f.Outcome)
		}
		switch f.Kind {
		case analyzer.ReuseIn2MSL:
			if !fzVerdicts[f.Verdict] {
				t.Errorf("finding %d: verdict %q", i, f.Verdict)
			}
		case analyzer.FinRetransmit:
			if !fzCauses[f.Cause] || f.Count == nil || *f.Count == 0 {
				t.Errorf("finding %d: fin_retransmit cause %q count %v", i, f.Cause, f.Count)
			}
		case analyzer.MissingFinalAck, analyzer.FirstFinUnacked:
			if f.Count == nil {
				t.Errorf("finding %d (%s): no count", i, f.Kind)
			}
		}
	}
	total := 0
	for k, n := range rep.Counts {
		total += n
		if byKind[k] != n {
			t.Errorf("summary: %d %s, findings: %d", n, k, byKind[k])
		}
	}
	if total != len(rep.Findings) {
		t.Errorf("summary finding counts add up to %d, %d findings", total, len(rep.Findings))
	}
}

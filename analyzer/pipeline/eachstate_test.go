package pipeline

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/reassembly"
)

// TestEachState: on every committed capture tracked as a live run tracks it, at
// every few segments and a second, a minute and two minutes later, eachState names
// the same address and state for every end of every incarnation as analyzer.StateAt
// and the incarnation's own endpoints do.
func TestEachState(t *testing.T) {
	const twLen = reassembly.DefaultTimeWait
	walks, ends := 0, 0
	for _, set := range committedCaptures(t) {
		r, err := capture.Open(set, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tr := reassembly.NewTracker(reassembly.Config{TimeWait: twLen, Done: func(*reassembly.Incarnation) {}, ManualSweep: true})
		var memo reassembly.Memo
		check := func(at reassembly.Instant) {
			var want, got []string
			tr.Each(func(inc *reassembly.Incarnation) {
				for _, role := range [2]reassembly.Role{reassembly.Client, reassembly.Server} {
					if st := analyzer.StateAt(inc, role, at.Time(), twLen); st != "" {
						want = append(want, fmt.Sprint(inc.Half[role].Endpoint.Addr(), " ", st))
					}
				}
			})
			eachState(tr, &memo, at, twLen, func(addr netip.Addr, st int) {
				got = append(got, fmt.Sprint(addr, " ", analyzer.StateNames[st]))
			})
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s at %v: eachState\n%v\nStateAt\n%v", set[0], at.Time().UTC(), got, want)
			}
			walks++
			ends += len(got)
		}
		var seg capture.Segment
		for i := 0; ; i++ {
			err := r.Next(&seg)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				break // a damaged capture: what came before it is enough here
			}
			at := reassembly.InstantOf(seg.Time)
			tr.Sweep(at)
			tr.Add(&seg)
			if i%3 == 2 {
				for _, later := range []time.Duration{0, time.Second, time.Minute, 2 * time.Minute} {
					check(at.Add(later))
				}
			}
		}
		_ = r.Close()
	}
	if walks == 0 || ends == 0 {
		t.Fatalf("%d walks, %d ends with a state", walks, ends)
	}
	t.Logf("%d walks, %d ends with a state", walks, ends)
}

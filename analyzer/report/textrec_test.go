package report

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
)

// The lines of the text report as fmt wrote them, before appendFindingText and
// appendConnectionText wrote them by hand: the reference.
func refFindingText(f *analyzer.Finding) string {
	frames := make([]string, len(f.Frames))
	for i, n := range f.Frames {
		frames[i] = fmt.Sprint(n)
	}
	vlan := ""
	if len(f.VLAN) > 0 {
		vlan = fmt.Sprintf(" vlan %v", f.VLAN)
	}
	if len(f.ServerVLAN) > 0 {
		vlan += fmt.Sprintf(" server vlan %v", f.ServerVLAN)
	}
	if f.Tunnel != "" {
		vlan += " " + f.Tunnel
	}
	return fmt.Sprintf("%-17s  %s → %s #%d%s  frames %s\n    %s\n", f.Kind, analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, vlan, strings.Join(frames, ","), f.Message)
}

func refConnectionText(c *analyzer.Connection) string {
	roles := ""
	if !c.RolesKnown {
		roles = " (roles guessed: no handshake seen)"
	}
	tw := "none"
	if c.TimeWaitHolder != "none" {
		tw = fmt.Sprintf("%s until %s", c.TimeWaitHolder, c.TimeWaitUntil)
	}
	vlan := ""
	if len(c.VLAN) > 0 {
		vlan = fmt.Sprintf(" vlan %v", c.VLAN)
	}
	if len(c.ServerVLAN) > 0 {
		vlan += fmt.Sprintf(" server vlan %v", c.ServerVLAN)
	}
	if c.Tunnel != "" {
		vlan += " " + c.Tunnel
	}
	if c.Dropped != "" {
		roles += " (dropped: " + c.Dropped + ")"
	}
	var fin strings.Builder
	for _, e := range []struct {
		who string
		fa  *analyzer.FinAck
	}{{"c", c.FIN.Client}, {"s", c.FIN.Server}} {
		if e.fa == nil {
			continue
		}
		fmt.Fprintf(&fin, "  FIN %s %d", e.who, e.fa.Frame)
		if e.fa.AckedBy != 0 {
			fmt.Fprintf(&fin, "→%d +%gms", e.fa.AckedBy, *e.fa.AckedAfterMS)
		} else {
			fin.WriteString("→unacked")
		}
	}
	return fmt.Sprintf("  %6d  %s → %s #%d%s  %s  closer %s  TIME_WAIT %s  frames %d-%d, %d packets, FIN %d/%d, RST %d/%d%s  %s%s\n",
		c.FirstFrame, analyzer.EndpointString(c.Client), analyzer.EndpointString(c.Server), c.Incarnation, vlan, c.Close, c.ActiveCloser, tw,
		c.FirstFrame, c.LastFrame, c.Packets, c.FINs.Client, c.FINs.Server, c.RSTs.Client, c.RSTs.Server, roles,
		c.History, fin.String())
}

// TestTextRecords: the text report's lines, written by hand, are what fmt wrote, on
// random records (recordFiller, jsonrec_test.go) and on the edge cases of the JSON
// encoders' tests.
func TestTextRecords(t *testing.T) {
	check := func(c *analyzer.Connection, f *analyzer.Finding) {
		t.Helper()
		for _, fa := range []*analyzer.FinAck{c.FIN.Client, c.FIN.Server} {
			if fa != nil && fa.AckedBy != 0 && fa.AckedAfterMS == nil {
				fa.AckedAfterMS = f64(0) // never so in a record; fmt's line would panic
			}
		}
		if got, want := string(appendConnectionText([]byte("x"), c)), "x"+refConnectionText(c); got != want {
			t.Fatalf("connection line:\n got  %q\n want %q\nrecord %#v", got, want, c)
		}
		if got, want := string(appendFindingText([]byte("x"), f)), "x"+refFindingText(f); got != want {
			t.Fatalf("finding line:\n got  %q\n want %q\nrecord %#v", got, want, f)
		}
	}
	for _, ep := range jsonEdgeEndpoints {
		check(&analyzer.Connection{Client: ep, Server: ep}, &analyzer.Finding{Client: ep, Server: ep})
	}
	for _, s := range jsonEdgeStrings {
		c := analyzer.Connection{Close: analyzer.Shape(s), ActiveCloser: s, TimeWaitHolder: s,
			TimeWaitUntil: s, History: s, ResetBy: s, Dropped: s}
		f := analyzer.Finding{Kind: analyzer.Kind(s), Message: s}
		check(&c, &f)
	}
	for _, x := range jsonEdgeFloats {
		for _, x := range []float64{x, -x, math.NaN(), math.Inf(1), math.Inf(-1)} {
			c := analyzer.Connection{TimeWaitHolder: "none", FIN: analyzer.FinPair{Client: &analyzer.FinAck{Frame: 1, AckedBy: 2, AckedAfterMS: f64(x)}}}
			check(&c, &analyzer.Finding{})
		}
	}
	for _, frame := range []uint64{0, 7, 99999, 123456, 1234567, math.MaxUint64} {
		c := analyzer.Connection{FirstFrame: frame, TimeWaitHolder: "none", VLAN: []uint16{1, 4095}}
		check(&c, &analyzer.Finding{Kind: "a_very_long_kind_name_indeed", Frames: []uint64{frame, frame}})
	}
	g := &recordFiller{r: rand.New(rand.NewSource(3))}
	for range 20000 {
		var c analyzer.Connection
		g.fill(t, reflect.ValueOf(&c).Elem())
		if g.r.Intn(3) == 0 {
			c.TimeWaitHolder = "none"
		}
		var f analyzer.Finding
		g.fill(t, reflect.ValueOf(&f).Elem())
		check(&c, &f)
	}
}

package main

import (
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/analyzer/gate"
	"github.com/finack/finack/analyzer/pipeline"
)

// TestIPv4MappedTwins: an IPv4 connection and an IPv6 one between the IPv4-mapped
// forms of the same addresses and ports (and an IPv6 one with one end mapped) are
// three connections with three printed identities: the IPv6 packets' addresses
// stay IPv6 in the text and JSON reports, in findings, in a baseline's identity of
// a finding and in the --export selection, where the mapped twin's findings bring
// its own frames and none of the IPv4 twin's.
func TestIPv4MappedTwins(t *testing.T) {
	const name = "gen-ipv4-mapped-twins.pcap"
	dir := t.TempDir()
	copyCapture(t, name, dir, name)
	out, errOut, code := runIn(t, dir, "-r", name, "--export", "ev.pcap", "-o", "json")
	if code != pipeline.ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	r := readReport(t, out)
	type conn struct {
		client, server string
		frames         []uint64 // the connection's frames: every third from its first
	}
	every3 := func(first uint64, n int) []uint64 {
		var fs []uint64
		for i := range n {
			fs = append(fs, first+3*uint64(i))
		}
		return fs
	}
	want := []conn{
		{"10.0.0.1:40000", "10.0.0.2:80", every3(1, 11)},
		{"[::ffff:10.0.0.1]:40000", "[::ffff:10.0.0.2]:80", append(every3(2, 11), 34, 35)},
		{"[::ffff:10.0.0.1]:40000", "[2001:db8::2]:80", every3(3, 11)},
	}
	if len(r.Connections) != len(want) {
		t.Fatalf("%d connections, want %d: %+v", len(r.Connections), len(want), r.Connections)
	}
	for i, w := range want {
		c := r.Connections[i]
		last := w.frames[len(w.frames)-1]
		if analyzer.EndpointString(c.Client) != w.client || analyzer.EndpointString(c.Server) != w.server || c.FirstFrame != w.frames[0] || c.LastFrame != last || c.Packets != uint64(len(w.frames)) {
			t.Errorf("connection %d: %s → %s frames %d-%d, %d packets; want %s → %s frames %d-%d, %d packets",
				i, c.Client, c.Server, c.FirstFrame, c.LastFrame, c.Packets, w.client, w.server, w.frames[0], last, len(w.frames))
		}
	}
	twin := want[1]
	if len(r.Findings) == 0 {
		t.Fatal("no findings: the mapped twin's server retransmits its FIN")
	}
	for _, f := range r.Findings {
		if analyzer.EndpointString(f.Client) != twin.client || analyzer.EndpointString(f.Server) != twin.server {
			t.Errorf("%s names %s → %s, want the mapped twin %s → %s", f.Kind, f.Client, f.Server, twin.client, twin.server)
		}
	}
	// --export: the mapped twin's frames, in order, and no other.
	var exported []uint64
	for _, p := range r.Export.Frames {
		exported = append(exported, p[0])
	}
	if !slices.Equal(exported, twin.frames) {
		t.Errorf("exported frames %v, want the mapped twin's %v", exported, twin.frames)
	}

	// The text report prints the IPv6 packets' addresses as IPv6.
	text, _, _ := runIn(t, dir, "-r", name, "--connections")
	for _, w := range want {
		if line := fmt.Sprintf("  %s → %s #1  four_way", w.client, w.server); !strings.Contains(text, line) {
			t.Errorf("text report: no %q in\n%s", line, text)
		}
	}

	// A baseline tells the twins apart: the same findings moved to the IPv4 twin
	// are new ones there and gone from the mapped twin, not unchanged.
	moved := slices.Clone(r.Findings)
	for i := range moved {
		moved[i].Client, moved[i].Server = netip.MustParseAddrPort(want[0].client), netip.MustParseAddrPort(want[0].server)
	}
	for _, k := range []analyzer.Kind{analyzer.MissingFinalAck, analyzer.FinRetransmit} {
		ch := gate.FindingChanges(k, r.Findings, moved)
		if len(ch) != 2 || !strings.HasPrefix(ch[0], "  + "+want[0].client) || !strings.HasPrefix(ch[1], "  - "+twin.client) {
			t.Errorf("%s moved to the IPv4 twin: changes %q, want one new on %s and one gone from %s", k, ch, want[0].client, twin.client)
		}
	}

	// Wireshark finds the exported packets by the address finack prints:
	// ipv6.addr == ::ffff:10.0.0.1 and ::ffff:10.0.0.2, not ip.addr == 10.0.0.1.
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not on PATH: display filters on the export not checked")
		return
	}
	for _, tc := range []struct {
		filter string
		n      int
	}{
		{"ipv6.addr == ::ffff:10.0.0.1 && ipv6.addr == ::ffff:10.0.0.2", len(twin.frames)},
		{"ip.addr == 10.0.0.1", 0},
	} {
		b, err := exec.Command("tshark", "-n", "-r", filepath.Join(dir, "ev.pcap"), "-Y", tc.filter).Output()
		if err != nil {
			t.Fatalf("tshark -Y %q: %v", tc.filter, err)
		}
		if n := strings.Count(string(b), "\n"); n != tc.n {
			t.Errorf("tshark -Y %q: %d packets of the export, want %d", tc.filter, n, tc.n)
		}
	}
}

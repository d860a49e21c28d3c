package main

import (
	"encoding/json"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/finack/finack/analyzer/report"
)

// tsharkFrames returns the frame numbers the display filter selects in the capture.
func tsharkFrames(t *testing.T, file, filter string) []uint64 {
	t.Helper()
	cmd := exec.Command("tshark", "-r", file, "-Y", filter, "-T", "fields", "-e", "frame.number")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s -Y %q: %v\n%s", file, filter, err, stderr.String())
	}
	var frames []uint64
	for _, l := range strings.Fields(string(out)) {
		n, err := strconv.ParseUint(l, 10, 64)
		if err != nil {
			t.Fatalf("tshark -Y %q: %q is not a frame number", filter, l)
		}
		frames = append(frames, n)
	}
	return frames
}

// TestIncidentFilters runs each incident's Wireshark display filter through tshark:
// it selects every frame the incident's findings name and nothing outside its frame
// range; built for a whole connection (its frames, addresses, VLAN tags, tunnel), it
// selects exactly the connection's packets, however many other connections share
// the addresses, ports or frame range (QinQ, one 4-tuple on several VLANs, VXLAN,
// GRE, IPv6, IPv4-mapped IPv6 beside its IPv4 twin).
func TestIncidentFilters(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (.ci/deps --test installs it)")
	}
	for _, name := range []string{
		"final-ack-never.pcap", "final-ack-dropped-v6.pcap", "gen-ethernet-vlan-qinq.pcap",
		"gen-vxlan.pcap", "gen-gre.pcap", "reuse-server-timewait-v6.pcap", "gen-late-and-rst-in-time-wait.pcap",
		"gen-ipv4-mapped-twins.pcap",
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, _ := runIn(t, pcapDir, "-r", name, "-o", "json")
			var doc struct {
				Findings []struct {
					Client, Server netip.AddrPort
					Incarnation    int
					Frames         []uint64
				}
				Incidents   []report.Incident
				Connections []struct {
					Client, Server netip.AddrPort
					VLAN           []uint16
					Tunnel         string
					First          uint64 `json:"first_frame"`
					Last           uint64 `json:"last_frame"`
					Packets        int
				}
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			file := filepath.Join(pcapDir, name)
			for _, in := range doc.Incidents {
				got := tsharkFrames(t, file, in.Filter)
				for _, fr := range got {
					if fr < in.FirstFrame || fr > in.LastFrame {
						t.Errorf("%s: frame %d outside %d-%d", in.Filter, fr, in.FirstFrame, in.LastFrame)
					}
				}
				for _, f := range doc.Findings {
					if f.Client != in.Client || f.Server != in.Server || f.Incarnation != in.Incarnation {
						continue
					}
					for _, fr := range f.Frames {
						if fr >= in.FirstFrame && fr <= in.LastFrame && !slices.Contains(got, fr) {
							t.Errorf("%s: frame %d of the finding not selected (got %v)", in.Filter, fr, got)
						}
					}
				}
			}
			if len(doc.Connections) == 0 {
				t.Fatal("no connections")
			}
			for _, c := range doc.Connections {
				filter := report.DisplayFilter(c.Client, c.Server, c.VLAN, false, c.Tunnel, c.First, c.Last)
				if got := tsharkFrames(t, file, filter); len(got) != c.Packets {
					t.Errorf("%s: %d frames %v, want the connection's %d packets", filter, len(got), got, c.Packets)
				}
			}
		})
	}
}

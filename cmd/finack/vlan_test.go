package main

import (
	"strings"
	"testing"
)

// TestIgnoreVLAN: --ignore-vlan keys connections without their 802.1Q tags. Three
// connections (different ISNs) on one 4-tuple, untagged, on VLAN 42 and on QinQ
// 10/20, are three connections by default; with the flag they share one 4-tuple,
// whose segments then make four incarnations (SYNs replacing each other); a connection whose client direction alone is
// tagged (a mirror port tagging one way) is one whole connection either way: by
// default its server's tags are reported beside the client's ([0]: untagged).
func TestIgnoreVLAN(t *testing.T) {
	for _, tc := range []struct {
		file         string
		flag         bool
		conns, lines string
	}{
		{"gen-ethernet-vlan-qinq.pcap", false, "connections  3 TCP", " vlan "},
		{"gen-ethernet-vlan-qinq.pcap", true, "connections  4 TCP", ""},
		{"gen-vlan-one-direction.pcap", false, "connections  1 TCP", " vlan [100] server vlan [0] "},
		{"gen-vlan-one-direction.pcap", true, "connections  1 TCP", ""},
	} {
		args := []string{"-r", tc.file, "--connections"}
		if tc.flag {
			args = append(args, "--ignore-vlan")
		}
		out, stderr, code := runIn(t, pcapDir, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, stderr)
		}
		if !strings.Contains(out, "\n"+tc.conns+" ") {
			t.Errorf("%v: want %q in\n%s", args, tc.conns, out)
		}
		if tagged := strings.Contains(out, " vlan ["); tagged != (tc.lines != "") || !strings.Contains(out, tc.lines) {
			t.Errorf("%v: VLAN tags in the report %v, want %q:\n%s", args, tagged, tc.lines, out)
		}
	}
}

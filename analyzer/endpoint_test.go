package analyzer

import (
	"net/netip"
	"testing"
)

// TestConnIDFlow: every incarnation on one 4-tuple has the same Flow, whichever end
// is the client and whatever its number, each end keeping its own tags; another
// 4-tuple, tag set or tunnel has another.
func TestConnIDFlow(t *testing.T) {
	a, b := netip.MustParseAddrPort("10.0.0.2:40000"), netip.MustParseAddrPort("10.0.0.1:80")
	base := ConnID{Client: a, Server: b, VLAN: [2]uint16{7}, ServerVLAN: [2]uint16{9}, Tunnel: "vxlan vni 5", Incarnation: 1}
	want := ConnID{Client: b, Server: a, VLAN: [2]uint16{9}, ServerVLAN: [2]uint16{7}, Tunnel: "vxlan vni 5"}
	for _, tc := range []struct {
		name string
		id   ConnID
		same bool
	}{
		{"as recorded", base, true},
		{"later incarnation", ConnID{Client: a, Server: b, VLAN: [2]uint16{7}, ServerVLAN: [2]uint16{9}, Tunnel: "vxlan vni 5", Incarnation: 3}, true},
		{"roles reversed", ConnID{Client: b, Server: a, VLAN: [2]uint16{9}, ServerVLAN: [2]uint16{7}, Tunnel: "vxlan vni 5", Incarnation: 2}, true},
		{"tags swapped between the ends", ConnID{Client: a, Server: b, VLAN: [2]uint16{9}, ServerVLAN: [2]uint16{7}, Tunnel: "vxlan vni 5", Incarnation: 1}, false},
		{"other tunnel", ConnID{Client: a, Server: b, VLAN: [2]uint16{7}, ServerVLAN: [2]uint16{9}, Tunnel: "vxlan vni 6", Incarnation: 1}, false},
		{"other port", ConnID{Client: netip.MustParseAddrPort("10.0.0.2:40001"), Server: b, VLAN: [2]uint16{7}, ServerVLAN: [2]uint16{9}, Tunnel: "vxlan vni 5", Incarnation: 1}, false},
	} {
		if got := tc.id.Flow(); (got == want) != tc.same {
			t.Errorf("%s: Flow() = %+v, want it equal to %+v: %v", tc.name, got, want, tc.same)
		}
	}
}

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

// TestAppendEndpoint: AppendEndpoint and AppendAddr write what netip's AppendTo
// writes: every octet value at every place of an IPv4 address, every port size, and
// the addresses left to netip (IPv6, IPv4-mapped, zones); nothing for the zero
// AddrPort.
func TestAppendEndpoint(t *testing.T) {
	var eps []netip.AddrPort
	for v := range 256 {
		for place := range 4 {
			a := [4]byte{10, 20, 30, 40}
			a[place] = byte(v)
			for _, port := range []uint16{0, 7, 80, 443, 8080, 65535} {
				eps = append(eps, netip.AddrPortFrom(netip.AddrFrom4(a), port))
			}
		}
	}
	for _, s := range []string{"[2001:db8::1]:443", "[::ffff:10.0.0.1]:80", "[fe80::1%eth0]:22", "[::]:0", "0.0.0.0:0", "255.255.255.255:65535"} {
		eps = append(eps, netip.MustParseAddrPort(s))
	}
	for _, ap := range eps {
		if got, want := string(AppendEndpoint([]byte("x"), ap)), "x"+ap.String(); got != want {
			t.Errorf("AppendEndpoint(%v) = %q, want %q", ap, got, want)
		}
		if got, want := string(AppendAddr([]byte("x"), ap.Addr())), "x"+ap.Addr().String(); got != want {
			t.Errorf("AppendAddr(%v) = %q, want %q", ap.Addr(), got, want)
		}
	}
	if got := AppendEndpoint(nil, netip.AddrPort{}); len(got) != 0 {
		t.Errorf("AppendEndpoint of the zero AddrPort = %q, want nothing", got)
	}
}

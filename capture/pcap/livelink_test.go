package pcap

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/finack/finack/capture"
	"github.com/gopacket/gopacket/layers"
)

// TestLiveStart: the decision Open takes on an interface's link type, without
// an interface. A link type finack decodes starts clean; one it does not is
// captured all the same, named in the stats from the start so that the run warns
// once before the first frame (LinkTypeWarning, the function a file's report
// uses), and each of its frames is skipped as unsupported_link_type, which the
// report's warning then counts.
func TestLiveStart(t *testing.T) {
	// An Ethernet frame with an IPv4 SYN 192.0.2.1:40000 → 192.0.2.10:80 (capture/synth
	// imports this package).
	frame := []byte{
		2, 0, 192, 0, 2, 10, 2, 0, 192, 0, 2, 1, 0x08, 0x00,
		0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 10,
		0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0,
	}
	dst := netip.MustParseAddrPort("192.0.2.10:80")
	for _, tc := range []struct {
		link layers.LinkType
		want string // the warning before the first frame, "" for none
	}{
		{layers.LinkTypeEthernet, ""},
		{layers.LinkTypeLinuxSLL, ""},
		{linkSLL2, ""},
		{239, ""},
		{12, ""},
		{242, ""},
		{layers.LinkTypeIEEE80211Radio, "link type 127 (RadioTap) not decoded: its frames are skipped (finack reads Ethernet (1), "},
		{147, "link type 147 not decoded: its frames are skipped (finack reads "},
	} {
		dec, stats := liveStart(tc.link, false)
		w := capture.LinkTypeWarning(stats)
		if (w == "") != (tc.want == "") || !strings.HasPrefix(w, tc.want) || strings.Contains(w, "\n") {
			t.Errorf("link type %d: warning %q, want one line starting %q", tc.link, w, tc.want)
		}
		if !dec.Supported() != (tc.want != "") {
			t.Errorf("link type %d: supported %v", tc.link, dec.Supported())
		}
		// A frame as the interface delivers it: decoded (Ethernet), or skipped and
		// counted.
		var seg capture.Segment
		why, ok := dec.Decode(frame, &seg)
		if tc.want == "" {
			if tc.link == layers.LinkTypeEthernet && (!ok || seg.Dst != dst) {
				t.Errorf("link type %d: frame not decoded (%v): %v", tc.link, why, seg.Dst)
			}
			continue
		}
		if ok || why != capture.UnsupportedLinkType {
			t.Errorf("link type %d: frame decoded %v, skipped as %v; want skipped as unsupported_link_type", tc.link, ok, why)
		}
		stats.Skipped[why] += 3
		if got, want := capture.LinkTypeWarning(stats), "3 frames skipped: link type "; !strings.HasPrefix(got, want) {
			t.Errorf("link type %d after 3 frames: %q, want %q...", tc.link, got, want)
		}
	}
}

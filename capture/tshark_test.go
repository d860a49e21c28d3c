package capture_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/finack/finack/capture"
)

// tsharkFields are compared field by field with what finack decodes: an
// independent decoder agreeing on every generated capture.
var tsharkFields = []string{
	"frame.number", "tcp.flags", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst",
	"tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.len",
	"tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "ip.id", "ip.ttl", "ipv6.hlim",
	"ieee8021ad.id", "vlan.id", "frame.time_epoch",
}

// asTshark renders a segment as tshark prints tsharkFields.
func asTshark(s capture.Segment) string {
	ip4, ip6 := func(x string) (string, string) {
		if s.Src.Addr().Is4() {
			return x, ""
		}
		return "", x
	}(s.Src.Addr().String())
	dst4, dst6 := "", s.Dst.Addr().String()
	if s.Dst.Addr().Is4() {
		dst4, dst6 = dst6, ""
	}
	tsv, tse := "", ""
	if s.HasTS {
		tsv, tse = fmt.Sprint(s.TSval), fmt.Sprint(s.TSecr)
	}
	ipid, ttl, hlim := "", "", ""
	if s.Src.Addr().Is4() {
		ipid, ttl = fmt.Sprintf("0x%04x", s.IPID), fmt.Sprint(s.TTL)
	} else {
		hlim = fmt.Sprint(s.TTL)
	}
	// tshark shows an 802.1ad (0x88a8) outer tag as ieee8021ad, an 802.1Q one as vlan.
	ad, vlan := "", ""
	switch {
	case s.VLAN[1] != 0:
		ad, vlan = fmt.Sprint(s.VLAN[0]), fmt.Sprint(s.VLAN[1])
	case s.VLAN[0] != 0:
		vlan = fmt.Sprint(s.VLAN[0])
	}
	return strings.Join([]string{
		fmt.Sprint(s.Frame), fmt.Sprintf("0x%04x", uint8(s.Flags)), ip4, ip6, dst4, dst6,
		fmt.Sprint(s.Src.Port()), fmt.Sprint(s.Dst.Port()), fmt.Sprint(s.Seq), fmt.Sprint(s.Ack),
		fmt.Sprint(s.Window), fmt.Sprint(s.PayloadLen), tsv, tse, ipid, ttl, hlim,
		ad, vlan, fmt.Sprintf("%d.%09d", s.Time.Unix(), s.Time.Nanosecond()),
	}, "|")
}

func tsharkLines(t *testing.T, file string) []string {
	t.Helper()
	args := []string{"-n", "-r", file, "-Y", "tcp", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	s := strings.TrimRight(string(out), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = innermostIP(l)
	}
	return lines
}

// innermostIP keeps, of a tunnelled segment's tshark line, the IP fields of the
// innermost header, which are finack's: tshark lists every IPv4 header's (the
// tunnel endpoints' first), and an outer IPv4 header around an inner IPv6 one
// has no counterpart in the segment.
func innermostIP(line string) string {
	f := strings.Split(line, "|")
	ip4 := []int{2, 4, 14, 15} // ip.src, ip.dst, ip.id, ip.ttl
	for _, i := range ip4 {
		if j := strings.LastIndexByte(f[i], ','); j >= 0 {
			f[i] = f[i][j+1:]
		}
	}
	if f[3] != "" { // ipv6.src: the innermost header is IPv6
		for _, i := range ip4 {
			f[i] = ""
		}
	}
	return strings.Join(f, "|")
}

// TestAgainstTshark compares, for every generated capture, the TCP segments finack
// returns with tshark's (tshark reads gzip itself): same frames, same flags, same
// header fields. The rotated pair is merged by mergecap first.
func TestAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not on PATH: cross-check against Wireshark's decoder skipped")
	}
	dir := genDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "gen-*"))
	type input struct {
		name   string
		paths  []string
		tshark string
		merged bool
	}
	var inputs []input
	for _, f := range files {
		inputs = append(inputs, input{filepath.Base(f), []string{f}, f, false})
	}
	if _, err := exec.LookPath("mergecap"); err == nil {
		merged := filepath.Join(t.TempDir(), "merged.pcap")
		p0, p1 := filepath.Join(dir, "gen-rotated.pcap0"), filepath.Join(dir, "gen-rotated.pcap1")
		if out, err := exec.Command("mergecap", "-F", "pcap", "-w", merged, p0, p1).CombinedOutput(); err != nil {
			t.Fatalf("mergecap: %v\n%s", err, out)
		}
		inputs = append(inputs, input{"gen-rotated merged", []string{p0, p1}, merged, true})
	} else {
		t.Log("mergecap not on PATH: merge order not cross-checked")
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			want := tsharkLines(t, in.tshark)
			segs, _, err := readAll(t, in.paths, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != len(want) {
				t.Errorf("%d segments, tshark shows %d", len(segs), len(want))
			}
			var got []string
			for _, s := range segs {
				got = append(got, asTshark(s))
			}
			if in.merged {
				// mergecap (Wireshark 4.0) breaks exact timestamp ties in favour
				// of the later file; finack keeps file order (the earlier piece
				// of a rotated capture was written first). Compare tied records
				// without their order.
				got, want = untie(got), untie(want)
			}
			for i := 0; i < len(got) && i < len(want); i++ {
				if got[i] != want[i] {
					t.Errorf("segment %d:\n finack %s\n tshark %s", i, got[i], want[i])
				}
			}
		})
	}
}

// untie drops frame numbers and sorts runs of lines with the same timestamp (the
// last field).
func untie(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l[strings.Index(l, "|")+1:]
	}
	ts := func(l string) string { return l[strings.LastIndex(l, "|")+1:] }
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && ts(out[j]) == ts(out[i]) {
			j++
		}
		slices.Sort(out[i:j])
		i = j
	}
	return out
}

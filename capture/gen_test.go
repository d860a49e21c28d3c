package capture_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

// TestGeneratedFilesCommitted checks that testdata/pcaps/gen-* are exactly what
// cmd/finack-gen writes today, so the generator and the committed files cannot
// drift apart. Gzip files are compared after decompression: compressed bytes may
// change with the Go version's compressor while the capture inside does not.
func TestGeneratedFilesCommitted(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "testdata", "pcaps")
	files, err := synth.AllFiles()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := synth.AllFiles()
	for i, f := range files {
		if !bytes.Equal(f.Data, again[i].Data) {
			t.Errorf("%s: two generations differ: the generator is not deterministic", f.Name)
		}
		got, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Errorf("%v (regenerate with: go run ./cmd/finack-gen -out testdata/pcaps)", err)
			continue
		}
		want := f.Data
		if strings.HasSuffix(f.Name, ".gz") {
			got, want = gunzip(t, got), gunzip(t, want)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (regenerate with: go run ./cmd/finack-gen -out testdata/pcaps)", f.Name)
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type skips map[capture.SkipReason]uint64

// TestGeneratedFiles reads every generated capture and checks the counts.
func TestGeneratedFiles(t *testing.T) {
	dir := genDir(t)
	for _, tc := range []struct {
		files    []string
		packets  uint64
		segments uint64
		skipped  skips
		mapped   int // segments with an IPv4-mapped address (IPv6 packets)
	}{
		{[]string{"gen-ethernet-vlan-qinq.pcap"}, 35, 35, nil, 0},
		{[]string{"gen-linux-sll.pcap"}, 23, 22, skips{capture.NotIP: 1}, 0},
		{[]string{"gen-linux-sll2.pcap"}, 23, 22, skips{capture.NotIP: 1}, 0},
		{[]string{"gen-null-loopback.pcap"}, 33, 33, nil, 0},
		{[]string{"gen-loop.pcap"}, 22, 22, nil, 0},
		{[]string{"gen-raw-ipv4-ipv6.pcap"}, 22, 22, nil, 0},
		{[]string{"gen-ipv4-228.pcap"}, 22, 22, nil, 0},
		{[]string{"gen-ipv6-229.pcap"}, 22, 22, nil, 0},
		{[]string{"gen-ipv4-mapped-twins.pcap"}, 35, 35, nil, 13 + 11},
		{[]string{"gen-nanosecond-be.pcap"}, 11, 11, nil, 0},
		{[]string{"gen-mixed-interfaces.pcapng"}, 44, 44, nil, 0},
		{[]string{"gen-gzip.pcap.gz"}, 11, 11, nil, 0},
		{[]string{"gen-gzip.pcapng.gz"}, 11, 11, nil, 0},
		{[]string{"gen-snaplen-cut.pcap"}, 22, 22, nil, 0},
		{[]string{"gen-fragments-nontcp.pcap"}, 22, 11, skips{capture.NotIP: 1, capture.NotTCP: 3, capture.Fragment: 7}, 0},
		{[]string{"gen-rotated.pcap0"}, 16, 16, nil, 0},
		{[]string{"gen-rotated.pcap1"}, 6, 6, nil, 0},
		{[]string{"gen-rotated.pcap0", "gen-rotated.pcap1"}, 22, 22, nil, 0},
	} {
		t.Run(strings.Join(tc.files, "+"), func(t *testing.T) {
			var paths []string
			for _, f := range tc.files {
				paths = append(paths, filepath.Join(dir, f))
			}
			segs, st, err := readAll(t, paths, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Packets != tc.packets || st.Segments != tc.segments || uint64(len(segs)) != tc.segments {
				t.Errorf("packets %d segments %d (returned %d), want %d and %d", st.Packets, st.Segments, len(segs), tc.packets, tc.segments)
			}
			var want [capture.NumSkipReasons]uint64
			for r, n := range tc.skipped {
				want[r] = n
			}
			if st.Skipped != want {
				t.Errorf("skipped %v, want %v", st.Skipped, want)
			}
			var sum uint64
			for _, n := range st.Skipped {
				sum += n
			}
			if sum+st.Segments != st.Packets {
				t.Errorf("segments+skipped = %d, packets = %d", sum+st.Segments, st.Packets)
			}
			mapped := 0
			for i, s := range segs {
				if s.Src.Addr().Is4() != s.Dst.Addr().Is4() {
					t.Errorf("segment %d: two families %v > %v", i, s.Src, s.Dst)
				}
				if s.Src.Addr().Is4In6() || s.Dst.Addr().Is4In6() {
					mapped++
				}
				if s.Time.Location() != time.UTC {
					t.Errorf("segment %d: time not in UTC: %v", i, s.Time)
				}
				if i > 0 && s.Frame <= segs[i-1].Frame {
					t.Errorf("segment %d: frame %d after %d", i, s.Frame, segs[i-1].Frame)
				}
			}
			if mapped != tc.mapped {
				t.Errorf("%d segments with an IPv4-mapped address, want %d", mapped, tc.mapped)
			}
		})
	}
}

func mustRead(t *testing.T, paths ...string) []capture.Segment {
	t.Helper()
	segs, _, err := readAll(t, paths, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

func TestVLANAndQinQ(t *testing.T) {
	segs := mustRead(t, filepath.Join(genDir(t), "gen-ethernet-vlan-qinq.pcap"))
	perVLAN := map[[2]uint16]int{}
	client, server := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.10:80")
	for _, s := range segs {
		perVLAN[s.VLAN]++
		if !(s.Src == client && s.Dst == server) && !(s.Src == server && s.Dst == client) {
			t.Errorf("frame %d: %v > %v, want the one 4-tuple", s.Frame, s.Src, s.Dst)
		}
	}
	want := map[[2]uint16]int{{0, 0}: 11, {42, 0}: 11, {10, 20}: 13}
	if len(perVLAN) != len(want) {
		t.Errorf("VLANs %v, want %v", perVLAN, want)
	}
	for k, n := range want {
		if perVLAN[k] != n {
			t.Errorf("VLAN %v: %d segments, want %d", k, perVLAN[k], n)
		}
	}
	// The three SYNs come first, in the order the connections started.
	for i, w := range []struct {
		vlan [2]uint16
		seq  uint32
	}{{[2]uint16{}, 1000}, {[2]uint16{42}, 2000}, {[2]uint16{10, 20}, 3000}} {
		s := segs[i]
		if s.Frame != uint64(i+1) || s.Flags != capture.SYN || s.VLAN != w.vlan || s.Seq != w.seq {
			t.Errorf("segment %d: frame %d %v vlan %v seq %d, want SYN on %v seq %d", i, s.Frame, s.Flags, s.VLAN, s.Seq, w.vlan, w.seq)
		}
	}
}

// TestSegmentFields checks every field of a few segments against what the
// generator wrote (see capture/synth/corpus.go).
func TestSegmentFields(t *testing.T) {
	dir := genDir(t)
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		file  string
		index int // segment index
		want  capture.Segment
	}{
		{"gen-ipv4-228.pcap", 0, capture.Segment{ // SYN with MSS, SACK-permitted, timestamps, window scale; ISN near the wrap
			Frame: 1, Time: ts("2024-03-01T12:00:00Z"), Src: ap("192.0.2.4:43000"), Dst: ap("192.0.2.40:22"),
			Seq: 0xfffffff0, Flags: capture.SYN, Window: 64240, HasTS: true, TSval: 0xfffffff0 ^ 0x5a5a5a5a,
			IPID: 0xfff0, TTL: 64}},
		{"gen-ipv4-228.pcap", 3, capture.Segment{ // client data: 40 bytes
			Frame: 4, Time: ts("2024-03-01T12:00:00.003Z"), Src: ap("192.0.2.4:43000"), Dst: ap("192.0.2.40:22"),
			Seq: 0xfffffff1, Ack: 0x80000000, Flags: capture.PSH | capture.ACK, Window: 64240, PayloadLen: 40,
			HasTS: true, TSval: (0xfffffff0 ^ 0x5a5a5a5a) + 3, TSecr: (0x7fffffff ^ 0xa5a5a5a5) + 1, IPID: 0xfff2, TTL: 64}},
		{"gen-ipv4-228.pcap", 11, capture.Segment{ // second connection: no timestamps
			Frame: 12, Time: ts("2024-03-01T12:00:01Z"), Src: ap("192.0.2.5:43001"), Dst: ap("192.0.2.40:22"),
			Seq: 12345, Flags: capture.SYN, Window: 64240, IPID: 12345, TTL: 64}},
		{"gen-ipv6-229.pcap", 5, capture.Segment{ // server data through a destination options header
			Frame: 6, Time: ts("2024-03-01T12:00:00.005Z"), Src: ap("[2001:db8::40]:80"), Dst: ap("[2001:db8::4]:44000"),
			Seq: 21, Ack: 75, Flags: capture.PSH | capture.ACK, Window: 64240, PayloadLen: 128,
			HasTS: true, TSval: (20 ^ 0xa5a5a5a5) + 5, TSecr: (10 ^ 0x5a5a5a5a) + 3, TTL: 64}},
		{"gen-ipv6-229.pcap", 14, capture.Segment{ // hop-by-hop + routing headers
			Frame: 15, Time: ts("2024-03-01T12:00:01.003Z"), Src: ap("[2001:db8::5]:44001"), Dst: ap("[2001:db8::40]:80"),
			Seq: 31, Ack: 41, Flags: capture.PSH | capture.ACK, Window: 64240, PayloadLen: 64,
			HasTS: true, TSval: (30 ^ 0x5a5a5a5a) + 3, TSecr: (40 ^ 0xa5a5a5a5) + 1, TTL: 64}},
		{"gen-nanosecond-be.pcap", 1, capture.Segment{
			Frame: 2, Time: ts("2024-03-01T12:00:00.124456796Z"), Src: ap("192.0.2.60:8443"), Dst: ap("192.0.2.6:45000"),
			Seq: 2222, Ack: 1112, Flags: capture.SYN | capture.ACK, Window: 64240, HasTS: true,
			TSval: 2222 ^ 0xa5a5a5a5 + 1, TSecr: 1111 ^ 0x5a5a5a5a, IPID: 0, TTL: 64}},
		{"gen-snaplen-cut.pcap", 0, capture.Segment{ // options cut by the 54-byte snap length
			Frame: 1, Time: ts("2024-03-01T12:00:00Z"), Src: ap("192.0.2.12:48000"), Dst: ap("192.0.2.120:80"),
			Seq: 1000, Flags: capture.SYN, Window: 64240, IPID: 1000, TTL: 64, Truncated: true}},
		{"gen-snaplen-cut.pcap", 5, capture.Segment{ // 1400 bytes on the wire, none captured
			Frame: 6, Time: ts("2024-03-01T12:00:00.005Z"), Src: ap("192.0.2.120:80"), Dst: ap("192.0.2.12:48000"),
			Seq: 2001, Ack: 1101, Flags: capture.PSH | capture.ACK, Window: 64240, PayloadLen: 1400, IPID: 2, TTL: 64, Truncated: true}},
		{"gen-snaplen-cut.pcap", 16, capture.Segment{ // no options at all: the header is whole
			Frame: 17, Time: ts("2024-03-01T12:00:01.005Z"), Src: ap("192.0.2.120:80"), Dst: ap("192.0.2.13:48001"),
			Seq: 4001, Ack: 3101, Flags: capture.PSH | capture.ACK, Window: 64240, PayloadLen: 1400, IPID: 2, TTL: 64}},
		{"gen-null-loopback.pcap", 11, capture.Segment{ // AF_INET6 = 30
			Frame: 12, Time: ts("2024-03-01T12:00:01Z"), Src: ap("[::1]:50001"), Dst: ap("[::1]:8080"),
			Seq: 33, Flags: capture.SYN, Window: 64240, HasTS: true, TSval: 33 ^ 0x5a5a5a5a, TTL: 64}},
		{"gen-mixed-interfaces.pcapng", 1, capture.Segment{ // SLL2 interface, nanosecond resolution
			Frame: 2, Time: ts("2024-03-01T12:00:00.000300001Z"), Src: ap("[2001:db8::7]:46001"), Dst: ap("[2001:db8::70]:80"),
			Seq: 300, Flags: capture.SYN, Window: 64240, HasTS: true, TSval: 300 ^ 0x5a5a5a5a, TTL: 64, Interface: 1}},
		{"gen-mixed-interfaces.pcapng", 7, capture.Segment{ // raw IP interface, SYN/ACK of the split connection
			Frame: 8, Time: ts("2024-03-01T12:00:00.0019Z"), Src: ap("192.0.2.90:80"), Dst: ap("192.0.2.9:46003"),
			Seq: 800, Ack: 701, Flags: capture.SYN | capture.ACK, Window: 64240, HasTS: true,
			TSval: 800 ^ 0xa5a5a5a5 + 1, TSecr: 700 ^ 0x5a5a5a5a, IPID: 0, TTL: 64, Interface: 2}},
	} {
		segs := mustRead(t, filepath.Join(dir, tc.file))
		if tc.index >= len(segs) {
			t.Errorf("%s: only %d segments", tc.file, len(segs))
			continue
		}
		if got := segs[tc.index]; got != tc.want {
			t.Errorf("%s segment %d:\n got %s\nwant %s", tc.file, tc.index, fmtSeg(got), fmtSeg(tc.want))
		}
	}
}

// TestSnaplenCut: every segment with options lost them; PayloadLen comes from the
// IP header, not from what was captured.
func TestSnaplenCut(t *testing.T) {
	for _, s := range mustRead(t, filepath.Join(genDir(t), "gen-snaplen-cut.pcap")) {
		withTS := s.Src.Port() == 48000 || s.Dst.Port() == 48000
		if s.HasTS {
			t.Errorf("frame %d: timestamp option decoded from a cut header", s.Frame)
		}
		wantTrunc := withTS || s.Flags.Has(capture.SYN)
		if s.Truncated != wantTrunc {
			t.Errorf("frame %d %v: Truncated %v, want %v", s.Frame, s.Flags, s.Truncated, wantTrunc)
		}
		if s.Flags.Has(capture.PSH) && s.PayloadLen != 100 && s.PayloadLen != 1400 {
			t.Errorf("frame %d: PayloadLen %d", s.Frame, s.PayloadLen)
		}
	}
}

// TestMergeRotated: the two pieces merge into the original capture, ties broken
// by file order; frames are numbered over the merged stream.
func TestMergeRotated(t *testing.T) {
	dir := genDir(t)
	p0, p1 := filepath.Join(dir, "gen-rotated.pcap0"), filepath.Join(dir, "gen-rotated.pcap1")
	merged := mustRead(t, p0, p1)
	first, second := mustRead(t, p0), mustRead(t, p1)
	if len(merged) != len(first)+len(second) {
		t.Fatalf("merged %d segments, pieces %d + %d", len(merged), len(first), len(second))
	}
	// Expected order: by time, ties keep file order. Walk both pieces as mergecap does.
	var want []capture.Segment
	i, j := 0, 0
	for i < len(first) || j < len(second) {
		if j == len(second) || (i < len(first) && !second[j].Time.Before(first[i].Time)) {
			want = append(want, first[i])
			i++
		} else {
			want = append(want, second[j])
			j++
		}
	}
	for k := range merged {
		w := want[k]
		w.Frame = uint64(k + 1)
		if merged[k] != w {
			t.Errorf("merged frame %d:\n got %s\nwant %s", k+1, fmtSeg(merged[k]), fmtSeg(w))
		}
		if k > 0 && merged[k].Time.Before(merged[k-1].Time) {
			t.Errorf("merged frame %d goes back in time", k+1)
		}
	}
	// The pieces interleave: the second file's first packet is older than the
	// first file's last one, and frames 17 and 18 share a timestamp: frame 17
	// comes from the first file.
	if !second[0].Time.Before(first[len(first)-1].Time) {
		t.Error("pieces do not interleave in time")
	}
	if !merged[16].Time.Equal(merged[17].Time) || merged[16] != withFrame(first[15], 17) || merged[17] != withFrame(second[1], 18) {
		t.Errorf("tie at frames 17/18 not broken by file order: %s / %s", fmtSeg(merged[16]), fmtSeg(merged[17]))
	}
	// Reversing the argument order changes only tie-breaking, not the content.
	rev := mustRead(t, p1, p0)
	if len(rev) != len(merged) || rev[16] != withFrame(second[1], 17) {
		t.Errorf("reversed merge: tie not broken by (new) file order")
	}
}

func withFrame(s capture.Segment, f uint64) capture.Segment {
	s.Frame = f
	return s
}

func TestMixedInterfaces(t *testing.T) {
	segs := mustRead(t, filepath.Join(genDir(t), "gen-mixed-interfaces.pcapng"))
	per := map[uint16]int{}
	for _, s := range segs {
		per[s.Interface]++
		// The split connection: client to server on interface 0, back on 2.
		if s.Src.Port() == 46003 && s.Interface != 0 || s.Dst.Port() == 46003 && s.Interface != 2 {
			t.Errorf("frame %d: %v > %v on interface %d", s.Frame, s.Src, s.Dst, s.Interface)
		}
	}
	if per[0] != 11+6 || per[1] != 11 || per[2] != 11+5 {
		t.Errorf("segments per interface %v", per)
	}
}

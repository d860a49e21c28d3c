package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
	"github.com/finack/finack/capture/synth"
	"github.com/gopacket/gopacket/layers"
)

// connPackets is one whole connection (11 packets) with nanosecond timestamps.
func connPackets() []synth.Packet {
	c := synth.NewConn(cli4, srv4, 1, 2, synth.Epoch.Add(123456789))
	c.Gap = time.Millisecond + 1
	return c.Full(10, 20, true)
}

func pcapBytes(t testing.TB, link layers.LinkType, opt synth.PcapOptions, ps []synth.Packet) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := synth.NewPcapWriter(&b, link, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func ngBytes(t testing.TB, ps []synth.Packet, ifaces ...synth.Interface) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := synth.NewNgWriter(&b, synth.NgOptions{Comment: "test"}, ifaces...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestFormats: the same connection in every container gives the same segments,
// up to the container's timestamp resolution.
func TestFormats(t *testing.T) {
	ps := connPackets()
	eth := synth.Interface{Link: layers.LinkTypeEthernet}
	ethNs := synth.Interface{Link: layers.LinkTypeEthernet, Nanosecond: true}
	for _, tc := range []struct {
		name string
		data []byte
		ns   bool
	}{
		{"pcap us le", pcapBytes(t, 1, synth.PcapOptions{}, ps), false},
		{"pcap us be", pcapBytes(t, 1, synth.PcapOptions{BigEndian: true}, ps), false},
		{"pcap ns le", pcapBytes(t, 1, synth.PcapOptions{Nanosecond: true}, ps), true},
		{"pcap ns be", pcapBytes(t, 1, synth.PcapOptions{Nanosecond: true, BigEndian: true}, ps), true},
		{"pcapng us", ngBytes(t, ps, eth), false},
		{"pcapng ns", ngBytes(t, ps, ethNs), true},
		{"gzip pcap ns", synth.Gzip(pcapBytes(t, 1, synth.PcapOptions{Nanosecond: true}, ps)), true},
		{"gzip pcapng", synth.Gzip(ngBytes(t, ps, eth)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs, st, err := readAll(t, []string{writeTemp(t, "capture.bin", tc.data)}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != len(ps) {
				t.Fatalf("%d segments, want %d", len(segs), len(ps))
			}
			for i, s := range segs {
				want := ps[i].Time
				if !tc.ns {
					want = want.Truncate(time.Microsecond)
				}
				if !s.Time.Equal(want) || s.Seq != ps[i].Seq || s.Flags != ps[i].Flags || s.Frame != uint64(i+1) {
					t.Errorf("segment %d: %s, want time %v seq %d flags %v", i, fmtSeg(s), want, ps[i].Seq, ps[i].Flags)
				}
			}
			if !st.First.Equal(segs[0].Time) || !st.Last.Equal(segs[len(segs)-1].Time) {
				t.Errorf("First/Last %v / %v", st.First, st.Last)
			}
		})
	}
}

func TestStdin(t *testing.T) {
	data := synth.Gzip(ngBytes(t, connPackets(), synth.Interface{Link: 1}))
	f, err := os.Open(writeTemp(t, "stdin", data))
	if err != nil {
		t.Fatal(err)
	}
	defer synth.CheckClose(t, f)
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	segs, _, err := readAll(t, []string{"-"}, capture.Options{})
	if err != nil || len(segs) != 11 {
		t.Fatalf("stdin: %d segments, %v", len(segs), err)
	}
	if _, err := capture.Open([]string{"-", "-"}, capture.Options{}); err == nil {
		t.Error("stdin twice: no error")
	}
}

// TestOpenErrors: inputs that are not captures fail at Open with an error naming
// the file.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	pcapHeader := pcapBytes(t, 1, synth.PcapOptions{}, nil)
	files := map[string][]byte{
		"empty":          {},
		"one-byte":       {0xd4},
		"short-header":   pcapHeader[:10],
		"text":           []byte("hello, this is not a capture\n"),
		"gzip-of-text":   synth.Gzip([]byte("hello, this is not a capture\n")),
		"gzip-empty":     synth.Gzip(nil),
		"gzip-cut":       synth.Gzip(pcapHeader)[:8],
		"kuznetzov":      {0x34, 0xcd, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0},
		"pcap-version-3": patch(pcapHeader, 4, 3, 0),
		"pcapng-cut":     ngBytes(t, nil, synth.Interface{Link: 1})[:20],
		"snoop-cut":      []byte("snoop\x00\x00\x00\x00"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unreadable := filepath.Join(dir, "unreadable")
	if err := os.WriteFile(unreadable, pcapHeader, 0o000); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"empty", "one-byte", "short-header", "text", "gzip-of-text", "gzip-empty", "gzip-cut",
		"kuznetzov", "pcap-version-3", "pcapng-cut", "snoop-cut", "missing", "."} {
		path := filepath.Join(dir, name)
		r, err := capture.Open([]string{path}, capture.Options{})
		if err == nil {
			synth.CheckClose(t, r)
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	if os.Geteuid() != 0 { // root reads anything
		if _, err := capture.Open([]string{unreadable}, capture.Options{}); err == nil || !strings.Contains(err.Error(), unreadable) {
			t.Errorf("unreadable: %v", err)
		}
	}
	if _, err := capture.Open(nil, capture.Options{}); err == nil {
		t.Error("no paths: no error")
	}
	// A valid file followed by a bad one: Open fails, naming the bad one.
	good := writeTemp(t, "good.pcap", pcapHeader)
	if _, err := capture.Open([]string{good, filepath.Join(dir, "text")}, capture.Options{}); err == nil || !strings.Contains(err.Error(), "text") {
		t.Errorf("good+bad: %v", err)
	}
	// A header-only file is a valid, empty capture.
	segs, st, err := readAll(t, []string{good}, capture.Options{})
	if err != nil || len(segs) != 0 || st.Packets != 0 {
		t.Errorf("header only: %d segments, %+v, %v", len(segs), st, err)
	}
}

// record offsets in a pcap file written by pcapBytes: 24-byte header, then each
// record's 16-byte header and data.
func recordOffsets(data []byte) []int64 {
	var offs []int64
	for off := 24; off+16 <= len(data); {
		offs = append(offs, int64(off))
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return offs
}

// TestDamage: a damaged file returns every segment before the damage, then a
// *ReadError naming the file, the frame and the byte offset.
func TestDamage(t *testing.T) {
	ps := connPackets()
	good := pcapBytes(t, 1, synth.PcapOptions{}, ps)
	offs := recordOffsets(good)
	last := offs[len(offs)-1]
	ng := ngBytes(t, ps, synth.Interface{Link: 1})
	bad := patch(good, int(offs[5])+8, 0xf0, 0xff, 0xff, 0x7f) // record 6: caplen 2 GiB
	zeroCaplen := patch(good, int(offs[2])+8, 0, 0, 0, 0)      // record 3: caplen 0: the rest of the file is misread
	for _, tc := range []struct {
		name    string
		data    []byte
		segs    int
		frame   uint64
		offset  int64 // -2: don't check
		errWant error
	}{
		{"cut in last record data", good[:len(good)-5], 10, 11, last, io.ErrUnexpectedEOF},
		{"cut in last record header", good[:last+7], 10, 11, last, io.ErrUnexpectedEOF},
		{"cut right after last record header", good[:last+16], 10, 11, last, io.ErrUnexpectedEOF},
		{"absurd caplen mid-file", bad, 5, 6, offs[5], nil},
		{"zero caplen then garbage", zeroCaplen, 2, 0, -2, nil},
		{"gzip cut", synth.Gzip(good)[:len(synth.Gzip(good))-30], 0, 0, -2, nil},
		{"pcapng cut", ng[:len(ng)-10], 10, 11, -2, io.ErrUnexpectedEOF},
		{"gzip pcapng cut", synth.Gzip(ng)[:len(synth.Gzip(ng))-30], 0, 0, -2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "damaged.pcap", tc.data)
			segs, st, err := readAll(t, []string{path}, capture.Options{})
			var re *capture.ReadError
			if !errors.As(err, &re) {
				t.Fatalf("want *ReadError, got %v", err)
			}
			if tc.frame != 0 && (len(segs) != tc.segs || re.Frame != tc.frame) {
				t.Errorf("%d segments, error at frame %d; want %d, %d", len(segs), re.Frame, tc.segs, tc.frame)
			}
			if tc.frame == 0 && re.Frame != st.Packets+1 {
				t.Errorf("error at frame %d after %d packets", re.Frame, st.Packets)
			}
			if tc.offset != -2 && re.Offset != tc.offset {
				t.Errorf("offset %d, want %d", re.Offset, tc.offset)
			}
			if tc.errWant != nil && !errors.Is(err, tc.errWant) {
				t.Errorf("cause %v, want %v", re.Err, tc.errWant)
			}
			if re.File != path || !strings.HasPrefix(err.Error(), path+": frame ") {
				t.Errorf("message %q does not start with the file and frame", err)
			}
			for i, s := range segs {
				if s.Seq != ps[i].Seq || s.Frame != uint64(i+1) {
					t.Errorf("segment %d before the damage is wrong: %s", i, fmtSeg(s))
				}
			}
		})
	}
}

// TestAbsurdLengths: huge lengths in headers cost neither memory nor time.
func TestAbsurdLengths(t *testing.T) {
	h := pcapBytes(t, 1, synth.PcapOptions{Snaplen: 0xffffffff}, nil) // snap length 4 GiB
	rec := make([]byte, 16)
	binary.LittleEndian.PutUint32(rec[8:], 0xfffffff0) // caplen
	binary.LittleEndian.PutUint32(rec[12:], 0xfffffff0)
	ngHuge := ngBytes(t, nil, synth.Interface{Link: 1})
	epb := make([]byte, 28)
	binary.LittleEndian.PutUint32(epb[0:], 6)
	binary.LittleEndian.PutUint32(epb[4:], 0xfffffff0) // block length
	binary.LittleEndian.PutUint32(epb[20:], 0x7ffffff0)
	binary.LittleEndian.PutUint32(epb[24:], 0x7ffffff0)
	for _, data := range [][]byte{cat(h, rec, make([]byte, 100)), cat(ngHuge, epb, make([]byte, 100))} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, _, err := readAll(t, []string{writeTemp(t, "huge", data)}, capture.Options{})
		runtime.ReadMemStats(&after)
		if !isReadError(err) {
			t.Errorf("want a ReadError, got %v", err)
		}
		if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
			t.Errorf("allocated %d MiB for a %d-byte file", grown>>20, len(data))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	}
}

func TestFilter(t *testing.T) {
	dir := genDir(t)
	mixed := filepath.Join(dir, "gen-mixed-interfaces.pcapng")
	for _, tc := range []struct {
		file, filter string
		segs         int
		firstFrame   uint64
	}{
		// One host of the connection seen on eth0 (Ethernet) one way and tun0 (raw) the other.
		{mixed, "host 192.0.2.9", 11, 4},
		{mixed, "ip6", 11, 2},                                             // the SLL2 connection
		{mixed, "tcp[tcpflags] & tcp-fin != 0", 6, 29},                    // IPv4 only, as in tcpdump
		{filepath.Join(dir, "gen-ethernet-vlan-qinq.pcap"), "tcp", 11, 1}, // tcpdump: tagged frames need "vlan"
		{filepath.Join(dir, "gen-ethernet-vlan-qinq.pcap"), "vlan 42", 11, 2},
		{filepath.Join(dir, "gen-linux-sll.pcap"), "ip6 and tcp port 443", 11, 13},
		{filepath.Join(dir, "gen-gzip.pcap.gz"), "tcp", 11, 1},
	} {
		segs, st, err := readAll(t, []string{tc.file}, capture.Options{Filter: tc.filter, Compile: bpf.Compile})
		if err != nil {
			t.Errorf("%s %q: %v", filepath.Base(tc.file), tc.filter, err)
			continue
		}
		if len(segs) != tc.segs || (len(segs) > 0 && segs[0].Frame != tc.firstFrame) {
			t.Errorf("%s %q: %d segments from frame %d, want %d from %d", filepath.Base(tc.file), tc.filter, len(segs), frameOf(segs), tc.segs, tc.firstFrame)
		}
		if st.Skipped[capture.Filtered]+st.Segments+st.Skipped[capture.NotIP] != st.Packets {
			t.Errorf("%q: stats %+v", tc.filter, st)
		}
	}
	_, err := capture.Open([]string{mixed}, capture.Options{Filter: "tcp port", Compile: bpf.Compile})
	if err == nil || !strings.Contains(err.Error(), `"tcp port"`) {
		t.Errorf("bad filter: %v", err)
	}
	// A filter valid for Ethernet but not for a link type met later: a clear error.
	_, _, err = readAll(t, []string{mixed}, capture.Options{Filter: "ether host 02:00:c0:00:02:07", Compile: bpf.Compile})
	if err == nil || !strings.Contains(err.Error(), "ether host") || !strings.Contains(err.Error(), mixed) {
		t.Errorf("filter not compilable for SLL2: %v", err)
	}
}

func frameOf(s []capture.Segment) uint64 {
	if len(s) == 0 {
		return 0
	}
	return s[0].Frame
}

func TestCloseAndStickyErrors(t *testing.T) {
	path := writeTemp(t, "c.pcap", pcapBytes(t, 1, synth.PcapOptions{}, connPackets()))
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s capture.Segment
	for r.Next(&s) == nil {
	}
	if err := r.Next(&s); err != io.EOF {
		t.Errorf("after the end: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	r2, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil {
		t.Error(err)
	}
	if err := r2.Next(&s); err == nil {
		t.Error("Next after Close: no error")
	}
}

func TestSkipReasonNames(t *testing.T) {
	want := []string{"not_ip", "not_tcp", "ip_fragment", "undecodable", "unsupported_link_type", "filtered"}
	if int(capture.NumSkipReasons) != len(want) {
		t.Fatalf("%d reasons", capture.NumSkipReasons)
	}
	for i, w := range want {
		r := capture.SkipReason(i)
		b, _ := r.MarshalText()
		var back capture.SkipReason
		if r.String() != w || string(b) != w || back.UnmarshalText(b) != nil || back != r {
			t.Errorf("reason %d: %q", i, r)
		}
	}
	re := &capture.ReadError{File: "x.pcap", Frame: 7, Offset: 1234, Err: io.ErrUnexpectedEOF}
	if re.Error() != "x.pcap: frame 7, byte offset 1234: unexpected EOF" || !errors.Is(re, io.ErrUnexpectedEOF) {
		t.Errorf("ReadError: %q", re)
	}
}

// TestMergeDamage: damage in one piece of a merged capture ends the merge where
// mergecap would stop (right after that piece's last good record was used), with
// a ReadError naming that piece and the frame number inside it.
func TestMergeDamage(t *testing.T) {
	dir := genDir(t)
	p0 := filepath.Join(dir, "gen-rotated.pcap0")
	b1, err := os.ReadFile(filepath.Join(dir, "gen-rotated.pcap1"))
	if err != nil {
		t.Fatal(err)
	}
	offs := recordOffsets(b1)
	p1 := writeTemp(t, "gen-rotated.pcap1", b1[:offs[3]+20]) // piece 2 cut inside its 4th record
	segs, st, err := readAll(t, []string{p0, p1}, capture.Options{})
	var re *capture.ReadError
	if !errors.As(err, &re) || re.File != p1 || re.Frame != 4 || re.Offset != offs[3] {
		t.Fatalf("want ReadError for %s frame 4 offset %d, got %v", p1, offs[3], err)
	}
	// Piece 2's third record is merged frame 19; its fourth would have come next.
	full := mustRead(t, p0, filepath.Join(dir, "gen-rotated.pcap1"))
	if len(segs) != 19 || st.Packets != 19 {
		t.Fatalf("%d segments before the damage, want 19", len(segs))
	}
	for i := range segs {
		if segs[i] != full[i] {
			t.Errorf("frame %d differs from the undamaged merge", i+1)
		}
	}
}

// TestFilterAgainstTcpdump: for every generated pcap, the frames the filter keeps
// are the frames tcpdump -r FILE FILTER prints.
func TestFilterAgainstTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump not on PATH: filter cross-check skipped")
	}
	dir := genDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "gen-*.pcap"))
	for _, file := range files {
		for _, filter := range []string{"tcp", "ip6", "vlan", "tcp port 80", "udp or arp", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0"} {
			out, tcpdumpErr := exec.Command("tcpdump", "-n", "-r", file, filter).Output()
			// One line a frame, except that tcpdump prints a VXLAN frame's
			// inner packet on a line of its own, without a timestamp.
			want := uint64(0)
			for _, l := range strings.Split(string(out), "\n") {
				if l != "" && l[0] >= '0' && l[0] <= '9' {
					want++
				}
			}
			_, st, err := readAll(t, []string{file}, capture.Options{Filter: filter, Compile: bpf.Compile})
			if tcpdumpErr != nil || err != nil {
				// A filter that does not compile for the link type (ip6 on
				// LINKTYPE_IPV4): both must refuse it.
				if tcpdumpErr == nil || err == nil || !strings.Contains(err.Error(), filter) {
					t.Errorf("%s %q: tcpdump: %v, finack: %v", filepath.Base(file), filter, tcpdumpErr, err)
				}
				continue
			}
			if got := st.Packets - st.Skipped[capture.Filtered]; got != want {
				t.Errorf("%s %q: %d frames pass, tcpdump prints %d", filepath.Base(file), filter, got, want)
			}
		}
	}
}

// TestPcapVersions: pcap headers of versions 2.0 to 2.4 and 543.0 are read as
// libpcap reads them (record lengths in the pre-2.3 order before 2.3 and in 543.0,
// either order in 2.3), in both byte orders; other versions are refused. The
// records are cut by the snap length, so the two lengths differ and the order
// matters.
func TestPcapVersions(t *testing.T) {
	ps := connPackets()
	cut := synth.PcapOptions{Snaplen: 60}
	want, _, err := readAll(t, []string{writeTemp(t, "v24.pcap", pcapBytes(t, 1, cut, ps))}, capture.Options{})
	if err != nil || len(want) != len(ps) {
		t.Fatalf("version 2.4: %d segments, %v", len(want), err)
	}
	// withVersion writes ps with the record order of version v, and a header
	// that says version say.
	withVersion := func(v, say [2]uint16, big bool) []byte {
		o := cut
		o.Version, o.BigEndian = v, big
		b := pcapBytes(t, 1, o, ps)
		if big {
			binary.BigEndian.PutUint16(b[4:], say[0])
			binary.BigEndian.PutUint16(b[6:], say[1])
		} else {
			binary.LittleEndian.PutUint16(b[4:], say[0])
			binary.LittleEndian.PutUint16(b[6:], say[1])
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		v, say  [2]uint16
		refused bool
	}{
		{"2.0", [2]uint16{2, 0}, [2]uint16{2, 0}, false},
		{"2.1", [2]uint16{2, 1}, [2]uint16{2, 1}, false},
		{"2.2", [2]uint16{2, 2}, [2]uint16{2, 2}, false},
		{"2.3 in the old order", [2]uint16{2, 2}, [2]uint16{2, 3}, false},
		{"2.3 in the new order", [2]uint16{2, 4}, [2]uint16{2, 3}, false},
		{"543.0", [2]uint16{543, 0}, [2]uint16{543, 0}, false},
		{"1.0", [2]uint16{2, 4}, [2]uint16{1, 0}, true},
		{"2.5", [2]uint16{2, 4}, [2]uint16{2, 5}, true},
		{"3.0", [2]uint16{2, 4}, [2]uint16{3, 0}, true},
		{"543.1", [2]uint16{2, 4}, [2]uint16{543, 1}, true},
	} {
		for _, big := range []bool{false, true} {
			name := fmt.Sprintf("%s big-endian %v", tc.name, big)
			path := writeTemp(t, "v.pcap", withVersion(tc.v, tc.say, big))
			segs, _, err := readAll(t, []string{path}, capture.Options{})
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "version") || !strings.Contains(err.Error(), path) {
					t.Errorf("%s: %v, want an error naming the version and the file", name, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if len(segs) != len(want) {
				t.Errorf("%s: %d segments, want %d", name, len(segs), len(want))
				continue
			}
			for i := range segs {
				if segs[i] != want[i] {
					t.Errorf("%s: segment %d: %s, want %s", name, i, fmtSeg(segs[i]), fmtSeg(want[i]))
				}
			}
		}
	}
}

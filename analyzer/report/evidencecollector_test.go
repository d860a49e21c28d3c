package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/analyzer"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestChunks: a list kept in chunks gives back what was added, in order, across
// chunk boundaries: each leaves it as it was, moveEach empties it.
func TestChunks(t *testing.T) {
	for _, n := range []int{0, 1, evidenceChunk - 1, evidenceChunk, evidenceChunk + 1, 3*evidenceChunk + 7} {
		var c chunks[int]
		var want []int
		for i := range n {
			c.add(i)
			want = append(want, i)
		}
		if c.n != n {
			t.Errorf("%d added, %d counted", n, c.n)
		}
		var seen, got []int
		c.each(func(v *int) { seen = append(seen, *v) })
		if !slices.Equal(seen, want) || c.n != n {
			t.Errorf("%d added: each gave %d, not the same, or emptied the list", n, len(seen))
		}
		c.moveEach(func(v *int) { got = append(got, *v) })
		if !slices.Equal(got, want) {
			t.Errorf("%d added: moved %d, not the same", n, len(got))
		}
		left := 0
		c.moveEach(func(*int) { left++ })
		if c.n != 0 || left != 0 {
			t.Errorf("%d added: not empty after", n)
		}
	}
}

// TestMergeEvidence: MergeEvidence orders the collectors' connections by first
// frame and their findings in report order, the first collector's first among
// equal findings (as analyzer.Merge orders a held report's), whatever the order
// they were added in; nil without collectors.
func TestMergeEvidence(t *testing.T) {
	if d := MergeEvidence([]*EvidenceCollector{nil}); d != nil {
		t.Fatalf("a document without collectors: %+v", d)
	}
	cs := []*EvidenceCollector{NewEvidenceCollector(nil), NewEvidenceCollector(nil)}
	at := time.Unix(100, 0)
	for i := range 3 * evidenceChunk {
		c := &analyzer.Connection{FirstFrame: uint64(3*evidenceChunk - i), Incarnation: i}
		f := analyzer.Finding{Kind: analyzer.FinRetransmit, Time: at.Add(time.Duration(i%7) * time.Second), Frames: []uint64{uint64(i % 5)}, Incarnation: i}
		cs[i%2].Add(c, []analyzer.Finding{f})
	}
	d := MergeEvidence(cs)
	if len(d.Connections) != 3*evidenceChunk || len(d.Findings) != 3*evidenceChunk {
		t.Fatalf("%d connections and %d findings, want %d each", len(d.Connections), len(d.Findings), 3*evidenceChunk)
	}
	if !slices.IsSortedFunc(d.Connections, func(a, b analyzer.Connection) int { return int(a.FirstFrame) - int(b.FirstFrame) }) {
		t.Error("connections not in first-frame order")
	}
	for i := 1; i < len(d.Findings); i++ {
		a, b := &d.Findings[i-1], &d.Findings[i]
		switch c := analyzer.CompareFindings(a, b); {
		case c > 0:
			t.Fatalf("findings %d and %d out of report order", i-1, i)
		case c == 0 && a.Incarnation%2 > b.Incarnation%2:
			t.Fatalf("findings %d and %d equal: the second collector's first", i-1, i)
		case c == 0 && a.Incarnation%2 == b.Incarnation%2 && a.Incarnation > b.Incarnation:
			t.Fatalf("findings %d and %d equal: not in the order added", i-1, i)
		}
	}
}

// TestEvidencePacked: the EvidenceCollector's packed records come back as
// ladderRecord and evidenceFinding copy them, field for field (nil and empty tags
// and frames told apart), the connections only those on a finding's 4-tuple, tags
// and tunnel (their packed identity the ID of the record), for records the packed form holds and those it keeps as
// they were: IPv4, IPv6, IPv4-mapped and zoned addresses, no address, up to three
// tags, tunnels, up to six frames, times in UTC and elsewhere, and more strings
// than the table's look along its list.
func TestEvidencePacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 17))
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::7"),
		netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("fe80::1%eth0"), {}}
	tags := [][]uint16{nil, {}, {7}, {7, 9}, {1, 2, 3}}
	str := func(prefix string, n int) string {
		if k := rng.IntN(n + 1); k > 0 {
			return prefix + strconv.Itoa(k)
		}
		return ""
	}
	ec := NewEvidenceCollector(nil)
	var wantConns []analyzer.Connection
	var wantFindings []analyzer.Finding
	wide := 0
	for i := range 3000 {
		end := func() netip.AddrPort { return netip.AddrPortFrom(addrs[rng.IntN(len(addrs))], uint16(rng.IntN(3))) }
		c := &analyzer.Connection{Client: end(), Server: end(), VLAN: tags[rng.IntN(len(tags))], ServerVLAN: tags[rng.IntN(len(tags))],
			Tunnel: str("vxlan ", 3), Incarnation: rng.IntN(5), FirstFrame: uint64(rng.IntN(1000)), LastFrame: rng.Uint64(),
			Packets: rng.Uint64(), Close: analyzer.Shape(str("shape", 30)),
			History: "ShADadfF", Start: time.Unix(5, 0)} // not kept
		var fs []analyzer.Finding
		for range rng.IntN(3) {
			f := analyzer.Finding{Kind: analyzer.Kind(str("kind", 5)), Client: end(), Server: end(), VLAN: tags[rng.IntN(len(tags))],
				ServerVLAN: tags[rng.IntN(len(tags))], Tunnel: str("gre ", 2), Incarnation: rng.IntN(5),
				Time: time.Unix(rng.Int64N(1<<34)-1<<33, rng.Int64N(1e9)).UTC(), Verdict: analyzer.Verdict(str("verdict", 4)),
				Outcome: analyzer.Outcome(str("outcome", 3)), Message: "not kept"}
			switch rng.IntN(6) {
			case 0:
				f.Frames = nil
			case 1:
				f.Frames = []uint64{}
			default:
				for range rng.IntN(7) {
					f.Frames = append(f.Frames, rng.Uint64())
				}
			}
			if rng.IntN(10) == 0 {
				f.Time = f.Time.Local()
			}
			fs = append(fs, f)
		}
		if i%100 == 0 {
			c = nil
		} else {
			wantConns = append(wantConns, ladderRecord(c))
			if p, ok := ec.strs.packConn(c); !ok {
				wide++
			} else if id, want := ec.strs.connID(&p.id), c.ID(); id != want {
				t.Fatalf("connection %d: packed, its identity is %+v, want %+v", i, id, want)
			}
		}
		for j := range fs {
			wantFindings = append(wantFindings, evidenceFinding(&fs[j]))
			if _, ok := ec.strs.packFinding(&fs[j]); !ok {
				wide++
			}
		}
		ec.Add(c, fs)
	}
	// Kept: the connections on a finding's 4-tuple (tags and tunnel), as a map of
	// the identities has them.
	flows := map[analyzer.ConnID]bool{}
	for i := range wantFindings {
		flows[wantFindings[i].ID().Flow()] = true
	}
	all := len(wantConns)
	wantConns = slices.DeleteFunc(wantConns, func(c analyzer.Connection) bool { return !flows[c.ID().Flow()] })
	if len(wantConns) < all/10 || len(wantConns) > all-all/10 {
		t.Fatalf("%d connections of %d on a finding's 4-tuple: the test does not try both", len(wantConns), all)
	}
	slices.SortStableFunc(wantConns, func(a, b analyzer.Connection) int { return cmp.Compare(a.FirstFrame, b.FirstFrame) })
	analyzer.SortFindings(wantFindings)
	d := MergeEvidence([]*EvidenceCollector{ec})
	if wide == 0 || wide > all+len(wantFindings)-100 {
		t.Fatalf("%d records of %d kept as they were: the test does not try both forms", wide, all+len(wantFindings))
	}
	if len(ec.strs.strs) <= 16 {
		t.Fatalf("%d strings numbered: the table's map is not tried", len(ec.strs.strs))
	}
	if !reflect.DeepEqual(d.Connections, wantConns) {
		for i := range wantConns {
			if !reflect.DeepEqual(d.Connections[i], wantConns[i]) {
				t.Fatalf("connection %d:\n%+v\nwant\n%+v", i, d.Connections[i], wantConns[i])
			}
		}
	}
	if !reflect.DeepEqual(d.Findings, wantFindings) {
		for i := range wantFindings {
			if !reflect.DeepEqual(d.Findings[i], wantFindings[i]) {
				t.Fatalf("finding %d:\n%+v\nwant\n%+v", i, d.Findings[i], wantFindings[i])
			}
		}
	}
}

// TestWriteExportJSON: the "export" member is written as encoding/json's Marshal and
// EscapeControls wrote it: file names to escape (quotes, HTML's characters,
// controls, DEL, C1, bytes past UTF-8), nil and empty frame maps and lists, and a
// map long enough to be written in several pieces.
func TestWriteExportJSON(t *testing.T) {
	long := make([][2]uint64, 20000)
	for i := range long {
		long[i] = [2]uint64{uint64(i)*3 + 1, uint64(i) + 1<<40}
	}
	for i, x := range []ExportInfo{
		{File: "ev.pcap", Format: "pcap"},
		{File: `a "b" <c> & d\e` + "\t\x01\x7f\u0085\xff.pcapng", Format: "pcapng", Packets: 3, Connections: 1,
			Frames: [][2]uint64{{1, 1}, {7, 2}, {9, 3}}, FindingFrames: [][]uint64{{2, 3}, {}, nil}},
		{File: "x", Format: "pcap", Frames: [][2]uint64{}, FindingFrames: [][]uint64{}},
		{File: "big.pcap", Format: "pcap", Packets: len(long), Connections: 5000, Frames: long, FindingFrames: [][]uint64{{1 << 40}}},
	} {
		m, err := json.Marshal(&x)
		if err != nil {
			t.Fatal(err)
		}
		want := `  "export": ` + string(EscapeControls(m))
		var buf bytes.Buffer
		bw := bufio.NewWriterSize(&buf, 4096)
		if err := writeExportJSON(bw, &x); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != want {
			n := min(len(got), len(want), 200)
			t.Errorf("export %d: %d bytes, want %d:\n%s\nwant\n%s", i, len(got), len(want), got[:n], want[:n])
		}
	}
}

// TestAppendPacketBlock: a packet block written by appendPacketBlock is the bytes
// pcapgo's NgWriter writes for the same packet and comment: data and comments of
// every length modulo four (none included), timestamps before and after 1970 and
// past 2106, an interface other than the first.
func TestAppendPacketBlock(t *testing.T) {
	times := []time.Time{time.Unix(0, 0), time.Unix(1700000000, 123456789), time.Unix(-5, 7), time.Unix(5000000000, 1)}
	for dl := range 9 {
		for cl := range 9 {
			for ti, ts := range times {
				data := bytes.Repeat([]byte{byte(dl + 1)}, dl)
				comment := strings.Repeat("c", cl)
				ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: dl, Length: dl + ti, InterfaceIndex: 1}
				var want bytes.Buffer
				bw := bufio.NewWriter(&want)
				w, err := pcapgo.NewNgWriterInterface(bw, ngInterface(layers.LinkTypeEthernet), pcapgo.NgWriterOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.AddInterface(ngInterface(layers.LinkTypeRaw)); err != nil {
					t.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				head := want.Len()
				if err := w.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{Comments: []string{comment}}); err != nil {
					t.Fatal(err)
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if got := appendPacketBlock(nil, 1, ci, data, []byte(comment)); !bytes.Equal(got, want.Bytes()[head:]) {
					t.Errorf("data %d, comment %d, time %v:\n%x\nwant\n%x", dl, cl, ts, got, want.Bytes()[head:])
				}
			}
		}
	}
}

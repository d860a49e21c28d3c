package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Damaged and unreadable inputs, end to end: each gives the report of what was read
// before the damage (-o json parses; summary.packets counts the frames before it),
// then exactly one line on stderr naming the file and where reading stopped (the
// frame and byte offset, or what is wrong with the file as a whole), and exit code
// 2. Never a panic, never a hang: each runs as a child process with a deadline
// (runProc), and the absurd lengths also within a memory bound.

// pcapRecords returns the byte offset of every record of a pcap file.
func pcapRecords(t *testing.T, b []byte) []int {
	t.Helper()
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 0xa1 {
		bo = binary.BigEndian
	}
	var offs []int
	for off := 24; off+16 <= len(b); off += 16 + int(bo.Uint32(b[off+8:])) {
		offs = append(offs, off)
	}
	return offs
}

// ngBlock is one pcapng block: its offset, type and length.
type ngBlock struct {
	off       int
	typ, size uint32
}

// ngBlocks returns the blocks of a little-endian pcapng file, and the indexes
// (into it) of its packet blocks.
func ngBlocks(b []byte) (blocks []ngBlock, packets []int) {
	for off := 0; off+8 <= len(b); {
		bl := ngBlock{off, binary.LittleEndian.Uint32(b[off:]), binary.LittleEndian.Uint32(b[off+4:])}
		if bl.typ == 6 {
			packets = append(packets, len(blocks))
		}
		blocks = append(blocks, bl)
		off += int(bl.size)
	}
	return blocks, packets
}

func put32(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func splice(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pcapDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gzipUnfinished compresses b and flushes it without ending the stream: a gzip
// file cut short whose decompressed bytes end exactly after b.
func gzipUnfinished(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(out.Bytes())
}

// damagedCase is one input and what finack must make of it.
type damagedCase struct {
	name    string
	data    []byte // written to the file "input" (nil: setup makes it)
	setup   func(t *testing.T, dir string) (path string, o procOptions)
	extra   []string // more -r files, in dir (rotated pieces)
	code    int      // exit code
	packets uint64   // summary.packets
	where   []string // in the stderr line (and the JSON error) besides the file name
}

func damagedCases(t *testing.T) []damagedCase {
	pc := readTestdata(t, "final-ack-dropped.pcap") // 14 records
	offs := pcapRecords(t, pc)
	last := offs[len(offs)-1]
	ng := readTestdata(t, "gen-mixed-interfaces.pcapng") // 44 packets, 3 interfaces
	blocks, pkts := ngBlocks(ng)
	epb10 := blocks[pkts[9]]                                          // the 10th packet's block
	gz := readTestdata(t, "gen-gzip.pcap.gz")                         // 11 records
	plain, _ := io.ReadAll(must(gzip.NewReader(bytes.NewReader(gz)))) // its pcap
	plainOffs := pcapRecords(t, plain)
	rec6 := offs[5] // the 6th record
	garbage := bytes.Repeat([]byte{0xab}, 40)
	text := []byte("this is text, not a record header......")

	return []damagedCase{
		{name: "truncated last record", data: pc[:len(pc)-5], code: 2, packets: 13,
			where: []string{"frame 14", fmt.Sprintf("byte offset %d", last), "unexpected EOF"}},
		{name: "truncated inside the last record header", data: pc[:last+7], code: 2, packets: 13,
			where: []string{"frame 14", fmt.Sprintf("byte offset %d", last)}},
		{name: "truncated at a record boundary (a valid shorter capture)", data: pc[:last], code: 0, packets: 13},
		{name: "garbage over a record in the middle", data: splice(pc[:rec6], garbage, pc[rec6+len(garbage):]), code: 2, packets: 5,
			where: []string{"frame 6", fmt.Sprintf("byte offset %d", rec6), "capture length exceeds"}},
		{name: "garbage inserted between records", data: splice(pc[:rec6], text, pc[rec6:]), code: 2, packets: 5,
			where: []string{"frame 6", fmt.Sprintf("byte offset %d", rec6)}},
		{name: "wrong magic", data: splice([]byte("NOPE"), pc[4:]), code: 2, packets: 0,
			where: []string{"not a pcap or pcapng file", "4e 4f 50 45"}},
		{name: "zero captured length, its bytes left in place", data: put32(pc, rec6+8, 0), code: 2, packets: 6,
			where: []string{"frame 7", fmt.Sprintf("byte offset %d", rec6+16)}},
		{name: "zero-length record (well formed: a frame with no bytes)",
			data: splice(pc[:rec6], put32(put32(make([]byte, 16), 0, binary.LittleEndian.Uint32(pc[rec6:])), 12, 60), pc[rec6:]),
			code: 0, packets: 15},
		{name: "enormous captured length", data: put32(put32(pc, rec6+8, 0x7ffffff0), rec6+12, 0x7ffffff0), code: 2, packets: 5,
			where: []string{"frame 6", fmt.Sprintf("byte offset %d", rec6), "capture length exceeds snap length"}},
		{name: "pcapng: garbage over a block header", data: splice(ng[:epb10.off], garbage[:8], ng[epb10.off+8:]), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: block length 0", data: put32(ng, epb10.off+4, 0), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: block length beyond the file", data: put32(ng, epb10.off+4, 0x7ffffff0), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: block length too short", data: put32(ng, epb10.off+4, 28), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: block length not a multiple of 4", data: put32(ng, epb10.off+4, epb10.size+2), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		// pcapgo reads the leading length only; the trailing copy is not checked
		// (Wireshark reports the mismatch). Every block is still read right.
		{name: "pcapng: trailing block length differs (not checked)", data: put32(ng, epb10.off+int(epb10.size)-4, epb10.size+4), code: 0, packets: 44},
		{name: "pcapng: zero captured length, its bytes left in place", data: put32(ng, epb10.off+20, 0), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: enormous captured length", data: put32(ng, epb10.off+20, 0x7ffffff0), code: 2, packets: 9,
			where: []string{"frame 10", fmt.Sprintf("byte offset %d", epb10.off)}},
		{name: "pcapng: truncated", data: ng[:len(ng)-10], code: 2, packets: 43,
			where: []string{"frame 44", fmt.Sprintf("byte offset %d", blocks[pkts[43]].off)}},
		{name: "gzip stream cut short", data: gz[:len(gz)-30], code: 2, packets: 10,
			where: []string{"frame 11", "of the decompressed stream", "unexpected EOF"}},
		{name: "gzip stream cut at a record boundary", data: gzipUnfinished(t, plain[:plainOffs[4]]), code: 2, packets: 4,
			where: []string{"frame 5", fmt.Sprintf("byte offset %d of the decompressed stream", plainOffs[4]), "unexpected EOF"}},
		{name: "gzip stream cut inside its header", data: gz[:6], code: 2, packets: 0, where: []string{"gzip"}},
		{name: "gzip checksum wrong", data: put32(gz, len(gz)-8, binary.LittleEndian.Uint32(gz[len(gz)-8:])^1), code: 2, packets: 11,
			where: []string{"frame 12", "checksum"}},
		{name: "gzip with garbage after the stream", data: splice(gz, text), code: 2, packets: 11,
			where: []string{"frame 12", "gzip"}},
		{name: "empty file", data: []byte{}, code: 2, packets: 0, where: []string{"empty file"}},
		{name: "pcap file header only (a valid empty capture)", data: pc[:24], code: 0, packets: 0},
		{name: "a directory", code: 2, packets: 0, where: []string{"is a directory"},
			setup: func(t *testing.T, dir string) (string, procOptions) {
				if err := os.Mkdir(filepath.Join(dir, "input"), 0o755); err != nil {
					t.Fatal(err)
				}
				return "input", procOptions{}
			}},
		{name: "no read permission", code: 2, packets: 0, where: []string{"permission denied"},
			setup: func(t *testing.T, dir string) (string, procOptions) {
				if err := os.WriteFile(filepath.Join(dir, "input"), pc, 0o000); err != nil {
					t.Fatal(err)
				}
				if os.Geteuid() != 0 {
					return "input", procOptions{}
				}
				// Root reads any file: run finack as nobody (65534), which
				// needs the directory (and the test's one above it) to be
				// searchable by it.
				for _, d := range []string{filepath.Dir(dir), dir} {
					if err := os.Chmod(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				return "input", procOptions{cred: &syscall.Credential{Uid: 65534, Gid: 65534}}
			}},
		{name: "second rotated piece damaged", code: 2, packets: 19, extra: []string{"piece1"},
			where: []string{"piece1: frame 4"},
			setup: func(t *testing.T, dir string) (string, procOptions) {
				p0 := readTestdata(t, "gen-rotated.pcap0")
				p1 := readTestdata(t, "gen-rotated.pcap1")
				o1 := pcapRecords(t, p1)
				if err := os.WriteFile(filepath.Join(dir, "input"), p0, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "piece1"), p1[:o1[3]+20], 0o644); err != nil {
					t.Fatal(err)
				}
				return "input", procOptions{}
			}},
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDamagedInputs runs every damaged input in JSON, NDJSON and text.
func TestDamagedInputs(t *testing.T) {
	for _, tc := range damagedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, o := "input", procOptions{}
			if tc.setup != nil {
				path, o = tc.setup(t, dir)
			} else if err := os.WriteFile(filepath.Join(dir, path), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			o.dir, o.timeout = dir, 20*time.Second
			args := []string{"-r", path}
			for _, e := range tc.extra {
				args = append(args, "-r", e)
			}
			for _, form := range [][]string{{"-o", "json"}, {"-o", "ndjson"}, {"-o", "text", "--connections"}} {
				r := runProc(t, o, append(args, form...)...)
				if r.code != tc.code {
					t.Fatalf("%v: exit %d, want %d; stderr: %s", form, r.code, tc.code, r.stderr)
				}
				if r.maxRSS > 256<<20 || r.elapsed > 10*time.Second {
					t.Errorf("%v: %d MiB, %v: not bounded", form, r.maxRSS>>20, r.elapsed)
				}
				line := strings.TrimSuffix(r.stderr, "\n")
				if tc.code != 2 {
					if line != "" {
						t.Errorf("%v: stderr %q, want nothing", form, r.stderr)
					}
				} else {
					named := tc.extra
					if len(named) == 0 {
						named = []string{path}
					}
					if strings.Contains(line, "\n") || !strings.HasPrefix(line, "finack: ") || !strings.Contains(line, named[0]) {
						t.Errorf("%v: stderr %q: want one line naming %s", form, r.stderr, named[0])
					}
					for _, w := range tc.where {
						if !strings.Contains(line, w) {
							t.Errorf("%v: stderr %q does not say %q", form, line, w)
						}
					}
				}
				switch form[1] {
				case "json":
					var doc struct {
						Summary struct {
							Packets uint64 `json:"packets"`
						} `json:"summary"`
						Error string `json:"error"`
					}
					if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
						t.Fatalf("-o json does not parse: %v\n%s", err, tail(r.stdout, 500))
					}
					if doc.Summary.Packets != tc.packets {
						t.Errorf("summary.packets %d, want %d (the frames before the damage)", doc.Summary.Packets, tc.packets)
					}
					if (doc.Error != "") != (tc.code == 2) || (doc.Error != "" && !strings.Contains(line, doc.Error)) {
						t.Errorf("JSON error %q, stderr %q", doc.Error, line)
					}
				case "ndjson":
					lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
					var sum struct {
						Type    string `json:"type"`
						Packets uint64 `json:"packets"`
					}
					if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Type != "summary" || sum.Packets != tc.packets {
						t.Errorf("-o ndjson: last line %q (%v): want the summary with %d packets", lines[len(lines)-1], err, tc.packets)
					}
				default:
					if !strings.Contains(r.stdout, fmt.Sprintf("packets      %d ", tc.packets)) {
						t.Errorf("text report: no %d packets:\n%s", tc.packets, tail(r.stdout, 500))
					}
				}
			}
		})
	}
}

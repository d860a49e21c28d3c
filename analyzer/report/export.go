package report

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/finack/finack/analyzer"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/finack/finack/capture"
)

// --export FILE writes every packet of the connections with findings, as captured
// (bytes, lengths, original timestamps in nanoseconds), so a person opens exactly
// those in Wireshark. The file is pcapng when its name ends in .pcapng: then every
// packet carries a comment naming its frame in the report and the findings it is
// evidence of, and link types may differ between packets. Otherwise it is a pcap,
// which holds one link type. Packets keep their order within each capture; with
// --separate, the captures follow each other in the file.

// exportSnaplen is the snap length written in the file header: tcpdump's default,
// and what libpcap accepts for every link type.
const exportSnaplen = 262144

// exporter writes the export file.
type exporter struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	ng   bool

	pcap     *pcapgo.Writer
	pcapLink layers.LinkType
	ngw      *pcapgo.NgWriter
	ifaces   map[layers.LinkType]int // pcapng interface per link type

	n     uint64 // packets written
	block []byte // a pcapng packet block (appendPacketBlock), kept for the next
}

func newExporter(path string) (*exporter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--export: %w", err)
	}
	return &exporter{path: path, f: f, bw: bufio.NewWriterSize(f, 1<<16), ng: strings.HasSuffix(path, ".pcapng"),
		ifaces: map[layers.LinkType]int{}}, nil
}

func (e *exporter) format() string {
	if e.ng {
		return "pcapng"
	}
	return "pcap"
}

// ngInterface describes the interface of one link type in the exported pcapng: no
// OS or host name, so the same input exports the same bytes anywhere.
func ngInterface(link layers.LinkType) pcapgo.NgInterface {
	return pcapgo.NgInterface{Name: "finack-export", LinkType: link, SnapLength: exportSnaplen, TimestampResolution: 9}
}

// write appends one record, with its comment in a pcapng (a pcap holds none), and
// returns its frame number in the exported file.
func (e *exporter) write(rec capture.Record, comment []byte) (uint64, error) {
	ci := gopacket.CaptureInfo{Timestamp: rec.Info.Timestamp, CaptureLength: len(rec.Data), Length: max(rec.Info.Length, len(rec.Data))}
	var err error
	if e.ng {
		id, ok := e.ifaces[rec.Link]
		if e.ngw == nil {
			e.ngw, err = pcapgo.NewNgWriterInterface(e.bw, ngInterface(rec.Link), pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "finack --export"}})
			id, ok = 0, true
			e.ifaces[rec.Link] = 0
		}
		if err == nil && !ok {
			id, err = e.ngw.AddInterface(ngInterface(rec.Link))
			e.ifaces[rec.Link] = id
		}
		if err == nil {
			e.block = appendPacketBlock(e.block[:0], uint32(id), ci, rec.Data, comment)
			_, err = e.bw.Write(e.block)
		}
	} else {
		if e.pcap == nil {
			e.pcap, e.pcapLink = pcapgo.NewWriterNanos(e.bw), rec.Link
			err = e.pcap.WriteFileHeader(exportSnaplen, rec.Link)
		} else if rec.Link != e.pcapLink {
			err = fmt.Errorf("the connections span link types %v and %v, which a pcap cannot hold: name the file .pcapng", e.pcapLink, rec.Link)
		}
		if err == nil {
			err = e.pcap.WritePacket(ci, rec.Data)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("--export: %s: %w", e.path, err)
	}
	e.n++
	return e.n, nil
}

// appendPacketBlock appends to b a pcapng enhanced packet block of interface id,
// with one comment: the bytes pcapgo.NgWriter.WritePacketWithOptions writes (a
// timestamp in the interface's nanoseconds, the data padded to four bytes, the
// comment option padded, the end of options, the length again), without the
// string and the option list it makes for every packet. The interface's blocks
// come from the NgWriter, which writes to the same buffer.
func appendPacketBlock(b []byte, id uint32, ci gopacket.CaptureInfo, data, comment []byte) []byte {
	const (
		enhancedPacket = 6 // block type
		optComment     = 1
	)
	pad := func(n int) int { return (4 - n&3) & 3 }
	length := 28 + len(data) + pad(len(data)) + 4 + len(comment) + pad(len(comment)) + 4 + 4
	ts := ci.Timestamp.UnixNano()
	le := binary.LittleEndian
	b = le.AppendUint32(b, enhancedPacket)
	b = le.AppendUint32(b, uint32(length))
	b = le.AppendUint32(b, id)
	b = le.AppendUint32(b, uint32(ts>>32))
	b = le.AppendUint32(b, uint32(ts))
	b = le.AppendUint32(b, uint32(ci.CaptureLength))
	b = le.AppendUint32(b, uint32(ci.Length))
	b = append(b, data...)
	b = append(b, make([]byte, pad(len(data)))...)
	b = le.AppendUint16(b, optComment)
	b = le.AppendUint16(b, uint16(len(comment)))
	b = append(b, comment...)
	b = append(b, make([]byte, pad(len(comment)))...)
	b = le.AppendUint32(b, 0) // end of options
	return le.AppendUint32(b, uint32(length))
}

// close finishes the file: a file with no packets still gets its header, so it
// opens (as an empty Ethernet capture).
func (e *exporter) close() error {
	var err error
	switch {
	case e.ng && e.ngw == nil:
		e.ngw, err = pcapgo.NewNgWriterInterface(e.bw, ngInterface(layers.LinkTypeEthernet), pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "finack --export"}})
	case !e.ng && e.pcap == nil:
		e.pcap = pcapgo.NewWriterNanos(e.bw)
		err = e.pcap.WriteFileHeader(exportSnaplen, layers.LinkTypeEthernet)
	}
	if err == nil && e.ngw != nil {
		err = e.ngw.Flush()
	}
	if err == nil {
		err = e.bw.Flush()
	}
	if cerr := e.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--export: %s: %w", e.path, err)
	}
	return nil
}

// abort removes a half-written file.
func (e *exporter) abort() {
	_ = e.f.Close()       // the file is removed: what it held does not matter
	_ = os.Remove(e.path) // best effort: the error that caused the abort is the one told
}

// appendFrameComment appends a packet's comment in an exported pcapng.
func appendFrameComment(b []byte, capture string, frame uint64, kinds []analyzer.Kind) []byte {
	b = analyzer.AppendUint(append(b, "finack: frame "...), frame)
	b = append(append(b, " of "...), capture...)
	for i, k := range kinds {
		if i == 0 {
			b = append(b, "; evidence of "...)
		} else {
			b = append(b, ", "...)
		}
		b = append(b, k...)
	}
	return b
}

// ExportInfo is the "export" object of a capture's JSON report: where its packets
// went, and how its frame numbers map to the exported file's.
type ExportInfo struct {
	File   string `json:"file"`
	Format string `json:"format"`
	// Packets and Connections: this capture's, in the file.
	Packets     int `json:"packets"`
	Connections int `json:"connections"`
	// Frames maps frame numbers: [frame in this report, frame in the exported file],
	// one pair per exported packet, in order.
	Frames [][2]uint64 `json:"frames"`
	// FindingFrames holds, for each finding (same order as findings), its frames'
	// numbers in the exported file.
	FindingFrames [][]uint64 `json:"finding_frames"`
}

func newExportInfo(ex *exporter, r *Result, ev *connEvidence) *ExportInfo {
	findings := r.Doc.evidence().Findings
	x := &ExportInfo{File: ex.path, Format: ex.format(), Packets: len(ev.exported), Connections: len(ev.conns),
		Frames: ev.exported, FindingFrames: make([][]uint64, len(findings))}
	if x.Frames == nil {
		x.Frames = [][2]uint64{}
	}
	for i, f := range findings {
		x.FindingFrames[i] = make([]uint64, 0, len(f.Frames))
		for _, fr := range f.Frames {
			j, ok := slices.BinarySearchFunc(x.Frames, fr, func(p [2]uint64, fr uint64) int { return cmp.Compare(p[0], fr) })
			if ok {
				x.FindingFrames[i] = append(x.FindingFrames[i], x.Frames[j][1])
			}
		}
	}
	return x
}

// writeExportJSON writes the "export" member of the JSON report as
// encoding/json's Marshal, then EscapeControls, writes it, but as it goes: its
// frame map holds a pair for every packet exported, millions of them.
func writeExportJSON(bw *bufio.Writer, x *ExportInfo) error {
	file, err := json.Marshal(x.File)
	if err != nil {
		return err
	}
	b := append(make([]byte, 0, 64<<10), "  \"export\": {\"file\":"...)
	b = append(b, EscapeControls(file)...)
	format, _ := json.Marshal(x.Format) // a word of finack's
	b = append(append(append(b, ",\"format\":"...), format...), ",\"packets\":"...)
	b = analyzer.AppendInt(b, int64(x.Packets))
	b = analyzer.AppendInt(append(b, ",\"connections\":"...), int64(x.Connections))
	b = append(b, ",\"frames\":"...)
	flush := func() {
		if len(b) >= 60<<10 {
			_, _ = bw.Write(b) // bw keeps its first error, returned by its Flush
			b = b[:0]
		}
	}
	if x.Frames == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, p := range x.Frames {
			if i > 0 {
				b = append(b, ',')
			}
			b = analyzer.AppendUint(append(b, '['), p[0])
			b = append(analyzer.AppendUint(append(b, ','), p[1]), ']')
			flush()
		}
		b = append(b, ']')
	}
	b = append(b, ",\"finding_frames\":"...)
	if x.FindingFrames == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, fs := range x.FindingFrames {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONUints(b, fs)
			flush()
		}
		b = append(b, ']')
	}
	_, err = bw.Write(append(b, '}'))
	return err
}

// writeExportText adds the export to a text report: where the packets went, and
// each finding's frames in the exported file.
func writeExportText(w io.Writer, r *Result) {
	x := r.Doc.Export
	if x.Packets == 0 {
		fmt.Fprintf(w, "\nexport       no connection with findings: nothing written to %s from this capture\n", x.File)
		return
	}
	fmt.Fprintf(w, "\nexport       %d packets of %d connection(s) to %s (%s); frames there:\n", x.Packets, x.Connections, x.File, x.Format)
	for i, f := range r.Doc.evidence().Findings {
		fmt.Fprintf(w, "  %-17s  %s → %s #%d%s  frames %s → %s\n", f.Kind, analyzer.EndpointString(f.Client), analyzer.EndpointString(f.Server), f.Incarnation, analyzer.PlaceText(f.VLAN, f.Tunnel), FramesText(f.Frames), FramesText(x.FindingFrames[i]))
	}
}

package report

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"

	"github.com/finack/finack/analyzer"
	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/bpf"
)

// --export and --ladder need the packets of the connections with findings, which
// the first pass did not keep (it keeps one record per connection, not its
// packets). A second pass reads the input again and picks those packets by
// 4-tuple, VLAN tags and frame range: an incarnation is every segment of its
// 4-tuple and VLAN between its first and last frame.

// connEvidence is what the second pass gathered from one capture.
type connEvidence struct {
	// doc: the connections and findings the indexes below are of: the capture's
	// document, or the connections a LadderCollector kept (when the document
	// holds none).
	doc      *Document
	conns    []int               // the selected connections (indexes into doc.Connections), by first frame
	findings map[int][]int       // per selected connection, the findings (indexes) it is evidence of
	segs     map[int][]ladderSeg // per selected connection, its segments (--ladder)
	exported [][2]uint64         // --export: [frame in this capture, frame in the exported file], by frame
	// drawn: the connections whose ladders --html draws (htmlLadders), by first
	// frame; undrawn: the connections with findings left out.
	drawn   []int
	undrawn int
	// ignoreVLAN: --ignore-vlan, for the ladders' display filters.
	ignoreVLAN bool
}

// flowOf is the identity (ConnID.Flow) of the segments between a and b on the tags
// vlan, in either direction.
func flowOf(a, b netip.AddrPort, vlan [2]uint16, tunnel string) analyzer.ConnID {
	return analyzer.ConnID{Client: a, Server: b, VLAN: vlan, ServerVLAN: vlan, Tunnel: tunnel}.Flow()
}

// span is a selected connection's frame range.
type span struct {
	first, last uint64
	conn        int
}

// SelectConnections picks the connections a capture's findings are about: the one
// each finding names, and every connection on the same 4-tuple holding one of the
// finding's frames (a reuse_in_2msl finding's evidence starts in the incarnation
// before the one it names).
func SelectConnections(doc *Document) (sel []int, findingsOf map[int][]int) {
	// byPair: the connections per 4-tuple, tags and tunnel, their ends in either
	// order (an incarnation on the 4-tuple may have them the other way round).
	byPair := map[analyzer.ConnID][]int{}
	for i := range doc.Connections {
		k := doc.Connections[i].ID().Flow()
		byPair[k] = append(byPair[k], i)
	}
	findingsOf = map[int][]int{}
	for fi := range doc.Findings {
		f := &doc.Findings[fi]
		id := f.ID()
		for _, ci := range byPair[id.Flow()] {
			c := &doc.Connections[ci]
			hit := c.ID() == id
			for _, fr := range f.Frames {
				hit = hit || (fr >= c.FirstFrame && fr <= c.LastFrame)
			}
			if hit {
				findingsOf[ci] = append(findingsOf[ci], fi)
			}
		}
	}
	for ci := range findingsOf {
		sel = append(sel, ci)
	}
	sort.Ints(sel) // connections are in first-frame order
	return sel, findingsOf
}

// CollectEvidence runs the second pass over every capture with findings, writing
// the --export file and keeping the segments --ladder draws.
func CollectEvidence(o Options, results []*Result) error {
	for _, f := range o.Files {
		if f == "-" {
			if o.Export == "" && !o.Ladder {
				return nil // --html: the page says why it has no ladders
			}
			name := "--export"
			if o.Export == "" {
				name = "--ladder"
			}
			return fmt.Errorf("%s: reads the capture twice, which stdin (-) cannot do: save it to a file first", name)
		}
	}
	var ex *exporter
	if o.Export != "" {
		var err error
		if ex, err = newExporter(o.Export); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.OpenErr != nil {
			continue
		}
		doc := r.Doc.evidence()
		var sel []int
		var findingsOf map[int][]int
		var picked *Ladders
		if p := r.Doc.Pictures; p != nil && p.Ladders != nil {
			picked = p.Ladders
			doc, sel, findingsOf = picked.document()
		} else {
			sel, findingsOf = SelectConnections(doc)
		}
		ev := &connEvidence{doc: doc, conns: sel, findings: findingsOf, segs: map[int][]ladderSeg{}}
		ev.ignoreVLAN = o.IgnoreVLAN
		if o.HTML != "" {
			if picked != nil {
				ev.drawn, ev.undrawn = sel, picked.Undrawn
			} else {
				ev.drawn, ev.undrawn = htmlLadders(doc, sel, findingsOf, MaxHTMLLadders)
			}
			if o.Export == "" && !o.Ladder {
				// Only the ladders: the second pass keeps the packets of those alone.
				ev.conns = ev.drawn
			}
		}
		r.evidence = ev
		if len(sel) > 0 {
			if err := secondPass(o, r, ev, ex); err != nil {
				if ex != nil {
					ex.abort()
				}
				return err
			}
		}
		if ex != nil {
			r.Doc.Export = newExportInfo(ex, r, ev)
		}
	}
	if ex != nil {
		return ex.close()
	}
	return nil
}

// secondPass reads the capture again and hands the packets of the selected
// connections to the exporter and the ladder. Reading stops quietly where the first
// pass stopped on damage: that error is already reported.
func secondPass(o Options, r *Result, ev *connEvidence, ex *exporter) error {
	doc := ev.doc
	spans := map[analyzer.ConnID][]span{}
	// No frame past the selected connections' last belongs to one: reading stops
	// there (--html's ladders are often of the capture's first connections).
	lastFrame := uint64(0)
	for _, ci := range ev.conns {
		c := &doc.Connections[ci]
		lastFrame = max(lastFrame, c.LastFrame)
		id := c.ID()
		k := flowOf(c.Client, c.Server, id.VLAN, c.Tunnel)
		spans[k] = append(spans[k], span{c.FirstFrame, c.LastFrame, ci})
		if id.ServerVLAN != id.VLAN {
			// The server's segments carry other tags.
			k := flowOf(c.Client, c.Server, id.ServerVLAN, c.Tunnel)
			spans[k] = append(spans[k], span{c.FirstFrame, c.LastFrame, ci})
		}
	}
	// Evidence frames get the kinds of their findings in an exported pcapng's
	// comments (a pcap has none).
	kindsAt := map[uint64][]analyzer.Kind{}
	if ex != nil && ex.ng {
		for _, ci := range ev.conns {
			for _, fi := range ev.findings[ci] {
				f := &doc.Findings[fi]
				for _, fr := range f.Frames {
					if !containsKind(kindsAt[fr], f.Kind) {
						kindsAt[fr] = append(kindsAt[fr], f.Kind)
					}
				}
			}
		}
	}
	if ex != nil {
		// A pair for every packet exported: at most the connections' packets.
		n := uint64(0)
		for _, ci := range ev.conns {
			n += doc.Connections[ci].Packets
		}
		ev.exported = slices.Grow(ev.exported, int(min(n, 1<<26)))
	}
	rd, err := capture.Open(r.Files, capture.Options{Filter: o.Filter, Compile: bpf.Compile, IgnoreVLAN: o.IgnoreVLAN, Count: o.Count})
	if err != nil {
		return err
	}
	defer func() { _ = rd.Close() }() // read-only, and read by the first pass already
	var seg capture.Segment
	var commentBuf []byte
	for {
		err := rd.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			break // the first pass met the same damage and reported it
		}
		if seg.Frame > lastFrame {
			break
		}
		tunnel := ""
		if seg.Tunnel.Kind != capture.NoTunnel {
			tunnel = seg.Tunnel.String()
		}
		ss := spans[flowOf(seg.Src, seg.Dst, seg.VLAN, tunnel)]
		owner := -1
		for _, s := range ss {
			// Ranges on one 4-tuple may overlap (a late segment of an old
			// incarnation): the latest incarnation that has begun owns the frame.
			if seg.Frame >= s.first && seg.Frame <= s.last && (owner < 0 || s.first > doc.Connections[owner].FirstFrame) {
				owner = s.conn
			}
		}
		if owner < 0 {
			continue
		}
		if ex != nil {
			rec, _ := rd.Record()
			var comment []byte
			if ex.ng { // a pcap holds no comments
				commentBuf = appendFrameComment(commentBuf[:0], r.Name, seg.Frame, kindsAt[seg.Frame])
				comment = commentBuf
			}
			n, err := ex.write(rec, comment)
			if err != nil {
				return err
			}
			ev.exported = append(ev.exported, [2]uint64{seg.Frame, n}) // (frames come in order)
		}
		if o.Ladder || slices.Contains(ev.drawn, owner) {
			c := &doc.Connections[owner]
			segs := ev.segs[owner]
			if segs == nil {
				segs = make([]ladderSeg, 0, min(c.Packets, 1<<16)) // its packets, as counted
			}
			ev.segs[owner] = append(segs, ladderSegOf(&seg, c.Client))
		}
	}
	return nil
}

func containsKind(ks []analyzer.Kind, k analyzer.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// writeEvidenceText adds to a capture's text report the --export mapping and the
// --ladder diagrams.
func writeEvidenceText(w io.Writer, o Options, r *Result) error {
	if r.evidence == nil {
		return nil
	}
	if r.Doc.Export != nil {
		writeExportText(w, r)
	}
	if o.Ladder && len(r.evidence.conns) > 0 {
		var buf []byte
		for _, ci := range r.evidence.conns {
			_, _ = io.WriteString(w, "\n")
			writeLadder(w, r.evidence.doc, ci, r.evidence, &buf)
		}
		io.WriteString(w, ladderLegend)
	}
	return nil
}

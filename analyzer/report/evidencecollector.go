package report

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/finack/finack/analyzer"
)

// An EvidenceCollector keeps, for --export and --ladder, what their second pass and
// their parts of the report read of every connection and finding, while the report
// itself streams (its records sorted on disk, spill.go): of a connection, what a
// ladder reads (ladderRecord: its identity, frame range, packets and close); of a
// finding, its identity, frames, time, kind, verdict and outcome (evidenceFinding),
// not its message nor its evidence. Which connections the findings are about
// (SelectConnections) can be known only once every finding is in: a finding may
// name frames of an incarnation handed out long before it. One per worker (each
// 4-tuple goes to one), merged (MergeEvidence) into the document CollectEvidence
// reads. The records are kept packed (evidencepacked.go).
type EvidenceCollector struct {
	next        analyzer.Sink
	connections chunks[packedConn]
	findings    chunks[packedFinding]
	strs        strTable
	// wideConns, wideFindings: the records the packed form cannot hold, as
	// ladderRecord and evidenceFinding keep them.
	wideConns    []analyzer.Connection
	wideFindings []analyzer.Finding
}

// chunks is a list kept in chunks of a fixed size: growing it never copies what it
// holds (a slice grown by append holds its old array and the new one at once, and
// each is as large as all the list).
type chunks[T any] struct {
	full [][]T
	last []T
	n    int
}

// evidenceChunk is the length of a chunk: about 400 KB of packed connections.
const evidenceChunk = 4096

func (c *chunks[T]) add(v T) {
	if len(c.last) == cap(c.last) {
		if c.last != nil {
			c.full = append(c.full, c.last)
		}
		c.last = make([]T, 0, evidenceChunk)
	}
	c.last = append(c.last, v)
	c.n++
}

// each calls fn with each element in order.
func (c *chunks[T]) each(fn func(*T)) {
	for _, ch := range c.full {
		for j := range ch {
			fn(&ch[j])
		}
	}
	for j := range c.last {
		fn(&c.last[j])
	}
}

// moveEach calls fn with each element in order and empties the list, letting each
// chunk go once read.
func (c *chunks[T]) moveEach(fn func(*T)) {
	for i, ch := range c.full {
		for j := range ch {
			fn(&ch[j])
		}
		c.full[i] = nil
	}
	for j := range c.last {
		fn(&c.last[j])
	}
	*c = chunks[T]{}
}

// NewEvidenceCollector returns a collector that passes every record on to next.
func NewEvidenceCollector(next analyzer.Sink) *EvidenceCollector {
	return &EvidenceCollector{next: next}
}

// Add takes one incarnation's record and findings (analyzer.Sink).
func (ec *EvidenceCollector) Add(c *analyzer.Connection, fs []analyzer.Finding) {
	if ec.next != nil {
		ec.next.Add(c, fs)
	}
	if c != nil {
		p, ok := ec.strs.packConn(c)
		if !ok {
			p.wide = int32(len(ec.wideConns))
			ec.wideConns = append(ec.wideConns, ladderRecord(c))
		}
		ec.connections.add(p)
	}
	for i := range fs {
		p, ok := ec.strs.packFinding(&fs[i])
		if !ok {
			p.wide = int32(len(ec.wideFindings))
			ec.wideFindings = append(ec.wideFindings, evidenceFinding(&fs[i]))
		}
		ec.findings.add(p)
	}
}

// evidenceFinding copies what the evidence and the ladders read of f (f's memory
// is reused after Add): its identity (ID, for SelectConnections), frames, time and
// kind (the report's order, CompareFindings), verdict and outcome (benign). The
// LadderCollector keeps the same.
func evidenceFinding(f *analyzer.Finding) analyzer.Finding {
	return analyzer.Finding{Kind: f.Kind, Client: f.Client, Server: f.Server, VLAN: slices.Clone(f.VLAN),
		ServerVLAN: slices.Clone(f.ServerVLAN), Tunnel: strings.Clone(f.Tunnel), Incarnation: f.Incarnation,
		Frames: slices.Clone(f.Frames), Time: f.Time, Verdict: f.Verdict, Outcome: f.Outcome}
}

// MergeEvidence returns the collectors' findings, and the connections on a 4-tuple
// (tags and tunnel) one of them is about, as a document orders them (connections by
// first frame, findings in report order; among equal ones the first collector's
// first, as analyzer.Merge does), nil when there are none. The second pass reads no
// other connection (SelectConnections picks among those on a finding's 4-tuple),
// so the others are never unpacked: in a large capture most connections have no
// finding on their 4-tuple, and unpacked a connection takes four times its packed
// size.
//
// The order is found on keys first, and each record unpacked in its place: the
// records are large and hold pointers, and a sort would move each many times.
func MergeEvidence(cs []*EvidenceCollector) *Document {
	cs = slices.DeleteFunc(slices.Clone(cs), func(c *EvidenceCollector) bool { return c == nil })
	if len(cs) == 0 {
		return nil
	}
	nf := 0
	for _, c := range cs {
		nf += c.findings.n
	}
	// The findings' keys (analyzer.CompareFindings: time, first frame, kind; then
	// the order of the collectors and of each one's findings), and flows: a hash
	// of each finding's Flow. A connection whose Flow hashes to one of them is
	// kept; one that only collides is kept too, and SelectConnections, which
	// compares the identities, does not pick it.
	type findingKey struct {
		order analyzer.FindingOrder
		at    int
	}
	fkeys := make([]findingKey, 0, nf)
	seed := maphash.MakeSeed()
	flows := make(map[uint64]struct{}, nf)
	for _, c := range cs {
		c.findings.each(func(p *packedFinding) {
			var id analyzer.ConnID
			k := findingKey{at: len(fkeys)}
			if p.wide >= 0 {
				f := &c.wideFindings[p.wide]
				id = f.ID()
				k.order = analyzer.OrderOf(f)
			} else {
				id = c.strs.connID(&p.id)
				k.order = analyzer.FindingOrder{Sec: p.sec, Nsec: p.nsec, Kind: analyzer.Kind(c.strs.string(p.kind))}
				if p.nFrames > 0 {
					k.order.Frame = p.frames[0]
				}
			}
			fkeys = append(fkeys, k)
			flows[maphash.Comparable(seed, id.Flow())] = struct{}{}
		})
	}
	slices.SortFunc(fkeys, func(x, y findingKey) int {
		if c := x.order.Compare(y.order); c != 0 {
			return c
		}
		return cmp.Compare(x.at, y.at)
	})
	// place: where each record goes, by the order it was added in (at).
	place := make([]int, nf)
	for i, k := range fkeys {
		place[k.at] = i
	}
	fkeys = nil
	d := &Document{Findings: make([]analyzer.Finding, nf)}
	at := 0
	for _, c := range cs {
		c.findings.moveEach(func(p *packedFinding) {
			if f := &d.Findings[place[at]]; p.wide >= 0 {
				*f = c.wideFindings[p.wide]
			} else {
				c.strs.findingInto(p, f)
			}
			at++
		})
		c.wideFindings = nil
	}
	onFlow := func(id analyzer.ConnID) bool {
		_, ok := flows[maphash.Comparable(seed, id.Flow())]
		return ok
	}
	// The connections kept, and their keys (first frame, then the order of the
	// collectors and of each one's connections).
	type connKey struct {
		first uint64
		at    int
	}
	var ckeys []connKey
	keep := make([][]bool, len(cs))
	for i, c := range cs {
		keep[i] = make([]bool, 0, c.connections.n)
		c.connections.each(func(p *packedConn) {
			var ok bool
			if p.wide >= 0 {
				ok = onFlow(c.wideConns[p.wide].ID())
			} else {
				ok = onFlow(c.strs.connID(&p.id))
			}
			keep[i] = append(keep[i], ok)
			if ok {
				ckeys = append(ckeys, connKey{p.first, len(ckeys)})
			}
		})
	}
	slices.SortFunc(ckeys, func(x, y connKey) int {
		if c := cmp.Compare(x.first, y.first); c != 0 {
			return c
		}
		return cmp.Compare(x.at, y.at)
	})
	place = slices.Grow(place[:0], len(ckeys))[:len(ckeys)]
	for i, k := range ckeys {
		place[k.at] = i
	}
	d.Connections = make([]analyzer.Connection, len(ckeys))
	ckeys, at = nil, 0
	for i, c := range cs {
		j := 0
		c.connections.moveEach(func(p *packedConn) {
			if keep[i][j] {
				if conn := &d.Connections[place[at]]; p.wide >= 0 {
					*conn = c.wideConns[p.wide]
				} else {
					c.strs.connectionInto(p, conn)
				}
				at++
			}
			j++
		})
		c.wideConns = nil
	}
	return d
}

// evidence is the document the second pass of --export and --ladder reads: the
// EvidenceCollectors' when the report streamed its records, else d.
func (d *Document) evidence() *Document {
	if d.Evidence != nil {
		return d.Evidence
	}
	return d
}

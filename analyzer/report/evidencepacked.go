package report

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
)

// An EvidenceCollector keeps every connection and finding of a capture until the
// second pass, so it keeps them without pointers: a record as ladderRecord or
// evidenceFinding copies it would hold a dozen (addresses, tags, strings, frames),
// which the collector would scan at every cycle for the whole run, and take 370
// bytes. Packed, a connection takes 96 bytes and a finding 136, in memory the
// collector does not scan; the few strings (kinds, verdicts, outcomes, shapes,
// tunnels) are numbered in a table of the collector's. A record the packed form
// cannot hold exactly (an address with a zone, more than two tags, more than four
// frames, a time that does not come back the same) is kept as it was, in a list of
// its own, and the packed record points there.

// packedEnd is an endpoint: its address's 16 bytes, IPv4 or IPv6 (or none), and port.
type packedEnd struct {
	addr [16]byte
	port uint16
	kind uint8 // 0: no address, 4: IPv4, 6: IPv6
}

// packedTags are a record's tags: nil (n < 0), or n of at most two.
type packedTags struct {
	tags [2]uint16
	n    int8
}

// packedID is a record's identity: ends, tags, tunnel (a string's number),
// incarnation.
type packedID struct {
	client, server  packedEnd
	vlan, serverVLA packedTags
	tunnel          uint32
	incarnation     int
}

// packedConn is a connection as ladderRecord keeps it; wide: -1, or where in the
// collector's list of records kept as they were it is.
type packedConn struct {
	id                   packedID
	first, last, packets uint64
	close                uint32
	wide                 int32
}

// packedFinding is a finding as evidenceFinding keeps it.
type packedFinding struct {
	id                     packedID
	kind, verdict, outcome uint32
	sec                    int64 // the time: Unix seconds and nanoseconds, in UTC
	nsec                   int32
	frames                 [4]uint64
	nFrames                int8 // -1: nil
	wide                   int32
}

// strTable numbers the strings a collector's packed records name: "" is 0.
type strTable struct {
	strs []string
	ix   map[string]uint32
}

func (t *strTable) number(s string) uint32 {
	if s == "" {
		return 0
	}
	// Few strings, most of them named again and again: a look along the list
	// first, while it is short.
	if len(t.strs) <= 16 {
		for i, x := range t.strs {
			if x == s {
				return uint32(i + 1)
			}
		}
	} else if i, ok := t.ix[s]; ok {
		return i
	}
	t.strs = append(t.strs, strings.Clone(s))
	n := uint32(len(t.strs))
	if len(t.strs) > 16 {
		if t.ix == nil {
			t.ix = make(map[string]uint32, 2*len(t.strs))
			for i, x := range t.strs {
				t.ix[x] = uint32(i + 1)
			}
		}
		t.ix[t.strs[n-1]] = n
	}
	return n
}

func (t *strTable) string(n uint32) string {
	if n == 0 {
		return ""
	}
	return t.strs[n-1]
}

func packEnd(ap netip.AddrPort) (packedEnd, bool) {
	a := ap.Addr()
	e := packedEnd{addr: a.As16(), port: ap.Port()}
	switch {
	case !a.IsValid():
		e.addr = [16]byte{}
	case a.Is4():
		e.kind = 4
	default:
		e.kind = 6
	}
	return e, a.Zone() == ""
}

func (e packedEnd) addrPort() netip.AddrPort {
	switch e.kind {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom16(e.addr).Unmap(), e.port)
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(e.addr), e.port)
	}
	return netip.AddrPortFrom(netip.Addr{}, e.port)
}

func packTags(vl []uint16) (packedTags, bool) {
	if vl == nil {
		return packedTags{n: -1}, true
	}
	if len(vl) > 2 {
		return packedTags{}, false
	}
	t := packedTags{n: int8(len(vl))}
	copy(t.tags[:], vl)
	return t, true
}

func (t packedTags) slice() []uint16 {
	if t.n < 0 {
		return nil
	}
	return slices.Clone(t.tags[:t.n])
}

func (st *strTable) packID(client, server netip.AddrPort, vlan, serverVLAN []uint16, tunnel string, incarnation int) (packedID, bool) {
	var id packedID
	var ok [4]bool
	id.client, ok[0] = packEnd(client)
	id.server, ok[1] = packEnd(server)
	id.vlan, ok[2] = packTags(vlan)
	id.serverVLA, ok[3] = packTags(serverVLAN)
	id.tunnel, id.incarnation = st.number(tunnel), incarnation
	return id, ok == [4]bool{true, true, true, true}
}

// connID is the ConnID of the record id was packed from, as its ID method gives it,
// with nothing allocated.
func (st *strTable) connID(id *packedID) analyzer.ConnID {
	c := analyzer.ConnID{Client: id.client.addrPort(), Server: id.server.addrPort(), VLAN: id.vlan.tags,
		Tunnel: st.string(id.tunnel), Incarnation: id.incarnation}
	c.ServerVLAN = c.VLAN
	if id.serverVLA.n >= 0 {
		c.ServerVLAN = id.serverVLA.tags
	}
	return c
}

// packConn packs what ladderRecord keeps of c; false: it cannot hold c exactly.
func (st *strTable) packConn(c *analyzer.Connection) (packedConn, bool) {
	id, ok := st.packID(c.Client, c.Server, c.VLAN, c.ServerVLAN, c.Tunnel, c.Incarnation)
	return packedConn{id: id, first: c.FirstFrame, last: c.LastFrame, packets: c.Packets, close: st.number(string(c.Close)), wide: -1}, ok
}

// connection is ladderRecord's copy of the connection p was packed from.
func (st *strTable) connection(p *packedConn) analyzer.Connection {
	var c analyzer.Connection
	st.connectionInto(p, &c)
	return c
}

// connectionInto is connection, written into c (zero): field by field, where a
// Connection copied whole moves every one of its pointers (under the write
// barrier while the collector marks).
func (st *strTable) connectionInto(p *packedConn, c *analyzer.Connection) {
	c.Client, c.Server = p.id.client.addrPort(), p.id.server.addrPort()
	c.VLAN, c.ServerVLAN = p.id.vlan.slice(), p.id.serverVLA.slice()
	c.Tunnel, c.Incarnation = st.string(p.id.tunnel), p.id.incarnation
	c.FirstFrame, c.LastFrame, c.Packets = p.first, p.last, p.packets
	c.Close = analyzer.Shape(st.string(p.close))
}

// packFinding packs what evidenceFinding keeps of f; false: it cannot hold f exactly.
func (st *strTable) packFinding(f *analyzer.Finding) (packedFinding, bool) {
	id, ok := st.packID(f.Client, f.Server, f.VLAN, f.ServerVLAN, f.Tunnel, f.Incarnation)
	p := packedFinding{id: id, kind: st.number(string(f.Kind)), verdict: st.number(string(f.Verdict)),
		outcome: st.number(string(f.Outcome)), sec: f.Time.Unix(), nsec: int32(f.Time.Nanosecond()), nFrames: -1, wide: -1}
	if f.Frames != nil {
		if len(f.Frames) > len(p.frames) {
			return p, false
		}
		p.nFrames = int8(copy(p.frames[:], f.Frames))
	}
	return p, ok && p.time() == f.Time // a time in UTC, without a monotonic reading
}

func (p *packedFinding) time() time.Time { return time.Unix(p.sec, int64(p.nsec)).UTC() }

// finding is evidenceFinding's copy of the finding p was packed from.
func (st *strTable) finding(p *packedFinding) analyzer.Finding {
	var f analyzer.Finding
	st.findingInto(p, &f)
	return f
}

// findingInto is finding, written into f (zero) field by field (connectionInto).
func (st *strTable) findingInto(p *packedFinding, f *analyzer.Finding) {
	f.Kind = analyzer.Kind(st.string(p.kind))
	f.Client, f.Server = p.id.client.addrPort(), p.id.server.addrPort()
	f.VLAN, f.ServerVLAN = p.id.vlan.slice(), p.id.serverVLA.slice()
	f.Tunnel, f.Incarnation = st.string(p.id.tunnel), p.id.incarnation
	f.Time = p.time()
	f.Verdict, f.Outcome = analyzer.Verdict(st.string(p.verdict)), analyzer.Outcome(st.string(p.outcome))
	if p.nFrames >= 0 {
		f.Frames = slices.Clone(p.frames[:p.nFrames])
	}
}

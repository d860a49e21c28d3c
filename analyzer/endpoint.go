package analyzer

import "net/netip"

// The reports render an endpoint or an address with these functions only, so that
// every report prints one the same way: ip:port, an IPv6 address (IPv4-mapped ones
// included) as [addr]:port.

// EndpointString renders ap as the reports print it: as netip.AddrPort's text (what
// encoding/json writes of it), "" for the zero AddrPort.
func EndpointString(ap netip.AddrPort) string { return string(AppendEndpoint(nil, ap)) }

// AppendEndpoint appends EndpointString(ap) to b.
func AppendEndpoint(b []byte, ap netip.AddrPort) []byte {
	if ap.Addr().Is4() {
		b = append(AppendAddr(b, ap.Addr()), ':')
		return AppendUint(b, uint64(ap.Port()))
	}
	if !ap.Addr().IsValid() {
		return b
	}
	return ap.AppendTo(b)
}

// AppendAddr appends a as a.AppendTo does. An IPv4 address (most of a report's)
// is written here, its octets from a table: netip's writes each digit apart.
func AppendAddr(b []byte, a netip.Addr) []byte {
	if !a.Is4() {
		return a.AppendTo(b)
	}
	a4 := a.As4()
	b = appendOctet(b, a4[0])
	b = appendOctet(append(b, '.'), a4[1])
	b = appendOctet(append(b, '.'), a4[2])
	return appendOctet(append(b, '.'), a4[3])
}

// appendOctet appends v in decimal.
func appendOctet(b []byte, v byte) []byte {
	switch {
	case v >= 100:
		d := digits2[(v%100)&127]
		return append(b, '0'+v/100, byte(d), byte(d>>8))
	case v >= 10:
		d := digits2[v&127]
		return append(b, byte(d), byte(d>>8))
	}
	return append(b, '0'+v)
}

// AddrString renders an address as the reports print it (an endpoint's without the
// port and brackets).
func AddrString(a netip.Addr) string { return a.String() }

// ConnID identifies one incarnation of a connection in the reports: its two ends,
// the tags of each end's segments, its tunnel and its number. It is comparable:
// the reports key their maps with it and pair findings with connection records by
// it, without rendering the endpoints to strings.
type ConnID struct {
	Client, Server netip.AddrPort
	// VLAN and ServerVLAN: the tags of the client's and of the server's segments,
	// outer first, 0 where there is none (the same when both directions carry the
	// same tags).
	VLAN, ServerVLAN [2]uint16
	Tunnel           string // the tunnel's text (Finding.Tunnel); "": none
	Incarnation      int
}

// ID returns the identity of the incarnation f is about.
func (f *Finding) ID() ConnID {
	return newConnID(f.Client, f.Server, f.VLAN, f.ServerVLAN, f.Tunnel, f.Incarnation)
}

// ID returns the identity of c's incarnation.
func (c *Connection) ID() ConnID {
	return newConnID(c.Client, c.Server, c.VLAN, c.ServerVLAN, c.Tunnel, c.Incarnation)
}

func newConnID(client, server netip.AddrPort, vlan, serverVLAN []uint16, tunnel string, inc int) ConnID {
	id := ConnID{Client: client, Server: server, Tunnel: tunnel, Incarnation: inc}
	copy(id.VLAN[:], vlan)
	id.ServerVLAN = id.VLAN
	if serverVLAN != nil {
		id.ServerVLAN = [2]uint16{}
		copy(id.ServerVLAN[:], serverVLAN)
	}
	return id
}

// Flow is id without roles or number: the 4-tuple, tags and tunnel its segments
// carry in either direction, the lower end first (as Client, with its tags), so
// that every incarnation on the 4-tuple, whichever end was the client, has the same
// Flow. It is the reports' counterpart of the tracker's reassembly.FlowKey, for the
// records, which keep the tunnel as text.
func (id ConnID) Flow() ConnID {
	id.Incarnation = 0
	if id.Server.Compare(id.Client) < 0 {
		id.Client, id.Server = id.Server, id.Client
		id.VLAN, id.ServerVLAN = id.ServerVLAN, id.VLAN
	}
	return id
}

package report

import (
	"bufio"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/finack/finack/analyzer"
)

// -o tsv writes the connections as a Zeek ASCII log (the format of Zeek's default
// log writer): header lines starting with '#' (the separators, the log's path, when
// it was opened, the field names and their Zeek types), one tab-separated row per
// connection, and a closing line. Zeek's conventions hold throughout: "-" for a field
// without a value, "(empty)" for an empty string or set, "," between set elements,
// and \xNN for every byte that is not printable ASCII, for the backslash, for the tab
// inside a value, and for the comma inside a set element; a value that is exactly
// "-" or "(empty)" gets its first byte escaped so that it reads back as itself.
//
// The log is not Zeek's conn.log, so its path is finack_conn: a row is one
// incarnation (finack splits a 4-tuple's reuse into connections where Zeek may not),
// and conn.log's uid, service, byte counts and conn_state have no counterpart here.
// The fields conn.log has with the same meaning keep its names and types and come
// first; finack's own follow. docs/usage.md documents every field.

// tsvPath is the log's #path.
const tsvPath = "finack_conn"

// tsvFields lists the columns: name and Zeek type.
var tsvFields = []struct{ name, typ string }{
	{"ts", "time"},
	{"id.orig_h", "addr"},
	{"id.orig_p", "port"},
	{"id.resp_h", "addr"},
	{"id.resp_p", "port"},
	{"proto", "enum"},
	{"duration", "interval"},
	{"history", "string"},
	{"vlan", "int"},
	{"inner_vlan", "int"},
	{"tunnel", "string"},
	{"roles_known", "bool"},
	{"incarnation", "count"},
	{"first_frame", "count"},
	{"last_frame", "count"},
	{"packets", "count"},
	{"close", "string"},
	{"active_closer", "string"},
	{"time_wait_holder", "string"},
	{"time_wait_until", "time"},
	{"finack_history", "string"},
	{"orig_fin_frame", "count"},
	{"orig_fin_acked_by", "count"},
	{"orig_fin_ack_delay", "interval"},
	{"resp_fin_frame", "count"},
	{"resp_fin_acked_by", "count"},
	{"resp_fin_ack_delay", "interval"},
	{"orig_fins", "count"},
	{"resp_fins", "count"},
	{"orig_rsts", "count"},
	{"resp_rsts", "count"},
	{"reset_by", "string"},
	{"idle_before_end", "interval"},
	{"reused", "bool"},
	{"dropped", "string"},
	{"findings", "set[string]"},
}

// Zeek's defaults for the ASCII writer.
const (
	tsvSeparator    = '\t'
	tsvSetSeparator = ','
	tsvEmpty        = "(empty)"
	tsvUnset        = "-"
)

// zeekHistoryLetters are the history letters finack records by Zeek's rule (the
// event, the first time in each direction, upper case for the originator): the
// history field keeps only these, so it reads as Zeek's would for the same packets.
const zeekHistoryLetters = "SHADTWQFR"

// ZeekHistory returns the letters of a finack history that Zeek's history has with
// the same meaning, in their order: finack's own letters (docs/findings.md) left out.
func ZeekHistory(h string) string {
	var b strings.Builder
	for i := 0; i < len(h); i++ {
		c := h[i]
		u := c
		if c >= 'a' && c <= 'z' {
			u = c - 'a' + 'A'
		}
		if strings.IndexByte(zeekHistoryLetters, u) >= 0 {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// WriteTSV writes the document's connections as a Zeek ASCII log.
func WriteTSV(w io.Writer, d Document) error {
	defer func() { _ = d.Records.Close() }() // removes spill files only: the report is written
	bw := bufio.NewWriter(w)
	bw.WriteString("#separator \\x09\n")
	header := func(key, val string) {
		bw.WriteString("#" + key + "\t" + val + "\n")
	}
	header("set_separator", string(tsvSetSeparator))
	header("empty_field", tsvEmpty)
	header("unset_field", tsvUnset)
	header("path", tsvPath)
	header("open", zeekLogTime(d.Summary.First))
	names := make([]string, len(tsvFields))
	types := make([]string, len(tsvFields))
	for i, f := range tsvFields {
		names[i], types[i] = f.name, f.typ
	}
	header("fields", strings.Join(names, "\t"))
	header("types", strings.Join(types, "\t"))

	if d.Records != nil {
		// Rows encoded as the connections were analysed (reportEncoder), from
		// the external sort: memory stays flat whatever the connections.
		if err := d.Records.Connections(func(row []byte) error {
			_, err := bw.Write(row)
			return err
		}); err != nil {
			return err
		}
	} else {
		kinds := findingKinds(d.Findings)
		var b []byte
		for i := range d.Connections {
			c := &d.Connections[i]
			b = appendTSVRow(b[:0], c, kinds[c.ID()])
			bw.Write(b)
		}
	}
	if d.Error != "" {
		// Not a directive of Zeek's: readers skip '#' lines they do not know, and a
		// capture that could not be read all through must say so in the log itself.
		header("error", string(appendZeekString(nil, d.Error, false)))
	}
	header("close", zeekLogTime(d.Summary.Last))
	return bw.Flush()
}

// writeMultiTSV writes one log per capture, one after another, as Zeek's logs are
// when concatenated: each with its own header and #close.
func writeMultiTSV(w io.Writer, results []*Result) error {
	for _, r := range results {
		if err := WriteTSV(w, r.Doc); err != nil {
			return err
		}
	}
	return nil
}

// zeekLogTime formats a capture time as Zeek's #open and #close lines do, in UTC so
// that the log is the same wherever it is written; "-" for a capture without packets.
func zeekLogTime(t *time.Time) string {
	if t == nil {
		return tsvUnset
	}
	return t.UTC().Format("2006-01-02-15-04-05")
}

// findingKinds gathers the kinds of finding of each connection, sorted.
func findingKinds(fs []analyzer.Finding) map[analyzer.ConnID][]string {
	m := map[analyzer.ConnID][]string{}
	for i := range fs {
		f := &fs[i]
		k := f.ID()
		m[k] = appendKinds(m[k], fs[i:i+1])
	}
	return m
}

// appendKinds appends the kinds of fs to kinds, sorted, each once: the findings
// column of one connection's row.
func appendKinds(kinds []string, fs []analyzer.Finding) []string {
	for i := range fs {
		k := string(fs[i].Kind)
		n := sort.SearchStrings(kinds, k)
		if n < len(kinds) && kinds[n] == k {
			continue
		}
		kinds = append(kinds, "")
		copy(kinds[n+1:], kinds[n:])
		kinds[n] = k
	}
	return kinds
}

// appendTSVRow appends c's row, with its newline.
func appendTSVRow(b []byte, c *analyzer.Connection, kinds []string) []byte {
	origH, origP := splitEndpoint(c.Client)
	respH, respP := splitEndpoint(c.Server)
	sep := func() { b = append(b, tsvSeparator) }
	str := func(s string) {
		sep()
		if s == "" {
			b = append(b, tsvUnset...)
			return
		}
		b = appendZeekString(b, s, false)
	}
	count := func(n uint64, set bool) {
		sep()
		if !set {
			b = append(b, tsvUnset...)
			return
		}
		b = strconv.AppendUint(b, n, 10)
	}
	ms := func(v *float64) {
		sep()
		if v == nil {
			b = append(b, tsvUnset...)
			return
		}
		b = strconv.AppendFloat(b, *v/1000, 'f', 6, 64)
	}
	boolean := func(v bool) {
		sep()
		if v {
			b = append(b, 'T')
		} else {
			b = append(b, 'F')
		}
	}

	b = appendZeekTime(b, c.Start)
	str(origH)
	str(origP)
	str(respH)
	str(respP)
	str("tcp")
	sep()
	// Zeek leaves the duration unset for a connection that lasted no time.
	if d := c.End.Sub(c.Start); d > 0 {
		b = appendZeekMicros(b, d.Round(time.Microsecond).Microseconds())
	} else {
		b = append(b, tsvUnset...)
	}
	str(ZeekHistory(c.History))
	count(vlanAt(c.VLAN, 0))
	count(vlanAt(c.VLAN, 1))
	str(c.Tunnel)
	boolean(c.RolesKnown)
	count(uint64(c.Incarnation), true)
	count(c.FirstFrame, true)
	count(c.LastFrame, true)
	count(c.Packets, true)
	str(string(c.Close))
	str(c.ActiveCloser)
	str(c.TimeWaitHolder)
	sep()
	if t, err := time.Parse(time.RFC3339Nano, c.TimeWaitUntil); err == nil {
		b = appendZeekTime(b, t)
	} else {
		b = append(b, tsvUnset...)
	}
	str(c.History)
	for _, f := range []*analyzer.FinAck{c.FIN.Client, c.FIN.Server} {
		if f == nil {
			count(0, false)
			count(0, false)
			ms(nil)
			continue
		}
		count(f.Frame, true)
		count(f.AckedBy, f.AckedBy != 0)
		ms(f.AckedAfterMS)
	}
	count(uint64(c.FINs.Client), true)
	count(uint64(c.FINs.Server), true)
	count(uint64(c.RSTs.Client), true)
	count(uint64(c.RSTs.Server), true)
	str(c.ResetBy)
	ms(c.IdleBeforeEndMS)
	boolean(c.Reused)
	str(c.Dropped)
	sep()
	if len(kinds) == 0 {
		b = append(b, tsvEmpty...)
	}
	for i, k := range kinds {
		if i > 0 {
			b = append(b, tsvSetSeparator)
		}
		b = appendZeekString(b, k, true)
	}
	return append(b, '\n')
}

// vlanAt returns the i-th VLAN tag (outer first), and whether there is one.
func vlanAt(tags []uint16, i int) (uint64, bool) {
	if i < len(tags) {
		return uint64(tags[i]), true
	}
	return 0, false
}

// splitEndpoint renders an endpoint's address and port apart, as Zeek does; an
// invalid endpoint is kept whole as the address.
func splitEndpoint(ep netip.AddrPort) (addr, port string) {
	if !ep.IsValid() {
		return analyzer.EndpointString(ep), ""
	}
	return analyzer.AddrString(ep.Addr()), strconv.Itoa(int(ep.Port()))
}

// appendZeekTime appends t as Zeek writes a time: seconds since the epoch with six
// decimals.
func appendZeekTime(b []byte, t time.Time) []byte {
	return appendZeekMicros(b, t.Round(time.Microsecond).UnixMicro())
}

// appendZeekMicros appends a count of microseconds as seconds with six decimals.
func appendZeekMicros(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	b = append(b, '.')
	for d := int64(1e5); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// appendZeekString appends s as Zeek's ASCII writer writes a string value: "(empty)"
// when empty; "-" and "(empty)" themselves with their first byte escaped; every byte
// outside printable ASCII, the backslash, and (in a set) the set separator as \xNN.
// The tab is outside printable ASCII, so a value never holds the field separator.
func appendZeekString(b []byte, s string, inSet bool) []byte {
	if s == "" {
		return append(b, tsvEmpty...)
	}
	i := 0
	if s == tsvUnset || s == tsvEmpty {
		b = appendHexEscape(b, s[0])
		i = 1
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '\\' || inSet && c == tsvSetSeparator {
			b = appendHexEscape(b, c)
			continue
		}
		b = append(b, c)
	}
	return b
}

func appendHexEscape(b []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
}

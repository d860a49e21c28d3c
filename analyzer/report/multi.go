package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/finack/finack/analyzer"
)

// With --separate, each file is its own capture: the report holds one document per
// capture, as a single capture's report would be, and the total over them.

// Total sums the captures of a --separate run.
type Total struct {
	Captures int `json:"captures"`
	// Errors counts the captures that could not be opened or read to the end.
	Errors        int                    `json:"errors"`
	Packets       uint64                 `json:"packets"`
	Segments      uint64                 `json:"tcp_segments"`
	Connections   int                    `json:"connections"`
	Closes        map[analyzer.Shape]int `json:"closes"`
	FindingCounts map[analyzer.Kind]int  `json:"findings"`
}

func newTotal(results []*Result) Total {
	t := Total{Captures: len(results), Closes: analyzer.ShapeCounts[int](), FindingCounts: analyzer.KindCounts[int]()}
	for _, r := range results {
		s := &r.Doc.Summary
		if r.InputError() != "" {
			t.Errors++
		}
		t.Packets += s.Packets
		t.Segments += s.Segments
		t.Connections += s.Connections
		for k, n := range s.Closes {
			t.Closes[k] += n
		}
		for k, n := range s.FindingCounts {
			t.FindingCounts[k] += n
		}
	}
	return t
}

// writeMultiJSON writes {"captures": [document, ...], "total": {...}}, each document
// laid out as -o json lays out one capture's, indented one level deeper.
func writeMultiJSON(w io.Writer, results []*Result) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("{\n  \"captures\": [")
	ib := bufio.NewWriterSize(nil, 64<<10) // each capture's, flushed by WriteJSON
	for i, r := range results {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		iw := &indentWriter{w: bw, prefix: "    "}
		bw.WriteString(iw.prefix)
		ib.Reset(iw)
		if err := WriteJSON(ib, r.Doc); err != nil {
			return err
		}
	}
	if len(results) > 0 {
		bw.WriteString("\n  ")
	}
	t, err := json.MarshalIndent(newTotal(results), "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(bw, "],\n  \"total\": %s\n}\n", EscapeControls(t))
	return bw.Flush()
}

// writeMultiNDJSON writes each capture's records as -o ndjson does, each with
// "capture" naming it, then one {"type":"total"} record.
func writeMultiNDJSON(w io.Writer, results []*Result) error {
	bw := bufio.NewWriter(w)
	nb := bufio.NewWriterSize(nil, 64<<10) // each capture's, flushed below
	for _, r := range results {
		name, _ := json.Marshal(r.Name)
		// Every record is a non-empty object, a line: its first byte, '{', becomes
		// the capture's name and a comma.
		nw := &namingWriter{w: bw, prefix: `{"capture":` + string(EscapeControls(name)) + ","}
		nb.Reset(nw)
		if err := WriteNDJSON(nb, r.Doc); err != nil {
			return err
		}
		if err := nb.Flush(); err != nil {
			return err
		}
		if nw.mid {
			bw.WriteByte('\n') // (a last record without its newline)
		}
	}
	if err := NewJSONEncoder(bw).Encode(struct {
		Type string `json:"type"`
		Total
	}{"total", newTotal(results)}); err != nil {
		return err
	}
	return bw.Flush()
}

// writeMultiText writes each capture's text report, separated by a blank line,
// then the total.
func writeMultiText(w io.Writer, o Options, results []*Result) error {
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if r.OpenErr != nil {
			fmt.Fprintf(w, "file         %s\nerror        %v\n", printableList(r.Files), r.OpenErr)
			continue
		}
		if err := WriteText(w, r.Doc, o.Connections, o.MaxFindings); err != nil {
			return err
		}
		if err := writeEvidenceText(w, o, r); err != nil {
			return err
		}
	}
	t := newTotal(results)
	unreadable := ""
	if t.Errors > 0 {
		unreadable = fmt.Sprintf(" (%d with errors)", t.Errors)
	}
	fmt.Fprintf(w, "\ntotal        %d captures%s, %d packets (%d TCP segments), %d TCP connections\n",
		t.Captures, unreadable, t.Packets, t.Segments, t.Connections)
	fmt.Fprintf(w, "closes       %s\n", CountsText(analyzer.Shapes, t.Closes))
	fmt.Fprintf(w, "findings     %s\n", CountsText(analyzer.Kinds, t.FindingCounts))
	return nil
}

// indentWriter writes what it is given with prefix after each newline, but for a
// last newline, which it leaves out (a document as -o json writes it, indented one
// level deeper, its end joined to what follows). The caller writes the prefix of
// the first line. Writes go to a bufio.Writer, whose errors come at its Flush.
type indentWriter struct {
	w       *bufio.Writer
	prefix  string
	newline bool // a newline was given and not written yet
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if iw.newline {
			iw.w.WriteByte('\n')
			iw.w.WriteString(iw.prefix)
			iw.newline = false
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			iw.w.Write(p)
			break
		}
		iw.w.Write(p[:i])
		iw.newline = true
		p = p[i+1:]
	}
	return n, nil
}

// namingWriter writes each line it is given with prefix in place of its first
// byte (an NDJSON record's '{'), and the line's newline. mid: a line is begun.
type namingWriter struct {
	w      *bufio.Writer
	prefix string
	mid    bool
}

func (nw *namingWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !nw.mid {
			nw.w.WriteString(nw.prefix)
			p = p[1:]
			nw.mid = true
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			nw.w.Write(p)
			break
		}
		nw.w.Write(p[:i+1])
		nw.mid = false
		p = p[i+1:]
	}
	return n, nil
}

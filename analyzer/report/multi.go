package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

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
	var buf bytes.Buffer
	for i, r := range results {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		buf.Reset()
		if err := WriteJSON(&buf, r.Doc); err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		for j, l := range lines {
			if j > 0 {
				bw.WriteByte('\n')
			}
			bw.WriteString("    " + l)
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
	var buf bytes.Buffer
	for _, r := range results {
		buf.Reset()
		if err := WriteNDJSON(&buf, r.Doc); err != nil {
			return err
		}
		name, _ := json.Marshal(r.Name)
		prefix := `{"capture":` + string(EscapeControls(name)) + ","
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			// Every record is a non-empty object: its first byte is '{'.
			bw.WriteString(prefix + line[1:] + "\n")
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

package capture

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ExpandPatterns expands the glob patterns among args (quoted, so the shell left
// them alone: -r 'captures/*.pcap'), in sorted order. An argument that names an
// existing file, or has no glob characters, is kept as it is, so a file whose name
// contains '*' can still be read. A pattern that matches nothing is an error naming
// the flag.
func ExpandPatterns(flagName string, args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" || !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("%s: bad pattern %q: %w", flagName, a, err)
		}
		var files []string
		for _, f := range m {
			if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
				files = append(files, f)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no file matches %q", flagName, a)
		}
		sort.Strings(files)
		out = append(out, files...)
	}
	return out, nil
}

// ExpandCaptures is ExpandPatterns for capture files: the files a pattern matches
// that do not start with the magic number of a capture (pcap, pcapng, snoop, or
// gzip, which may hold one) are left out and returned in skipped, so that
// -r 'captures/*' beside each capture's notes or expected reports reads the
// captures. A file named on its own, not through a pattern, is kept whatever it
// holds: reading it says what is wrong. A pattern all of whose matches are skipped
// is an error, as one that matches nothing.
func ExpandCaptures(flagName string, args []string) (files, skipped []string, err error) {
	for _, a := range args {
		m, err := ExpandPatterns(flagName, []string{a})
		if err != nil {
			return nil, nil, err
		}
		if len(m) == 1 && m[0] == a {
			files = append(files, a) // a file, not a pattern
			continue
		}
		n := len(files)
		for _, f := range m {
			if LooksLikeCapture(f) {
				files = append(files, f)
			} else {
				skipped = append(skipped, f)
			}
		}
		if len(files) == n {
			return nil, nil, fmt.Errorf("%s: no capture file matches %q (%d files do, none of them pcap, pcapng or gzip)", flagName, a, len(m))
		}
	}
	return files, skipped, nil
}

// LooksLikeCapture says whether path starts as a capture file does: the magic
// number of pcap (any variant), pcapng or snoop, or gzip's. A file that cannot be
// opened counts as one: reading it then says why.
func LooksLikeCapture(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer func() { _ = f.Close() }() // read-only
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	if n < 4 {
		return false
	}
	switch head {
	case magicPcapLE, magicPcapBE, magicPcapNsLE, magicPcapNsBE, magicPcapKuLE, magicPcapKuBE, magicPcapng, magicSnoop:
		return true
	}
	return false
}

// SkippedWarning is the one line that says which files patterns matched that are
// not captures (ExpandCaptures); "" when none.
func SkippedWarning(flagName string, skipped []string) string {
	switch len(skipped) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("%s: skipped %s, matched by a pattern: not a capture file (pcap, pcapng or gzip)", flagName, Printable(skipped[0]))
	}
	return fmt.Sprintf("%s: skipped %d files matched by a pattern that are not capture files (pcap, pcapng or gzip), such as %s", flagName, len(skipped), Printable(skipped[0]))
}

// Groups splits the input files into captures: one capture of rotated pieces
// (the default), or, with --separate, one capture per file.
func Groups(files []string, separate bool) [][]string {
	if !separate {
		return [][]string{files}
	}
	groups := make([][]string, len(files))
	for i, f := range files {
		groups[i] = []string{f}
	}
	return groups
}

// Names names each capture (given by its files) for reports and baselines:
// the base name of its first file ("stdin" for -), which does not depend on the
// directory finack ran in or how the path was spelled. Captures whose base names
// collide keep their cleaned path instead.
func Names(sets [][]string) []string {
	names := make([]string, len(sets))
	seen := map[string]int{}
	for i, files := range sets {
		names[i] = baseName(files)
		seen[names[i]]++
	}
	for i, files := range sets {
		if seen[names[i]] > 1 && len(files) > 0 {
			names[i] = filepath.ToSlash(filepath.Clean(files[0]))
		}
	}
	return names
}

func baseName(files []string) string {
	if len(files) == 0 {
		return ""
	}
	if files[0] == "-" {
		return "stdin"
	}
	return filepath.Base(files[0])
}

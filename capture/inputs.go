package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// expandPatterns expands the glob patterns among args (quoted, so the shell left
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

// captureGroups splits the input files into captures: one capture of rotated pieces
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

// captureNames names each capture (given by its files) for reports and baselines:
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

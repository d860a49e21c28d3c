package report

import (
	"io"
	"strings"
)

// asciiText replaces what the text report draws outside ASCII (arrows, the
// TIME_WAIT chart's blocks, the ladder's marks, µ, Δ) for a terminal whose locale is
// not UTF-8.
var asciiText = strings.NewReplacer(
	"→", "->", "←", "<-", "µs", "us", "Δ", "d", "⋮", ":", "×", "x", "§", "sec.",
	"▁", "_", "▂", ".", "▃", "-", "▄", "=", "▅", "+", "▆", "*", "▇", "#", "█", "@",
)

// asciiWriter writes the text report through asciiText. The report writes whole
// strings (lines, or fmt's output), never a character split between writes.
type asciiWriter struct{ w io.Writer }

func (a asciiWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(a.w, asciiText.Replace(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// LocaleUTF8 says whether the locale getenv describes writes UTF-8, as ls and tree
// decide: the first of LC_ALL, LC_CTYPE and LANG that is set names it, and none set
// is the C locale (ASCII).
func LocaleUTF8(getenv func(string) string) bool {
	for _, v := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if l := getenv(v); l != "" {
			l = strings.ToLower(l)
			return strings.Contains(l, "utf-8") || strings.Contains(l, "utf8")
		}
	}
	return false
}

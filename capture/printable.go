package capture

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Printable returns s as it is safe to show on a terminal: unchanged when every
// character is printable, else quoted with Go escapes (strconv.Quote), so a file
// name holding escape sequences cannot clear the screen, retitle the window or
// fake a line of the report. finack prints nothing else that comes from a capture
// (pcapng comments, interface names and descriptions are not read into reports);
// file names are the one piece of outside text, and a directory of downloaded
// captures may hold any name.
func Printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

package report

import (
	"strings"

	"github.com/finack/finack/capture"
)

// printableList joins file names for the text report, each as capture.Printable
// shows it: a name holding terminal escape sequences is quoted, not obeyed. (JSON
// escapes control characters by itself.)
func printableList(names []string) string {
	shown := make([]string, len(names))
	for i, n := range names {
		shown[i] = capture.Printable(n)
	}
	return strings.Join(shown, ", ")
}

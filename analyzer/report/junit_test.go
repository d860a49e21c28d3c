package report

import (
	"testing"
)

func TestXMLSafe(t *testing.T) {
	if got := xmlSafe("a\x1b[31mb\tc\n\xff\u00e9"); got != "a\uFFFD[31mb\tc\n\uFFFDé" {
		t.Errorf("xmlSafe: %q", got)
	}
}

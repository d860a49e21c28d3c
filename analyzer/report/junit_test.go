package report

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestXMLSafe: xmlSafe gives what replacing every rune XML cannot hold does
// (xmlSafeSlow, below), on table cases and on random bytes, and returns text that
// holds none as it is.
func TestXMLSafe(t *testing.T) {
	cases := []string{"", "plain", "tab\tnew\nline\rcr", "a\x00b", "\x1f", "\x7f", "é → ✓", "bad \xff utf-8", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf", "\xed\xa0\x80", "end\xe2\x86"}
	rng := rand.New(rand.NewPCG(3, 5))
	alphabet := []byte("ab \t\n\r\x00\x01\x7f\xc3\xa9\xe2\x86\x92\xef\xbf\xbd\xbe\xff\x80")
	for range 5000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	if got := xmlSafe("a\x1b[31mb\tc\n\xff\u00e9"); got != "a\uFFFD[31mb\tc\n\uFFFDé" {
		t.Errorf("xmlSafe: %q", got)
	}
	for _, s := range cases {
		got, want := xmlSafe(s), xmlSafeSlow(s)
		if got != want {
			t.Fatalf("xmlSafe(%q) = %q, want %q", s, got, want)
		}
		if xmlSafeAlready(s) && got != s {
			t.Fatalf("xmlSafe(%q) changed text it says needs no change", s)
		}
	}
	if !xmlSafeAlready("findings → fine\n\ttabbed") || xmlSafeAlready("nul\x00") || xmlSafeAlready("\xff") {
		t.Error("xmlSafeAlready misjudges plain text, a NUL or invalid UTF-8")
	}
}

func xmlSafeSlow(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r != utf8.RuneError && r != 0xFFFE && r != 0xFFFF) {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

package capture

import "testing"

// LetParserPanic turns off the recover of r's layer decoders (gopacket's
// DecodingLayerParser), so that a gopacket bug panics in the test reading r
// instead of passing as an "undecodable" frame. Call it before the first Next.
func LetParserPanic(r *Reader) { r.dec.letPanic() }

// letPanic turns off the recover of every parser of d (see LetParserPanic).
func (d *decoder) letPanic() {
	d.letsPanic = true
	for _, p := range d.parsers {
		if p != nil {
			p.IgnorePanic = true
		}
	}
}

// FilesUnder lists the regular files under dirs (absent ones have none).
func FilesUnder(t *testing.T, dirs ...string) []string { return filesUnder(t, dirs...) }

package capture

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

type rawFrame struct {
	st   start
	data []byte
}

// framesOf reads every record of the captures matching the patterns.
func framesOf(t *testing.T, patterns ...string) []rawFrame {
	t.Helper()
	var out []rawFrame
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, f := range files {
			r, err := Open([]string{f}, Options{})
			if err != nil {
				continue
			}
			for {
				s, err := r.pick()
				if err != nil {
					break
				}
				s.has = false
				out = append(out, rawFrame{linkStart(s.hl), append([]byte(nil), s.data...)})
			}
			if err := r.Close(); err != nil {
				t.Errorf("%s: close: %v", f, err)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no frames")
	}
	return out
}

// TestFastDecodeAgrees: the fast decoder (fastdecode.go) gives the Segment the
// gopacket path gives, for every frame of the test captures and for many damaged
// copies of them (bytes flipped, frames cut), and declines what it does not know.
func TestFastDecodeAgrees(t *testing.T) {
	frames := framesOf(t, "../testdata/pcaps/*.pcap*", "testdata/*")
	frames = append(frames, sll2Frames(frames)...)
	fast, slow := newDecoder(), newDecoder()
	fast.letPanic()
	slow.letPanic()
	slow.slowOnly = true
	taken := 0
	check := func(fr rawFrame, what string) {
		var a, b Segment
		wa, oka := fast.decode(fr.st, fr.data, &a)
		wb, okb := slow.decode(fr.st, fr.data, &b)
		if wa != wb || oka != okb || (oka && a != b) {
			t.Fatalf("%s frame %x (start %d): fast %v %v %+v, gopacket %v %v %+v", what, fr.data, fr.st, wa, oka, a, wb, okb, b)
		}
		var c Segment
		if fast.fast(fr.st, fr.data, &c) {
			taken++
		}
	}
	for _, fr := range frames {
		check(fr, "captured")
	}
	if taken == 0 {
		t.Fatal("the fast path took no frame")
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		fr := frames[rnd.IntN(len(frames))]
		data := append([]byte(nil), fr.data...)
		if len(data) == 0 {
			continue
		}
		for n := rnd.IntN(3) + 1; n > 0; n-- {
			// Mostly in the headers, where the fast path decides.
			data[rnd.IntN(min(len(data), 80))] ^= byte(1 << rnd.IntN(8))
		}
		if rnd.IntN(4) == 0 {
			data = data[:rnd.IntN(len(data)+1)]
		}
		check(rawFrame{fr.st, data}, "damaged")
	}
}

// sll2Frames rewrites the Ethernet frames as Linux SLL2 frames (the test captures
// have none), some with the ARPHRD_ types and address lengths that SLL2 decodes
// differently.
func sll2Frames(frames []rawFrame) []rawFrame {
	var out []rawFrame
	for i, fr := range frames {
		if fr.st != startEthernet || len(fr.data) < 14 {
			continue
		}
		h := []byte{fr.data[12], fr.data[13], 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}
		switch i % 8 {
		case 1:
			h[8], h[9] = 0x03, 0x02 // 770, FRAD
		case 2:
			h[8], h[9] = 0x03, 0x0a // 778, IPGRE
		case 3:
			h[8], h[9] = 0x03, 0x23 // 803, radiotap
		case 4:
			h[11] = 9 // address length above 8
		}
		out = append(out, rawFrame{startSLL2, append(h, fr.data[14:]...)})
	}
	return out
}

// BenchmarkDecodeFast and BenchmarkDecodeGopacket time the two decoders on the
// frames of the test captures.
func BenchmarkDecodeFast(b *testing.B)     { benchDecode(b, false) }
func BenchmarkDecodeGopacket(b *testing.B) { benchDecode(b, true) }

func benchDecode(b *testing.B, slowOnly bool) {
	t := &testing.T{}
	frames := framesOf(t, "../testdata/pcaps/*.pcap")
	d := newDecoder()
	d.slowOnly = slowOnly
	var seg Segment
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fr := &frames[i%len(frames)]
		d.decode(fr.st, fr.data, &seg)
		i++
	}
}

// TestParsersMadeWhenNeeded: a decoder makes the gopacket parser of a link start
// only for a frame the fast path leaves to it (each parser's table takes kilobytes,
// and --separate makes a decoder for each of thousands of captures), and a parser
// made after letPanic does not recover either.
func TestParsersMadeWhenNeeded(t *testing.T) {
	frames := framesOf(t, "../testdata/pcaps/client-close.pcap")
	st := frames[0].st
	d := newDecoder()
	var s Segment
	decodeAll := func(d *decoder) {
		t.Helper()
		for _, fr := range frames {
			if why, ok := d.decode(fr.st, fr.data, &s); !ok {
				t.Fatalf("frame %x: %v", fr.data, why)
			}
		}
	}
	decodeAll(d)
	for i, p := range d.parsers {
		if p != nil {
			t.Errorf("start %d: a parser made, though the fast path decoded every frame", i)
		}
	}
	d.slowOnly = true
	decodeAll(d)
	for i, p := range d.parsers {
		if (p != nil) != (start(i) == st) {
			t.Errorf("start %d: parser %v, want one for start %d only", i, p != nil, st)
		}
	}
	late := newDecoder()
	late.letPanic()
	late.slowOnly = true
	decodeAll(late)
	if p := late.parsers[st]; p == nil || !p.IgnorePanic {
		t.Error("a parser made after letPanic recovers panics")
	}
}

package synth

import (
	"encoding/binary"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/finack/finack/capture"
)

// This file is a compact, fuzzer-friendly encoding of a sequence of TCP segments:
// the input of the tracker and analyzer fuzz targets. Any bytes decode to a valid
// sequence (a trailing partial record is ignored), and the numbers a TCP stack keeps
// in step (sequence, acknowledgment, timestamp, IP ID) are deltas from what the same
// 4-tuple last showed, so a zero delta is the well-behaved value and a fuzzer that
// flips a few bits makes retransmissions, overlaps, duplicates, stale ACKs and clocks
// going backwards rather than unrelated random numbers. EncodeSegments turns real
// captures into seeds.

// SegmentRecordSize is the size of one encoded segment.
//
//	[0]     bits 0-2: 4-tuple (an index in SegmentFlows); bit 3: direction (0: from
//	        the flow's first endpoint); bit 4: TCP timestamp option present; bit 5:
//	        Truncated; bits 6-7: unit of the time delta (µs, ms, s, hours)
//	[1]     TCP flags
//	[2:6]   time delta from the previous segment, int32, in the unit above (may be
//	        negative: capture clocks go backwards)
//	[6:10]  seq: int32 delta from the end (SeqEnd) of this direction's previous segment
//	[10:14] ack: int32 delta from the end of the other direction's previous segment
//	[14:16] payload length
//	[16:20] TSval: delta from this direction's previous TSval
//	[20:24] TSecr: delta from the other direction's previous TSval
//	[24:26] IP ID: delta from this direction's previous IP ID (0 = the same: a copy)
//	[26]    TTL
//	[27]    bits 0-1: frames skipped before this one (non-TCP frames); bits 2-7: window/1024
const SegmentRecordSize = 28

// SegmentFlows are the 4-tuples the encoding can name: ordinary ones, two that
// differ only by VLAN, IPv6, and the degenerate ones a hostile capture can hold
// (both ends the same endpoint, equal ports, port 0).
var SegmentFlows = [8][2]netip.AddrPort{
	{ap("192.0.2.1:40000"), ap("192.0.2.10:80")},
	{ap("192.0.2.1:40001"), ap("192.0.2.10:80")},
	{ap("192.0.2.2:40000"), ap("192.0.2.10:80")},
	{ap("[2001:db8::1]:40000"), ap("[2001:db8::10]:443")},
	{ap("192.0.2.1:40000"), ap("192.0.2.10:80")}, // flow 0 on VLAN 42
	{ap("192.0.2.3:5000"), ap("192.0.2.3:5000")}, // a "land" packet: source = destination
	{ap("192.0.2.4:7000"), ap("192.0.2.5:7000")},
	{ap("192.0.2.6:0"), ap("192.0.2.7:0")},
}

// segmentFlowVLAN is the VLAN of flow 4.
const segmentFlowVLAN = 42

type dirState struct {
	end, tsval uint32
	ipid       uint16
}

type segCodec struct {
	dirs  [8][2]dirState
	frame uint64
	at    int64 // Unix ns of the last segment
}

var timeUnits = [4]int64{int64(time.Microsecond), int64(time.Millisecond), int64(time.Second), int64(time.Hour)}

// DecodeSegments decodes data (any bytes) into segments with frame numbers
// ascending from 1 and times in the range a capture.Reader hands out
// (capture.TimeRange: a time delta that would leave it stops at its edge).
func DecodeSegments(data []byte) []capture.Segment {
	var c segCodec
	c.at = Epoch.UnixNano() // the first segment's time before its delta
	segs := make([]capture.Segment, 0, len(data)/SegmentRecordSize)
	for ; len(data) >= SegmentRecordSize; data = data[SegmentRecordSize:] {
		segs = append(segs, c.decode(data[:SegmentRecordSize]))
	}
	return segs
}

func (c *segCodec) decode(b []byte) capture.Segment {
	flow, dir := int(b[0]&7), int(b[0]>>3&1)
	var s capture.Segment
	s.Src, s.Dst = SegmentFlows[flow][dir], SegmentFlows[flow][1-dir]
	if flow == 4 {
		s.VLAN[0] = segmentFlowVLAN
	}
	s.HasTS = b[0]&0x10 != 0
	s.Truncated = b[0]&0x20 != 0
	c.at = satAdd(c.at, satMul(int64(int32(binary.BigEndian.Uint32(b[2:6]))), timeUnits[b[0]>>6]))
	first, last := capture.TimeRange() // what a capture.Reader hands out
	c.at = min(max(c.at, first.UnixNano()), last.UnixNano()-1)
	s.Time = time.Unix(0, c.at).UTC()
	c.frame += 1 + uint64(b[27]&3)
	s.Frame = c.frame
	s.Flags = capture.Flags(b[1])
	me, peer := &c.dirs[flow][dir], &c.dirs[flow][1-dir]
	s.Seq = me.end + binary.BigEndian.Uint32(b[6:10])
	s.Ack = peer.end + binary.BigEndian.Uint32(b[10:14])
	s.PayloadLen = uint32(binary.BigEndian.Uint16(b[14:16]))
	if s.HasTS {
		s.TSval = me.tsval + binary.BigEndian.Uint32(b[16:20])
		s.TSecr = peer.tsval + binary.BigEndian.Uint32(b[20:24])
		me.tsval = s.TSval
	}
	s.IPID = me.ipid + binary.BigEndian.Uint16(b[24:26])
	s.TTL = b[26]
	s.Window = uint16(b[27]>>2) * 1024
	if s.Src.Addr().Is6() {
		s.IPID = 0
	} else {
		me.ipid = s.IPID
	}
	me.end = s.SeqEnd()
	return s
}

// EncodeSegments encodes segments (for instance those of a real capture) so that
// DecodeSegments gives them back with the same flags, sequence and acknowledgment
// numbers, payload lengths, timestamp options, IP IDs and times, on the
// 4-tuples of SegmentFlows: the distinct 4-tuples of segs are numbered in order of
// appearance, modulo 8 (more than 8 then share state, which is fine for a seed).
// Frame gaps above 3 and payloads above 65535 bytes are clipped. A time is kept
// to the microsecond when it is less than 35 minutes from the time before (for
// the first segment: Epoch), to the millisecond within 24 days, else to the
// second; the rounding does not accumulate.
func EncodeSegments(segs []capture.Segment) []byte {
	type key struct {
		a, b netip.AddrPort
		vlan [2]uint16
	}
	flows := map[key]int{}
	var c segCodec
	c.at = Epoch.UnixNano() // the first segment's time before its delta
	var prevFrame uint64
	out := make([]byte, 0, len(segs)*SegmentRecordSize)
	for i := range segs {
		s := &segs[i]
		dir := 0
		flow, ok := flows[key{s.Src, s.Dst, s.VLAN}]
		if !ok {
			if flow, ok = flows[key{s.Dst, s.Src, s.VLAN}]; ok {
				dir = 1
			} else {
				flow = len(flows) % 8
				flows[key{s.Src, s.Dst, s.VLAN}] = flow
			}
		}
		var b [SegmentRecordSize]byte
		b[0] = byte(flow) | byte(dir)<<3
		if s.HasTS {
			b[0] |= 0x10
		}
		if s.Truncated {
			b[0] |= 0x20
		}
		b[1] = byte(s.Flags)
		// From the decoded time of the segment before (Epoch for the
		// first): rounding does not accumulate.
		dt := s.Time.UnixNano() - c.at
		unit := 0
		for unit < 3 && (dt/timeUnits[unit] > math.MaxInt32 || dt/timeUnits[unit] < math.MinInt32) {
			unit++
		}
		b[0] |= byte(unit) << 6
		binary.BigEndian.PutUint32(b[2:6], uint32(int32(dt/timeUnits[unit])))
		me, peer := &c.dirs[flow][dir], &c.dirs[flow][1-dir]
		binary.BigEndian.PutUint32(b[6:10], s.Seq-me.end)
		binary.BigEndian.PutUint32(b[10:14], s.Ack-peer.end)
		binary.BigEndian.PutUint16(b[14:16], uint16(min(s.PayloadLen, math.MaxUint16)))
		if s.HasTS {
			binary.BigEndian.PutUint32(b[16:20], s.TSval-me.tsval)
			binary.BigEndian.PutUint32(b[20:24], s.TSecr-peer.tsval)
		}
		binary.BigEndian.PutUint16(b[24:26], s.IPID-me.ipid)
		b[26] = s.TTL
		gap := uint64(0)
		if s.Frame > prevFrame+1 {
			gap = min(s.Frame-prevFrame-1, 3)
		}
		prevFrame = s.Frame
		b[27] = byte(gap) | byte(min(s.Window/1024, 63))<<2
		c.decode(b[:]) // keep the state in step with what the decoder will see
		out = append(out, b[:]...)
	}
	return out
}

func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	if p/b != a {
		if (a < 0) != (b < 0) {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	return p
}

// SegmentSeeds reads every capture in dir no larger than maxSize bytes (files that
// are not captures are skipped; a damaged one gives the segments before the
// damage) and returns the segments of each, encoded by EncodeSegments: seeds for
// the fuzz targets that take DecodeSegments input.
func SegmentSeeds(dir string, maxSize int64) ([][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.Contains(n, ".expected.") || strings.HasSuffix(n, ".txt") || strings.HasSuffix(n, ".md") {
			continue
		}
		if info, err := e.Info(); err != nil || info.Size() > maxSize {
			continue
		}
		r, err := capture.Open([]string{filepath.Join(dir, n)}, capture.Options{})
		if err != nil {
			continue // not a capture
		}
		var segs []capture.Segment
		for {
			var s capture.Segment
			if r.Next(&s) != nil {
				break
			}
			segs = append(segs, s)
		}
		_ = r.Close() // read-only
		if len(segs) > 0 {
			out = append(out, EncodeSegments(segs))
		}
	}
	return out, nil
}

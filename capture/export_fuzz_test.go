package capture

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// DecodeBothWays decodes one frame of link type lt with the fast path allowed and
// with gopacket only (fastdecode.go), for FuzzFrame: it returns a description of
// the difference, "" when both give the same result.
func DecodeBothWays(lt layers.LinkType, data []byte) string {
	st := linkStart(lt)
	if st == startUnsupported {
		return ""
	}
	fast, slow := newDecoder(), newDecoder()
	fast.letPanic()
	slow.letPanic()
	slow.slowOnly = true
	var a, b Segment
	wa, oka := fast.decode(st, data, &a)
	wb, okb := slow.decode(st, data, &b)
	if wa != wb || oka != okb || (oka && a != b) {
		return fmt.Sprintf("fast path: %v %v %+v; gopacket: %v %v %+v", wa, oka, a, wb, okb, b)
	}
	return ""
}

package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
)

// pcapRecords reads the records of a classic pcap file straight out of the source's
// read buffer: the header and the data are sliced from bufio's buffer (no copy, no
// call through gopacket per record). pcapgo still reads the file header; every record
// error is the one pcapgo's ZeroCopyReadPacketData gives for the same bytes, so
// damaged files end where and how they did.
type pcapRecords struct {
	order   binary.ByteOrder
	nanos   uint32 // nanoseconds per unit of the fraction field: 1 or 1000
	maxCap  int    // pcapgo's limit on a record's captured length
	snaplen uint32
}

// pcapEagerMax is pcapgo's eagerReadMax: the smallest limit it puts on a record's
// captured length whatever the snap length says.
const pcapEagerMax = 262144

func newPcapRecords(s *source) *pcapRecords {
	p := &pcapRecords{order: binary.LittleEndian, nanos: 1000, snaplen: s.pcap.Snaplen()}
	if s.big {
		p.order = binary.BigEndian
	}
	if s.pcap.Resolution().ToDuration() == time.Nanosecond {
		p.nanos = 1
	}
	p.maxCap = pcapEagerMax
	if int64(p.snaplen) > pcapEagerMax {
		p.maxCap = int(p.snaplen)
	}
	return p
}

// next returns the next record's data (valid until the next read from br) and its
// capture information.
func (p *pcapRecords) next(br *bufio.Reader) (data []byte, ci gopacket.CaptureInfo, err error) {
	hdr, err := br.Peek(16)
	if len(hdr) < 16 {
		// io.ReadFull's errors: nothing at all is io.EOF, a part is unexpected.
		br.Discard(len(hdr))
		if len(hdr) > 0 && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	ci.Timestamp = time.Unix(int64(p.order.Uint32(hdr[0:4])), int64(p.order.Uint32(hdr[4:8])*p.nanos)).UTC()
	ci.CaptureLength = int(p.order.Uint32(hdr[8:12]))
	ci.Length = int(p.order.Uint32(hdr[12:16]))
	if ci.CaptureLength > p.maxCap {
		br.Discard(16)
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", ci.CaptureLength, p.snaplen)
	}
	if ci.CaptureLength > ci.Length {
		br.Discard(16)
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", ci.CaptureLength, ci.Length)
	}
	n := 16 + ci.CaptureLength
	if n <= br.Size() {
		rec, err := br.Peek(n)
		if len(rec) == n {
			br.Discard(n)
			return rec[16:n:n], ci, nil
		}
		br.Discard(len(rec))
		if err == io.EOF {
			if len(rec) == 16 {
				return nil, ci, io.EOF // data missing entirely: io.ReadFull's answer
			}
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	// Larger than the read buffer (a snap length above 1 MiB): read it whole.
	br.Discard(16)
	var buf bytes.Buffer
	m, err := io.CopyN(&buf, br, int64(ci.CaptureLength))
	if err == io.EOF && m > 0 {
		err = io.ErrUnexpectedEOF
	}
	return buf.Bytes(), ci, err
}

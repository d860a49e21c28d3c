package capture_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/finack/finack/capture"
	"github.com/finack/finack/capture/synth"
)

// corpusExceptions are the public captures where finack's packet count or outcome
// legitimately differs from MANIFEST.tsv (which records what tshark 4.0 read).
var corpusExceptions = map[string]string{
	// pcap minor version 5: libpcap rejects it (the file is one of libpcap's
	// invalid-input tests), finack too; Wireshark is lenient and reads 1 packet.
	"libpcap/tests/pcap-invalid-version-2.pcap": "open error: unsupported pcap savefile version 2.5",
	// The link-type field's reserved bits are set: tshark refuses the file;
	// finack reads the low 16 bits (the link type) and finds no records.
	"libpcap/tests/linktype-reserved-field-not-zero.pcap": "clean end, 0 packets",
}

const corpusTimeout = 20 * time.Second

type corpusResult struct {
	packets  uint64
	openErr  error
	readErr  error // a *ReadError or another error that ended the reading
	closeErr error
	panic    any
}

func readCorpusFile(path string) (res corpusResult) {
	defer func() {
		if p := recover(); p != nil { // only to report which file: a panic is a failure
			res.panic = p
		}
	}()
	r, err := capture.Open([]string{path}, capture.Options{})
	if err != nil {
		res.openErr = err
		return
	}
	defer func() { res.closeErr = r.Close() }()
	capture.LetParserPanic(r)
	var seg capture.Segment
	for {
		err := r.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			res.readErr = err
			break
		}
	}
	res.packets = r.Stats().Packets
	return
}

// TestCorpus reads every public capture (../shared/pcaps/public beside the
// repository): no panic, no hang, and a file either reads to a clean end with
// tshark's packet count, or ends in an error that names the file.
func TestCorpus(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "..", "shared", "pcaps", "public")
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Skipf("public capture corpus not available (%v): it lives beside the repository, not in it", err)
	}
	defer synth.CheckClose(t, f)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	seen := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 6 {
			continue
		}
		rel, manifestPackets := cols[0], cols[5]
		seen++
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, rel)
			done := make(chan corpusResult, 1)
			go func() { done <- readCorpusFile(path) }()
			var res corpusResult
			select {
			case res = <-done:
			case <-time.After(corpusTimeout):
				t.Fatalf("hang: no result after %v", corpusTimeout)
			}
			if res.panic != nil {
				t.Fatalf("panic: %v", res.panic)
			}
			for _, err := range []error{res.openErr, res.readErr} {
				if err != nil && !strings.Contains(err.Error(), path) {
					t.Errorf("error does not name the file: %v", err)
				}
			}
			if res.closeErr != nil {
				t.Errorf("close: %v", res.closeErr)
			}
			var re *capture.ReadError
			if res.readErr != nil && !errors.As(res.readErr, &re) {
				t.Errorf("reading ended with %T, want *capture.ReadError: %v", res.readErr, res.readErr)
			}
			if why, ok := corpusExceptions[rel]; ok {
				t.Logf("known exception (%s): packets %d, open error %v, read error %v", why, res.packets, res.openErr, res.readErr)
				return
			}
			n, damaged := manifestCount(manifestPackets)
			got := fmt.Sprintf("%d packets, open error: %v, read error: %v", res.packets, res.openErr, res.readErr)
			switch {
			case n < 0:
				t.Logf("manifest packets %q not a count; %s", manifestPackets, got)
			case damaged && (res.openErr == nil && res.readErr == nil):
				t.Errorf("manifest: damaged after %d packets; finack: clean end, %s", n, got)
			case damaged && res.packets != uint64(n):
				t.Errorf("manifest: %d packets before the error; finack: %s", n, got)
			case !damaged && (res.openErr != nil || res.readErr != nil || res.packets != uint64(n)):
				t.Errorf("manifest: %d packets, clean; finack: %s", n, got)
			}
		})
	}
	if seen == 0 {
		t.Error("MANIFEST.tsv lists no captures")
	}
}

// manifestCount parses the manifest's packets column: "123" or "1 (read before
// error)". It returns -1 when the column holds no count.
func manifestCount(s string) (n int, damaged bool) {
	damaged = strings.Contains(s, "error")
	field, _, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(field)
	if err != nil {
		return -1, damaged
	}
	return n, damaged
}

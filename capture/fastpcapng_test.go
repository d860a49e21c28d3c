package capture

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ngRead reads a whole capture, with ngFast (fastpcapng.go) or with pcapgo alone,
// and describes everything Next, Record and Stats gave, and how many packets
// ngFast took.
func ngRead(t *testing.T, path string, fast bool) (string, int) {
	r, err := Open([]string{path}, Options{})
	if err != nil {
		return "open: " + err.Error(), 0
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("%s: close: %v", path, err)
		}
	}()
	if !fast && r.srcs[0].ngf != nil {
		r.srcs[0].ngf.on = false
	}
	var b strings.Builder
	var seg Segment
	took := 0
	for {
		err := r.Next(&seg)
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(&b, "error %v\n", err)
			}
			break
		}
		if f := r.srcs[0].ngf; f != nil && f.on {
			took++
		}
		rec, _ := r.Record()
		fmt.Fprintf(&b, "%+v %x %v %d %d %d %v %v\n", seg, rec.Data, rec.Info.Timestamp, rec.Info.CaptureLength, rec.Info.Length, rec.Info.InterfaceIndex, rec.Info.AncillaryData, rec.Link)
	}
	fmt.Fprintf(&b, "%+v", r.Stats())
	return b.String(), took
}

// TestNgFastAgrees: reading pcapng files through ngFast gives what pcapgo alone
// gives (segments, records, stats, errors and their offsets), for the test
// captures, the public corpus when present, and damaged copies of them (bytes
// changed, mostly in the first blocks, and files cut).
func TestNgFastAgrees(t *testing.T) {
	files := filesUnder(t, "../testdata/pcaps", "testdata", "../../shared/pcaps/public")
	tmp := filepath.Join(t.TempDir(), "in")
	took, n := 0, 0
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) < 12 || len(data) > 4<<20 || string(data[:4]) != "\n\r\r\n" {
			continue
		}
		n++
		variants := [][]byte{data}
		for i := 0; i < 60; i++ {
			d := append([]byte(nil), data...)
			if i%4 == 0 {
				d = d[:rnd.IntN(len(d))]
			} else {
				for k := rnd.IntN(3) + 1; k > 0; k-- {
					d[rnd.IntN(min(len(d), 2048))] ^= byte(1 << rnd.IntN(8))
				}
			}
			variants = append(variants, d)
		}
		for i, d := range variants {
			if err := os.WriteFile(tmp, d, 0o644); err != nil {
				t.Fatal(err)
			}
			a, k := ngRead(t, tmp, true)
			b, _ := ngRead(t, tmp, false)
			if a != b {
				t.Fatalf("%s variant %d: ngFast and pcapgo differ:\n%s\n----\n%s", f, i, a, b)
			}
			if i == 0 {
				took += k
			}
		}
	}
	if n == 0 || took == 0 {
		t.Fatalf("%d pcapng files, ngFast took %d packets", n, took)
	}
	t.Logf("%d pcapng files; ngFast took %d packets of the undamaged ones", n, took)
}

// filesUnder lists the regular files under dirs; a directory that does not exist (the
// public corpus beside the project) has none.
func filesUnder(t *testing.T, dirs ...string) []string {
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return files
}

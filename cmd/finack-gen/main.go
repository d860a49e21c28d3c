// Command finack-gen writes the generated captures finack's tests read
// (testdata/pcaps/gen-*): one small file per capture format and link type, and the
// teardown scenarios a kernel will not produce on demand, built
// by capture/synth, byte for byte the same on every run.
//
//	go run ./cmd/finack-gen -out testdata/pcaps
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/finack/finack/capture/synth"
)

func main() {
	out := flag.String("out", "testdata/pcaps", "directory to write the gen-* captures into")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "finack-gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	files, err := synth.AllFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("wrote %d captures to %s\n", len(files), dir)
	return nil
}

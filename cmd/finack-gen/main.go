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
	big := flag.Int("big", 0, "instead: write one large benchmark capture of about `N` packets to -o")
	bigOut := flag.String("o", "big.pcap", "with -big: the `FILE` to write")
	seed := flag.Uint64("seed", 1, "with -big: the random seed (the same seed gives the same bytes)")
	conc := flag.Int("concurrency", 1000, "with -big: connections open at once, about")
	flood := flag.Int("flood", 0, "instead: write a SYN flood of `N` spoofed SYNs, 10 µs apart, around two real connections (the hostile captures' flood) to -o")
	flag.Parse()
	if *flood > 0 {
		if err := writeFlood(*bigOut, *flood); err != nil {
			fmt.Fprintln(os.Stderr, "finack-gen:", err)
			os.Exit(1)
		}
		return
	}
	if *big > 0 {
		if err := writeBig(*bigOut, *big, *seed, *conc); err != nil {
			fmt.Fprintln(os.Stderr, "finack-gen:", err)
			os.Exit(1)
		}
		return
	}
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

// writeBig writes the large benchmark capture (capture/synth.WriteBig).
func writeBig(path string, packets int, seed uint64, concurrency int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	st, err := synth.WriteBig(f, synth.BigOptions{Seed: seed, Packets: packets, Concurrency: concurrency})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// On stderr: the capture itself may be going to stdout (-o /dev/stdout).
	fmt.Fprintf(os.Stderr, "wrote %s: %d packets, %d connections %v\n", path, st.Packets, st.Connections, st.Scenarios)
	return nil
}

// writeFlood writes a SYN flood capture (capture/synth.WriteSYNFlood).
func writeFlood(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = synth.WriteSYNFlood(f, n)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

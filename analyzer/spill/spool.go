package spill

import (
	"fmt"
	"io"
)

// Spool holds a text written once and read back once (CopyTo), then emptied for
// the next (Reset): in memory up to Memory bytes, past that in a temporary file of
// Dir (removed as soon as it is created where the system allows it, else at
// Close). The zero value is usable: 1 MiB in memory, the file in os.TempDir().
type Spool struct {
	Memory int    // 0: DefaultSpoolMemory
	Dir    string // "": os.TempDir()
	mem    []byte
	tf     *tempFile // nil until the text outgrows Memory
	n      int64     // bytes of the text in tf
}

// DefaultSpoolMemory is Spool.Memory unset.
const DefaultSpoolMemory = 1 << 20

// Write appends b to the text.
func (s *Spool) Write(b []byte) error {
	limit := s.Memory
	if limit <= 0 {
		limit = DefaultSpoolMemory
	}
	if s.tf == nil && len(s.mem)+len(b) <= limit {
		s.mem = append(s.mem, b...)
		return nil
	}
	if s.tf == nil {
		f, remove, err := createTemp(s.Dir)
		if err != nil {
			return err
		}
		s.tf = &tempFile{f: f, remove: remove}
	}
	for _, p := range [2][]byte{s.mem, b} { // (what memory held first)
		if _, err := s.tf.f.WriteAt(p, s.n); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		s.n += int64(len(p))
	}
	s.mem = s.mem[:0]
	return nil
}

// CopyTo writes the text to w.
func (s *Spool) CopyTo(w io.Writer) error {
	if s.tf != nil {
		if _, err := io.Copy(w, io.NewSectionReader(s.tf.f, 0, s.n)); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
	}
	_, err := w.Write(s.mem)
	return err
}

// Reset empties the spool for the next text (its file, if it has one, is written
// over).
func (s *Spool) Reset() { s.mem, s.n = s.mem[:0], 0 }

// Close frees the memory and the temporary file.
func (s *Spool) Close() error {
	s.mem = nil
	if s.tf == nil {
		return nil
	}
	err := s.tf.close()
	s.tf = nil
	return err
}

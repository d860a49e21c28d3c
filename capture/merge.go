package capture

import "io"

// pick returns the source whose head record comes next in the merged stream, after
// refilling every source whose head was consumed. The merge is mergecap's: the
// earliest timestamp first, ties (and equal times) keep file order; a file whose
// records go back in time is not reordered internally. Like mergecap, the merge
// stops at the first damaged record: it is met when its file is read ahead, right
// after that file's last good record was handed out.
func (r *Reader) pick() (*source, error) {
	if len(r.srcs) == 1 {
		// One file, the usual case: nothing to merge, and the loop below would
		// only add its checks to every packet.
		s := r.srcs[0]
		if s.done {
			return nil, io.EOF
		}
		if err := s.read(); err != nil {
			if err == io.EOF {
				return nil, err
			}
			return nil, s.readError(err)
		}
		return s, nil
	}
	var best *source
	for _, s := range r.srcs {
		if !s.has && !s.done {
			if err := s.read(); err != nil && err != io.EOF {
				return nil, s.readError(err)
			}
		}
		if s.has && (best == nil || s.sec < best.sec || s.sec == best.sec && s.nsec < best.nsec) {
			best = s
		}
	}
	if best == nil {
		return nil, io.EOF
	}
	return best, nil
}

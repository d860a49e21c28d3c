package reassembly

import "time"

// Instant is a moment on capture time, in Unix nanoseconds: what the tracker's
// records and evidence carry instead of a time.Time (three words, with a location
// the tracker has no use for), since every incarnation holds many. Instants compare
// with < and ==; lengths of time are time.Duration (Sub, Add).
type Instant int64

// InstantOf returns the Instant of t.
func InstantOf(t time.Time) Instant { return Instant(t.UnixNano()) }

// Time returns the instant as a time.Time (in the local location, as time.Unix).
func (t Instant) Time() time.Time { return time.Unix(0, int64(t)) }

// Sub returns the time from u to t.
func (t Instant) Sub(u Instant) time.Duration { return time.Duration(t - u) }

// Add returns t plus d.
func (t Instant) Add(d time.Duration) Instant { return t + Instant(d) }

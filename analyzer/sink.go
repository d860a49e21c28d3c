package analyzer

// Sink takes the record and the findings of each incarnation a Stream analyses, as
// the Stream decides them (Stream.SendTo), in place of the Stream keeping them until
// its Report: a report that encodes and sorts its records outside (analyzer/report)
// keeps memory flat however many connections the capture holds.
type Sink interface {
	// Add takes one incarnation's record and findings. c is nil when the Stream
	// keeps no records (NewStream's connections false). Both, and what they point
	// to (strings, frame lists), are valid during the call only: the Stream
	// reuses that memory for the next incarnation.
	Add(c *Connection, fs []Finding)
}

// SendTo makes the Stream hand each incarnation's record and findings to s as Add
// decides them, instead of keeping them: its Report then has the counts and no
// Findings or Connections. Call it before the first Add. The findings Add returns
// are then valid until the next Add only, what they point to included: their
// strings too are in memory the next Add writes over (the Stream's arena), so a
// caller that keeps one must copy its strings.
func (st *Stream) SendTo(s Sink) { st.sink = s }

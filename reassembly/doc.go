// Package reassembly rebuilds the life of every TCP connection from capture.Segments:
// it keys segments by the canonical 4-tuple (plus VLAN tags), splits a 4-tuple into
// incarnations (a new SYN after a close, a reuse within TIME_WAIT, a connection picked
// up mid-stream), and records for each direction the facts the teardown analysis needs:
// the handshake, the highest sequence and acknowledgement numbers, every transmission of
// the FIN and what acknowledged it, RSTs, TCP timestamps, and the TIME_WAIT window of
// the active closer, all on capture time.
//
// It is not payload reassembly: no bytes are kept. Deciding what the facts mean
// (close shapes, findings) belongs to package analyzer.
//
// A streaming tracker (Config.Done) bounds its memory by what is held at once: it
// packs quiet incarnations into compact records (pack.go) in memory it maps itself
// (arena.go), forgets 4-tuples once nothing can change them (stream.go), and past
// 16,384 incarnations held keeps the records of connections in TIME_WAIT in
// temporary files (cold.go). A caller that walks what it holds again and again (a
// live run's socket states, every scrape) can keep what it derived from each packed
// incarnation, and until when, in a Memo (memo.go) rather than unpack it every time.
package reassembly

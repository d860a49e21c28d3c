package capture

// LetParserPanic lets tests see panics inside gopacket's layer decoders.
func LetParserPanic(on bool) { letParserPanic = on }

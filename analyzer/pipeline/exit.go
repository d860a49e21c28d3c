package pipeline

// Exit codes.
const (
	ExitOK      = 0
	ExitFinding = 1 // a finding named by --fail-on occurred
	ExitError   = 2 // usage or input error
)

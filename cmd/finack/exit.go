package main

// Exit codes.
const (
	exitOK      = 0
	exitFinding = 1 // a finding named by --fail-on occurred
	exitError   = 2 // usage or input error
)

module github.com/finack/finack

go 1.26

require (
	github.com/gopacket/gopacket v1.7.7
	github.com/spf13/pflag v1.1.0
)

require (
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
)

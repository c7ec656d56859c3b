module github.com/handoffd/handoff

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/bradfitz/gomemcache v0.0.0-20260422231931-4d751bb6e37c
	golang.org/x/sys v0.50.0
	pgregory.net/rapid v1.3.0
)

require github.com/spf13/pflag v1.1.0

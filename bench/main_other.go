//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main refuses to run: the peers need epoll and the figures /proc. Status 2
// is the one run gives for bad usage, which running here is.
func main() {
	fmt.Fprintln(os.Stderr, "handoff-bench: Linux only")
	os.Exit(2)
}

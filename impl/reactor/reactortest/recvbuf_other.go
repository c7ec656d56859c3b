//go:build !unix

package reactortest

import (
	"net"
	"testing"
)

// DialSlow skips the test: setting a socket's receive buffer before the
// handshake is written for unix systems only.
func DialSlow(t testing.TB, _ net.Addr, _ int) net.Conn {
	t.Helper()
	t.Skip("DialSlow: no SO_RCVBUF before connect on this system")
	return nil
}

//go:build unix

package reactortest

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// DialSlow is DialConn with the client's receive buffer (SO_RCVBUF) set to
// size before the handshake, so that the window the server sees is small
// from the start: a client that holds little, for tests of partial writes
// and of a slow reader.
func DialSlow(t testing.TB, addr net.Addr, size int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: DialTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatalf("dial %s %s: %v", addr.Network(), addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(DialTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

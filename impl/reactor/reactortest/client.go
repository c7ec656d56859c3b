package reactortest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DialTimeout bounds DialConn's connect, and is the deadline it sets on the
// connection: every read and write of a test's client ends by then.
const DialTimeout = 30 * time.Second

// DialConn connects to addr, an entry of Server.Addrs, with every read and
// write bounded by DialTimeout; it fails the test if the connect fails, and
// closes the connection when the test ends. It must be called from the
// test's goroutine.
func DialConn(t testing.TB, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(addr.Network(), addr.String(), DialTimeout)
	if err != nil {
		t.Fatalf("dial %s %s: %v", addr.Network(), addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(DialTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// SocketPath returns a unix socket path in a fresh directory removed when
// the test ends; t.TempDir's paths can exceed sun_path's 108 bytes.
func SocketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ho")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

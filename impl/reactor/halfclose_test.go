package reactor

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// TestHalfClose checks that when the peer shuts down its write side the
// server flushes every pending byte before closing.
func TestHalfClose(t *testing.T) {
	s := startServer(t, Config{Workers: 1, MaxOutput: 64 << 10}, newEcho(64<<10))
	c := dial(t, s.Addrs()[0])
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	msg := bytes.Repeat([]byte("half-close "), 200_000) // > socket buffers + MaxOutput
	go func() {
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("after a half-close got %d of %d bytes back", len(got), len(msg))
	}
}

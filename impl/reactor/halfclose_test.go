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

// bigReplier answers each line with a 1 MiB reply and declines further
// input while any output is pending, as a handler that respects its output
// budget does (memcached's gets of large values).
type bigReplier struct{ reply []byte }

func (h *bigReplier) OnOpen(*Conn) {}
func (h *bigReplier) OnData(c *Conn, in []byte) int {
	consumed := 0
	for c.OutputLen() == 0 {
		i := bytes.IndexByte(in[consumed:], '\n')
		if i < 0 {
			break
		}
		consumed += i + 1
		_ = c.Write(h.reply)
	}
	return consumed
}
func (h *bigReplier) OnClose(*Conn, error) {}

// TestHalfCloseHeldInput: requests the handler held back while its output
// was pending are still answered after the peer half-closed. The client
// reads only after a pause, so the Worker reads the FIN while it still holds
// requests (before the fix it closed there and dropped them).
func TestHalfCloseHeldInput(t *testing.T) {
	const lines = 8
	h := &bigReplier{reply: bytes.Repeat([]byte("r"), 1<<20)}
	s := startServer(t, Config{Workers: 1}, h)
	c := dial(t, s.Addrs()[0])
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(bytes.Repeat([]byte("get\n"), lines)); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	time.Sleep(200 * time.Millisecond) // a slow reader: the server meets the FIN with requests held
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != lines*len(h.reply) {
		t.Errorf("after a half-close got %d bytes, want %d: held-back requests were dropped", len(got), lines*len(h.reply))
	}
}

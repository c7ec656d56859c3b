package reactor_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestHalfClose checks that when the peer shuts down its write side the
// server flushes every pending byte before closing (P9 output integrity).
func TestHalfClose(t *testing.T) {
	s := reactortest.Serve(t, reactor.Config{Workers: 1, MaxOutput: 64 << 10}, reactortest.NewEcho())
	c := reactortest.DialConn(t, s.Addrs()[0])
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
		t.Errorf("P9: after a half-close got %d of %d bytes back", len(got), len(msg))
	}
}

// bigReplier answers each line with a 1 MiB reply and declines further
// input while any output is pending, as a handler that respects its output
// budget does (memcached's gets of large values).
type bigReplier struct {
	reactor.BuiltinHandler
	reply []byte
}

func (h *bigReplier) OnData(c *reactor.Conn, in []byte) int {
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

// TestHalfCloseHeldInput: requests the handler held back while its output
// was pending are still answered after the peer half-closed (P10 input
// integrity: none dropped across a read pause and a half-close). The client
// reads only after a pause, so the Worker reads the FIN while it still holds
// requests.
func TestHalfCloseHeldInput(t *testing.T) {
	const lines = 8
	h := &bigReplier{reply: bytes.Repeat([]byte("r"), 1<<20)}
	s := reactortest.Serve(t, reactor.Config{Workers: 1}, h)
	c := reactortest.DialConn(t, s.Addrs()[0])
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
		t.Errorf("P10: after a half-close got %d bytes, want %d: held-back requests were dropped", len(got), lines*len(h.reply))
	}
}

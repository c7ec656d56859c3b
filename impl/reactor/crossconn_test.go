package reactor_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// relay writes everything any connection sends to the first connection
// opened (the sink), from the sender's callback: a write to another
// connection of the same Worker.
type relay struct {
	reactor.BuiltinHandler
	sink   *reactor.Conn
	opened chan struct{}
}

func (h *relay) OnOpen(c *reactor.Conn) {
	if h.sink == nil {
		h.sink = c
	}
	h.opened <- struct{}{}
}

func (h *relay) OnData(c *reactor.Conn, in []byte) int {
	if c != h.sink {
		_ = h.sink.Write(in)
	}
	return len(in)
}

// TestWriteFromAnotherConn checks that output buffered for a connection by a
// callback of another connection of the same Worker is flushed (P9 output
// integrity): the sink's poll interest must gain Out although none of its
// own events ran. Without that, the bytes the socket did not take at once
// would wait forever.
func TestWriteFromAnotherConn(t *testing.T) {
	h := &relay{opened: make(chan struct{}, 2)}
	s := reactortest.Serve(t, reactor.Config{Workers: 1}, h)
	sink := reactortest.DialConn(t, s.Addrs()[0])
	reactortest.Await(t, h.opened, "the sink's OnOpen")
	src := reactortest.DialConn(t, s.Addrs()[0])
	reactortest.Await(t, h.opened, "the source's OnOpen")

	msg := bytes.Repeat([]byte("relayed "), 1<<20) // 8 MiB, more than the socket buffers
	if _, err := src.Write(msg); err != nil {
		t.Fatal(err)
	}
	// Only now does the sink read: the Worker had to buffer the rest.
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(sink, got); err != nil {
		t.Fatalf("sink read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Error("P9: relayed bytes differ")
	}
}

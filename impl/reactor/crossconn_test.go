package reactor

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// relay writes everything any connection sends to the first connection
// opened (the sink), from the sender's callback: a write to another
// connection of the same Worker.
type relay struct {
	sink   *Conn
	opened chan struct{}
}

func (h *relay) OnOpen(c *Conn) {
	if h.sink == nil {
		h.sink = c
	}
	h.opened <- struct{}{}
}

func (h *relay) OnData(c *Conn, in []byte) int {
	if c != h.sink {
		_ = h.sink.Write(in)
	}
	return len(in)
}

func (h *relay) OnClose(*Conn, error) {}

// TestWriteFromAnotherConn checks that output buffered for a connection by a
// callback of another connection of the same Worker is flushed: the sink's
// epoll interest must gain EPOLLOUT although none of its own events ran.
// Without that, the bytes the socket did not take at once would wait forever.
func TestWriteFromAnotherConn(t *testing.T) {
	h := &relay{opened: make(chan struct{}, 2)}
	s := startServer(t, Config{Workers: 1}, h)
	sink := dial(t, s.Addrs()[0])
	defer sink.Close()
	<-h.opened
	src := dial(t, s.Addrs()[0])
	defer src.Close()
	<-h.opened
	_ = sink.SetDeadline(time.Now().Add(30 * time.Second))
	_ = src.SetDeadline(time.Now().Add(30 * time.Second))

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
		t.Error("relayed bytes differ")
	}
}

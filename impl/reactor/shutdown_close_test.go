package reactor_test

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// closeThenStop closes the connection that sends it a byte, then has the
// server told to stop, and returns only once its Worker has been: the
// close and the stop fall in one loop turn.
type closeThenStop struct {
	reactor.BuiltinHandler
	srv     *atomic.Pointer[reactor.Server]
	stopped chan error
	seen    chan bool
}

func (h closeThenStop) OnData(c *reactor.Conn, in []byte) int {
	_ = c.Close()
	s := h.srv.Load()
	go func() { h.stopped <- s.Shutdown(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for !reactor.WorkerStopping(s, 0) && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	h.seen <- reactor.WorkerStopping(s, 0)
	return len(in)
}

// TestShutdownClosesTheLastTurnsClose checks that a connection closed in
// the loop turn that sees the stop has its fd closed by the time Shutdown
// returns (P5 no fd leak, P7 clean shutdown): the peer reads its end of
// file. On io_uring that close is queued in the ring, and shutdown must
// submit it.
func TestShutdownClosesTheLastTurnsClose(t *testing.T) {
	h := closeThenStop{srv: new(atomic.Pointer[reactor.Server]), stopped: make(chan error, 1), seen: make(chan bool, 1)}
	s := reactortest.Serve(t, reactor.Config{Listen: []string{"127.0.0.1:0"}, Workers: 1}, h)
	h.srv.Store(s)
	c := reactortest.DialConn(t, s.Addrs()[0])
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !reactortest.Await(t, h.seen, "the handler to see its Worker told to stop") {
		t.Fatalf("the Worker was not told to stop within 5s of Shutdown\n%s", reactortest.Stacks())
	}
	if err := reactortest.Await(t, h.stopped, "Shutdown to return"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	if n, err := c.Read(b[:]); n != 0 || err != io.EOF {
		t.Errorf("after Shutdown returned, the peer read %d bytes, %v; want 0, EOF: the connection's fd was left open", n, err)
	}
}

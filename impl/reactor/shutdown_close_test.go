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

// closeThenStop closes the connection once it has sent a read buffer's
// worth, then has the server told to stop, and returns only once its
// Worker has been: the close and the stop fall in one loop turn, with no
// receive in flight (on io_uring the multishot receive has reached its
// limit, a read buffer), so the close goes to the ring.
type closeThenStop struct {
	reactor.BuiltinHandler
	srv     *atomic.Pointer[reactor.Server]
	got     *int
	stopped chan error
	seen    chan bool
}

const closeThenStopAfter = 4096

func (h closeThenStop) OnData(c *reactor.Conn, in []byte) int {
	if *h.got += len(in); *h.got < closeThenStopAfter {
		return len(in)
	}
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
	h := closeThenStop{srv: new(atomic.Pointer[reactor.Server]), got: new(int), stopped: make(chan error, 1), seen: make(chan bool, 1)}
	cfg := reactor.Config{Listen: []string{"127.0.0.1:0"}, Workers: 1, ReadBuffer: closeThenStopAfter}
	s := reactortest.Serve(t, cfg, h)
	h.srv.Store(s)
	c := reactortest.DialConn(t, s.Addrs()[0])
	if _, err := c.Write(make([]byte, closeThenStopAfter)); err != nil {
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

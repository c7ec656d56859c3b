package reactor_test

import (
	"errors"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// handleKeeper hands each opened Conn to the test, so that it can call
// AsyncWrite from its own goroutine.
type handleKeeper struct {
	*reactortest.Counter
	opened chan *reactor.Conn
}

func (h handleKeeper) OnOpen(c *reactor.Conn) {
	h.Counter.OnOpen(c)
	h.opened <- c
}

// TestAsyncWrite checks that AsyncWrite from another goroutine reaches its
// connection (P8 no lost task), and that after OnClose a stale handle gets
// ErrClosed and never writes to the newer connection that reuses its fd (P6
// close before reuse).
func TestAsyncWrite(t *testing.T) {
	h := handleKeeper{Counter: reactortest.NewCounter(4), opened: make(chan *reactor.Conn, 4)}
	s := reactortest.Serve(t, reactor.Config{Workers: 1}, h)

	g1, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	old := reactortest.Await(t, h.opened, "OnOpen of the first connection")
	if err := old.AsyncWrite([]byte("async\n")); err != nil {
		t.Fatalf("AsyncWrite on a live conn: %v", err)
	}
	if line, err := g1.R.ReadString('\n'); err != nil || line != "async\n" {
		t.Fatalf("read %q, %v; want the asynchronous write", line, err)
	}

	g1.Conn.Close()
	reactortest.Await(t, h.Closed, "OnClose of the first connection")
	if err := old.AsyncWrite([]byte("stale\n")); !errors.Is(err, reactor.ErrClosed) {
		t.Errorf("AsyncWrite on a stale handle: %v, want ErrClosed", err)
	}

	g2, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Conn.Close()
	fresh := reactortest.Await(t, h.opened, "OnOpen of the second connection")
	if reactor.ConnFD(fresh) != reactor.ConnFD(old) {
		t.Logf("fd not reused (%d, then %d): the stale-handle check still runs", reactor.ConnFD(old), reactor.ConnFD(fresh))
	}
	if err := old.AsyncWrite([]byte("stale\n")); !errors.Is(err, reactor.ErrClosed) {
		t.Errorf("AsyncWrite on a stale handle after reuse: %v, want ErrClosed", err)
	}
	// A marker sent after the stale attempt must be the first thing read.
	if err := fresh.AsyncWrite([]byte("fresh\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := g2.R.ReadString('\n'); err != nil || line != "fresh\n" {
		t.Errorf("new connection read %q, %v; want only its own write", line, err)
	}

	// Bounded: more than MaxOutput in flight is refused, not buffered.
	if err := fresh.AsyncWrite(make([]byte, s.Config().MaxOutput+1)); !errors.Is(err, reactor.ErrOutputFull) {
		t.Errorf("AsyncWrite over MaxOutput: %v, want ErrOutputFull", err)
	}
}

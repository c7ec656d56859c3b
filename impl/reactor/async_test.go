package reactor

import (
	"bufio"
	"errors"
	"testing"
	"time"
)

// handleKeeper hands each opened Conn to the test, so that it can call
// AsyncWrite from its own goroutine.
type handleKeeper struct {
	*greetHandler
	opened chan *Conn
}

func (h handleKeeper) OnOpen(c *Conn) {
	h.greetHandler.OnOpen(c)
	h.opened <- c
}

// TestAsyncWrite checks that AsyncWrite from another goroutine reaches its
// connection, and that after OnClose a stale handle gets ErrClosed and never
// writes to the newer connection that reuses its fd (P6 close before reuse).
func TestAsyncWrite(t *testing.T) {
	h := handleKeeper{greetHandler: newGreet(), opened: make(chan *Conn, 4)}
	h.closed = make(chan uint64, 4)
	s := startServer(t, Config{Workers: 1}, h)

	c1 := dial(t, s.Addrs()[0])
	r1 := bufio.NewReader(c1)
	if _, _, err := readGreeting(r1); err != nil {
		t.Fatal(err)
	}
	old := <-h.opened
	if err := old.AsyncWrite([]byte("async\n")); err != nil {
		t.Fatalf("AsyncWrite on a live conn: %v", err)
	}
	if line, err := r1.ReadString('\n'); err != nil || line != "async\n" {
		t.Fatalf("read %q, %v; want the asynchronous write", line, err)
	}

	c1.Close()
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
	}
	if err := old.AsyncWrite([]byte("stale\n")); !errors.Is(err, ErrClosed) {
		t.Errorf("AsyncWrite on a stale handle: %v, want ErrClosed", err)
	}

	c2 := dial(t, s.Addrs()[0])
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, _, err := readGreeting(r2); err != nil {
		t.Fatal(err)
	}
	fresh := <-h.opened
	if fresh.fd != old.fd {
		t.Logf("fd not reused (%d, then %d): the stale-handle check still runs", old.fd, fresh.fd)
	}
	if err := old.AsyncWrite([]byte("stale\n")); !errors.Is(err, ErrClosed) {
		t.Errorf("AsyncWrite on a stale handle after reuse: %v, want ErrClosed", err)
	}
	// A marker sent after the stale attempt must be the first thing read.
	if err := fresh.AsyncWrite([]byte("fresh\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := r2.ReadString('\n'); err != nil || line != "fresh\n" {
		t.Errorf("new connection read %q, %v; want only its own write", line, err)
	}

	// Bounded: more than MaxOutput in flight is refused, not buffered.
	if err := fresh.AsyncWrite(make([]byte, DefaultMaxOutput+1)); !errors.Is(err, ErrOutputFull) {
		t.Errorf("AsyncWrite over MaxOutput: %v, want ErrOutputFull", err)
	}
}

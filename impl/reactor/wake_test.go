package reactor_test

import (
	"bufio"
	"errors"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// deferHandler answers "job\n" from another goroutine: OnData hands the job
// off and returns; the goroutine stores the result and calls Wake; the Wake's
// OnData, on the Worker again, writes it. The result field is touched only
// there and by the job before its Wake, so the race detector checks that a
// Wake's OnData is ordered after the Wake (happens-before through the task
// list).
type deferHandler struct {
	reactor.BuiltinHandler
	result map[uint64]string // guarded by the hand-off: job writes, then Wake
	conns  chan *reactor.Conn
	errs   chan error
}

func (h *deferHandler) OnOpen(c *reactor.Conn) { h.conns <- c }

func (h *deferHandler) OnData(c *reactor.Conn, in []byte) int {
	if len(in) == 0 {
		if r, ok := h.result[c.ID()]; ok {
			delete(h.result, c.ID())
			_ = c.Write([]byte(r))
		}
		return 0
	}
	if string(in) != "job\n" {
		return 0
	}
	go func() {
		h.result[c.ID()] = "done\n"
		h.errs <- c.Wake()
	}()
	return len(in)
}

// TestWake checks that Wake from another goroutine brings OnData back on the
// Worker with empty input (P8 no lost task), and that a stale handle's Wake
// returns ErrClosed (P6 close before reuse: nothing reaches a connection
// after its OnClose).
func TestWake(t *testing.T) {
	h := &deferHandler{result: map[uint64]string{}, conns: make(chan *reactor.Conn, 1), errs: make(chan error, 1)}
	s := reactortest.Serve(t, reactor.Config{Workers: 1}, h)
	nc := reactortest.DialConn(t, s.Addrs()[0])
	c := reactortest.Await(t, h.conns, "OnOpen")
	if _, err := nc.Write([]byte("job\n")); err != nil {
		t.Fatal(err)
	}
	if err := reactortest.Await(t, h.errs, "the job's Wake"); err != nil {
		t.Fatalf("Wake on a live conn: %v", err)
	}
	if line, err := bufio.NewReader(nc).ReadString('\n'); err != nil || line != "done\n" {
		t.Fatalf("read %q, %v; want the woken OnData's reply", line, err)
	}
	nc.Close()
	reactortest.WaitFor(t, "OnClose", func() bool { return reactor.ConnGone(c) })
	if err := c.Wake(); !errors.Is(err, reactor.ErrClosed) {
		t.Errorf("Wake on a stale handle: %v, want ErrClosed", err)
	}
}

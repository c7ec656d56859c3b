package reactor_test

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// panicky panics in OnData when it sees "boom".
type panicky struct{ *reactortest.Counter }

func (h panicky) OnData(c *reactor.Conn, in []byte) int {
	if bytes.Contains(in, []byte("boom")) {
		panic("boom")
	}
	return h.Counter.OnData(c, in)
}

// TestHandlerPanic checks that a handler panic closes only its connection,
// runs OnClose, is counted and logged with the stack that panicked, and
// leaves the Worker serving the others.
func TestHandlerPanic(t *testing.T) {
	h := reactortest.NewCounter(4)
	log := &reactortest.LogBuffer{}
	s := reactortest.Serve(t, reactor.Config{Workers: 1, Logger: slog.New(slog.NewTextHandler(log, nil))}, panicky{h})
	other, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer other.Conn.Close()
	bad, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Conn.Close()
	bad.Conn.Write([]byte("boom\n"))
	if rest, err := io.ReadAll(bad.R); err != nil || len(rest) != 0 {
		t.Errorf("panicking conn: read %q, %v; want EOF", rest, err)
	}
	if st := s.Stats(); st.HandlerPanics != 1 {
		t.Errorf("HandlerPanics = %d, want 1", st.HandlerPanics)
	}
	other.Conn.Write([]byte("still here\n"))
	if line, err := other.R.ReadString('\n'); err != nil || line != "still here\n" {
		t.Errorf("the other conn read %q, %v after a panic", line, err)
	}
	if id := reactortest.Await(t, h.Closed, "OnClose for the panicking conn"); id != bad.ID {
		t.Errorf("OnClose ran for conn %d, want the panicking conn %d", id, bad.ID)
	}
	if rec := log.String(); !strings.Contains(rec, "handler panic") || !strings.Contains(rec, "panic=boom") ||
		!strings.Contains(rec, "panicky.OnData") {
		t.Errorf("the panic's log record lacks the panic or the stack that raised it:\n%s", rec)
	}
}

package reactor_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// errRecorder greets and echoes, and reports each OnClose's error.
type errRecorder struct {
	reactortest.Greeter
	errs chan error
}

func (h *errRecorder) OnClose(_ *reactor.Conn, err error) { h.errs <- err }

// TestIdleTimeout checks that a connection that sent nothing for
// IdleTimeout is closed, with ErrIdleTimeout, and counted, while one that
// keeps sending on the same Worker over the same time is not.
func TestIdleTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := &errRecorder{errs: make(chan error, 2)}
	s := reactortest.Serve(t, reactor.Config{Workers: 1, IdleTimeout: timeout}, h)

	active, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer active.Conn.Close()
	keepAlive := make(chan error, 1)
	go func() {
		// Traffic every timeout/6 for two timeouts: a generous margin on a
		// loaded machine.
		for range 12 {
			time.Sleep(timeout / 6)
			if _, err := active.Conn.Write([]byte("k\n")); err != nil {
				keepAlive <- err
				return
			}
			if _, err := active.R.ReadString('\n'); err != nil {
				keepAlive <- err
				return
			}
		}
		keepAlive <- nil
	}()

	idle, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Conn.Close()
	if rest, err := io.ReadAll(idle.R); err != nil || len(rest) != 0 {
		t.Errorf("idle conn: read %q, %v; want EOF", rest, err)
	}
	if err := reactortest.Await(t, h.errs, "the idle connection's OnClose"); !errors.Is(err, reactor.ErrIdleTimeout) {
		t.Errorf("OnClose err = %v, want ErrIdleTimeout", err)
	}
	if err := reactortest.Await(t, keepAlive, "the active connection's traffic"); err != nil {
		t.Errorf("a connection that kept sending was closed: %v", err)
	}
	if st := s.Stats(); st.IdleClosed != 1 {
		t.Errorf("IdleClosed = %d, want 1", st.IdleClosed)
	}
}

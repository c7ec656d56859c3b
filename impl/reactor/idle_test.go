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

// idleSlack is what a loaded machine, under the race detector, may add to
// an idle close beyond IdleTimeout and one idle check: far more than it
// takes, far less than a close that never comes.
const idleSlack = 3 * time.Second

// TestIdleTimeoutBounds checks both bounds of IdleTimeout on two
// connections of one Worker, one that never sends and one that sends once:
// each is closed no sooner than IdleTimeout after the last byte it sent (or
// after it dialed, for the one that never sends) and no later than
// IdleTimeout, one idle check and idleSlack after the server last heard from
// it.
func TestIdleTimeoutBounds(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tick := timeout / 4 // the Worker's idle check
	h := &errRecorder{errs: make(chan error, 2)}
	tail := reactortest.NewTail(32)
	s := reactortest.Serve(t, reactor.Config{Workers: 1, IdleTimeout: timeout, Trace: tail.Record}, h)

	type closed struct {
		name        string
		after, upto time.Time // the server last heard from it in [after, upto]
		eof         time.Time
		err         error
	}
	results := make(chan closed, 2)
	watch := func(name string, g reactortest.Greeted, after, upto time.Time) {
		_ = g.Conn.SetReadDeadline(upto.Add(timeout + tick + idleSlack))
		_, err := io.ReadAll(g.R)
		results <- closed{name, after, upto, time.Now(), err}
	}

	dialed := time.Now()
	silent, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Conn.Close()
	go watch("a connection that never sends", silent, dialed, time.Now())

	once, err := reactortest.Dial(s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer once.Conn.Close()
	// Half a timeout of quiet first: a server that measured from the
	// registration, not from the last byte, would close this one early.
	time.Sleep(timeout / 2)
	sent := time.Now()
	if _, err := once.Conn.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := once.R.ReadString('\n'); err != nil || line != "x\n" {
		t.Fatalf("echo: %q, %v", line, err)
	}
	go watch("a connection that sent once", once, sent, time.Now())

	for range 2 {
		r := reactortest.Await(t, results, "an idle connection's EOF")
		if r.err != nil {
			tail.Fatalf(t, "%s: not closed within IdleTimeout %v + %v + %v of the server's last read: %v", r.name, timeout, tick, idleSlack, r.err)
		}
		if early := r.eof.Sub(r.after); early < timeout {
			t.Errorf("%s: closed %v after the server last heard from it, sooner than IdleTimeout %v", r.name, early, timeout)
		}
		if late := r.eof.Sub(r.upto); late > timeout+tick+idleSlack {
			t.Errorf("%s: closed %v after the server last heard from it, later than %v", r.name, late, timeout+tick+idleSlack)
		}
	}
	for range 2 {
		if err := reactortest.Await(t, h.errs, "OnClose"); !errors.Is(err, reactor.ErrIdleTimeout) {
			t.Errorf("OnClose err = %v, want ErrIdleTimeout", err)
		}
	}
}

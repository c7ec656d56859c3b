package reactor

import (
	"bufio"
	"errors"
	"io"
	"testing"
	"time"
)

// TestIdleTimeout checks that a connection that sent nothing for
// IdleTimeout is closed, with ErrIdleTimeout, and counted, while one that
// keeps sending on the same Worker over the same time is not.
func TestIdleTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	errs := make(chan error, 2)
	h := &errRecorder{greetHandler: newGreet(), errs: errs}
	s := startServer(t, Config{Workers: 1, IdleTimeout: timeout}, h)

	active := dial(t, s.Addrs()[0])
	defer active.Close()
	_ = active.SetDeadline(time.Now().Add(10 * time.Second))
	ra := bufio.NewReader(active)
	if _, _, err := readGreeting(ra); err != nil {
		t.Fatal(err)
	}
	keepAlive := make(chan error, 1)
	go func() {
		// Traffic every timeout/6 for two timeouts: a generous margin on a
		// loaded machine.
		for range 12 {
			time.Sleep(timeout / 6)
			if _, err := active.Write([]byte("k\n")); err != nil {
				keepAlive <- err
				return
			}
			if _, err := ra.ReadString('\n'); err != nil {
				keepAlive <- err
				return
			}
		}
		keepAlive <- nil
	}()

	idle := dial(t, s.Addrs()[0])
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(idle)
	if _, _, err := readGreeting(r); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Errorf("idle conn: read %q, %v; want EOF", rest, err)
	}
	if err := <-errs; !errors.Is(err, ErrIdleTimeout) {
		t.Errorf("OnClose err = %v, want ErrIdleTimeout", err)
	}
	if err := <-keepAlive; err != nil {
		t.Errorf("a connection that kept sending was closed: %v", err)
	}
	if st := s.Stats(); st.IdleClosed != 1 {
		t.Errorf("IdleClosed = %d, want 1", st.IdleClosed)
	}
}

type errRecorder struct {
	*greetHandler
	errs chan error
}

func (h *errRecorder) OnClose(c *Conn, err error) {
	h.greetHandler.OnClose(c, err)
	h.errs <- err
}

package reactor

import (
	"bufio"
	"errors"
	"io"
	"testing"
	"time"
)

// TestIdleTimeout checks that a connection with no I/O for IdleTimeout is
// closed, with ErrIdleTimeout, and counted; an active one is not.
func TestIdleTimeout(t *testing.T) {
	errs := make(chan error, 2)
	h := &errRecorder{greetHandler: newGreet(), errs: errs}
	s := startServer(t, Config{Workers: 1, IdleTimeout: 150 * time.Millisecond}, h)
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

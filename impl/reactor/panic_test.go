package reactor

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"
)

// panicky panics in OnData when it sees "boom".
type panicky struct{ *greetHandler }

func (h panicky) OnData(c *Conn, in []byte) int {
	if bytes.Contains(in, []byte("boom")) {
		panic("boom")
	}
	return h.greetHandler.OnData(c, in)
}

// TestHandlerPanic checks that a handler panic closes only its connection,
// runs OnClose, is counted, and leaves the Worker serving the others.
func TestHandlerPanic(t *testing.T) {
	h := newGreet()
	s := startServer(t, Config{Workers: 1}, panicky{h})
	other := dial(t, s.Addrs()[0])
	defer other.Close()
	ro := bufio.NewReader(other)
	if _, _, err := readGreeting(ro); err != nil {
		t.Fatal(err)
	}
	bad := dial(t, s.Addrs()[0])
	defer bad.Close()
	rb := bufio.NewReader(bad)
	if _, _, err := readGreeting(rb); err != nil {
		t.Fatal(err)
	}
	_ = bad.SetDeadline(time.Now().Add(10 * time.Second))
	bad.Write([]byte("boom\n"))
	if rest, err := io.ReadAll(rb); err != nil || len(rest) != 0 {
		t.Errorf("panicking conn: read %q, %v; want EOF", rest, err)
	}
	if st := s.Stats(); st.HandlerPanics != 1 {
		t.Errorf("HandlerPanics = %d, want 1", st.HandlerPanics)
	}
	other.Write([]byte("still here\n"))
	if line, err := ro.ReadString('\n'); err != nil || line != "still here\n" {
		t.Errorf("the other conn read %q, %v after a panic", line, err)
	}
	waitFor(t, "OnClose for the panicking conn", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.closes[1] == 1
	})
}

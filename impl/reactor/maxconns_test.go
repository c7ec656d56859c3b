package reactor

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestMaxConnsReject checks memcached's maxconns behaviour: at MaxConns a
// new connection is accepted, sent RejectLine and closed, counted in
// Stats.Rejected and never dispatched (the accept numbering stays dense);
// once a connection closes, a new one is served again.
func TestMaxConnsReject(t *testing.T) {
	h := newGreet()
	h.closed = make(chan uint64, 8)
	s := startServer(t, Config{Workers: 2, MaxConns: 2}, h)
	addr := s.Addrs()[0]

	var held []net.Conn
	for i := range 2 {
		c := dial(t, addr)
		defer c.Close()
		if _, id, err := readGreeting(bufio.NewReader(c)); err != nil || id != uint64(i) {
			t.Fatalf("conn %d: id %d, %v", i, id, err)
		}
		held = append(held, c)
	}
	extra := dial(t, addr)
	defer extra.Close()
	_ = extra.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(extra)
	if err != nil {
		t.Fatalf("reading the rejected connection: %v", err)
	}
	if string(got) != DefaultRejectLine {
		t.Errorf("rejected connection got %q, want %q then EOF", got, DefaultRejectLine)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Accepted != 3 || st.TotalConns != 2 {
		t.Errorf("Stats: Accepted %d, Rejected %d, TotalConns %d; want 3, 1, 2", st.Accepted, st.Rejected, st.TotalConns)
	}

	// Free a slot: the next connection is served, numbered 2 (a rejected
	// connection takes no number).
	held[0].Close()
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never closed the connection the client closed")
	}
	again := dial(t, addr)
	defer again.Close()
	if _, id, err := readGreeting(bufio.NewReader(again)); err != nil || id != 2 {
		t.Fatalf("after a close: id %d, %v; want a greeting with id 2", id, err)
	}
}

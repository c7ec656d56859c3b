package reactor_test

import (
	"io"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestMaxConnsReject checks memcached's maxconns behaviour: at MaxConns a
// new connection is accepted, sent RejectLine and closed, counted in
// Stats.Rejected and never dispatched (the accept numbering stays dense,
// P1); once a connection's fd is closed, a new one is served again.
func TestMaxConnsReject(t *testing.T) {
	h := reactortest.NewCounter(8)
	s := reactortest.Serve(t, reactor.Config{Workers: 2, MaxConns: 2}, h)
	addr := s.Addrs()[0]

	var held []reactortest.Greeted
	for i := range 2 {
		g, err := reactortest.Dial(addr)
		if err != nil || g.ID != uint64(i) {
			t.Fatalf("conn %d: id %d, %v", i, g.ID, err)
		}
		defer g.Conn.Close()
		held = append(held, g)
	}
	extra := reactortest.DialConn(t, addr)
	got, err := io.ReadAll(extra)
	if err != nil {
		t.Fatalf("reading the rejected connection: %v", err)
	}
	if want := s.Config().RejectLine; string(got) != want {
		t.Errorf("rejected connection got %q, want %q then EOF", got, want)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Accepted != 3 || st.TotalConns != 2 {
		t.Errorf("Stats: Accepted %d, Rejected %d, TotalConns %d; want 3, 1, 2", st.Accepted, st.Rejected, st.TotalConns)
	}

	// Free a slot: the next connection is served, numbered 2 (a rejected
	// connection takes no number). OnClose runs before close(2), and the
	// slot is free only after it, so the test waits for the slot.
	held[0].Conn.Close()
	reactortest.Await(t, h.Closed, "OnClose of the connection the client closed")
	reactortest.WaitFor(t, "a free MaxConns slot", func() bool { return s.Stats().Admitted < 2 })
	again, err := reactortest.Dial(addr)
	if err != nil || again.ID != 2 {
		t.Fatalf("after a close: id %d, %v; want a greeting with id 2", again.ID, err)
	}
	again.Conn.Close()
}

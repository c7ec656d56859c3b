package reactor_test

import (
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestLeastConnections checks the least-connections balancer: equal loads
// rotate like round-robin, and a Worker that lost a connection gets the next
// one even where round-robin would pick another.
func TestLeastConnections(t *testing.T) {
	h := reactortest.NewCounter(8)
	s := reactortest.Serve(t, reactor.Config{Workers: 3, Balance: reactor.BalanceLeastConns}, h)
	open := func() reactortest.Greeted {
		t.Helper()
		g, err := reactortest.Dial(s.Addrs()[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Conn.Close() })
		return g
	}
	var conns []reactortest.Greeted
	for i := range 3 {
		g := open()
		if g.Worker != i {
			t.Errorf("conn %d with equal loads went to worker %d, want %d", i, g.Worker, i)
		}
		conns = append(conns, g)
	}
	// Worker 1 loses its connection; round-robin would send the next (k=3)
	// to worker 0, least-connections sends it to worker 1.
	conns[1].Conn.Close()
	reactortest.Await(t, h.Closed, "OnClose of the connection the client closed")
	reactortest.WaitFor(t, "worker 1's load to drop", func() bool { return reactor.WorkerLoad(s, 1) == 0 })
	if g := open(); g.Worker != 1 {
		t.Errorf("with loads (1, 0, 1) the next conn went to worker %d, want 1", g.Worker)
	}
}

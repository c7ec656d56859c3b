package reactor

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// TestLeastConnections checks the least-connections balancer: equal loads
// rotate like round-robin, and a worker that lost a connection gets the next
// one even where round-robin would pick another.
func TestLeastConnections(t *testing.T) {
	h := newGreet()
	h.closed = make(chan uint64, 8)
	s := startServer(t, Config{Workers: 3, Balance: BalanceLeastConns}, h)
	addr := s.Addrs()[0]
	open := func() (net.Conn, int) {
		t.Helper()
		c := dial(t, addr)
		w, _, err := readGreeting(bufio.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		return c, w
	}
	var conns []net.Conn
	for i := range 3 {
		c, w := open()
		defer c.Close()
		if w != i {
			t.Errorf("conn %d with equal loads went to worker %d, want %d", i, w, i)
		}
		conns = append(conns, c)
	}
	// Worker 1 loses its connection; round-robin would send the next (k=3)
	// to worker 0, least-connections sends it to worker 1.
	conns[1].Close()
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never closed the connection the client closed")
	}
	waitFor(t, "worker 1's load to drop", func() bool { return s.workers[1].load.Load() == 0 })
	c, w := open()
	defer c.Close()
	if w != 1 {
		t.Errorf("with loads (1, 0, 1) the next conn went to worker %d, want 1", w)
	}
}

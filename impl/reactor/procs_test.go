package reactor

import (
	"io"
	"runtime"
	"testing"
	"time"
)

// Serve gives every locked thread (Workers and Acceptors) a P and one more
// for the rest, so that a Worker waking from epoll_wait never waits for
// sysmon to free a P; it never lowers GOMAXPROCS.
func TestServeRaisesGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	s := startServer(t, Config{Workers: 3, Acceptors: 2}, newEcho(DefaultMaxOutput))
	// Serve runs ensureProcs before it starts a Worker; a byte echoed back
	// proves a Worker runs, so ensureProcs has returned.
	c := dial(t, s.Addrs()[0])
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("no echo: %v", err)
	}
	if got := runtime.GOMAXPROCS(0); got < 3+2+1 {
		t.Errorf("GOMAXPROCS = %d after Serve with 3 Workers and 2 Acceptors; want at least 6", got)
	}
	ensureProcs(2)
	if got := runtime.GOMAXPROCS(0); got < 6 {
		t.Errorf("ensureProcs(2) lowered GOMAXPROCS to %d", got)
	}
}

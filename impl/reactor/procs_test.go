package reactor_test

import (
	"io"
	"runtime"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestServeLeavesGOMAXPROCS: a library does not change a process-wide
// setting behind its caller's back; without RaiseProcs, Serve leaves
// GOMAXPROCS as it found it.
func TestServeLeavesGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	s := reactortest.Serve(t, reactor.Config{Workers: 3, Acceptors: 2}, reactortest.NewEcho())
	echoOne(t, s)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS = %d after Serve without RaiseProcs; want 1, as it was", got)
	}
}

// TestServeRaisesGOMAXPROCS: with RaiseProcs, Serve gives every locked
// thread (Workers and Acceptors) a P and one more for the rest, so that a
// Worker waking from epoll_wait never waits for sysmon to free a P; it never
// lowers GOMAXPROCS.
func TestServeRaisesGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	s := reactortest.Serve(t, reactor.Config{Workers: 3, Acceptors: 2, RaiseProcs: true}, reactortest.NewEcho())
	echoOne(t, s)
	if got := runtime.GOMAXPROCS(0); got < 3+2+1 {
		t.Errorf("GOMAXPROCS = %d after Serve with 3 Workers and 2 Acceptors; want at least 6", got)
	}
	reactor.EnsureProcs(2)
	if got := runtime.GOMAXPROCS(0); got < 6 {
		t.Errorf("ensureProcs(2) lowered GOMAXPROCS to %d", got)
	}
}

// TestWorkersDefault: Workers defaults to GOMAXPROCS, one loop per P the
// program may use (which follows a container's CPU limit), not NumCPU.
func TestWorkersDefault(t *testing.T) {
	prev := runtime.GOMAXPROCS(3)
	defer runtime.GOMAXPROCS(prev)
	s := reactortest.Serve(t, reactor.Config{}, reactortest.NewEcho())
	if got := s.Config().Workers; got != 3 {
		t.Errorf("Workers defaulted to %d with GOMAXPROCS 3", got)
	}
}

// echoOne proves a Worker runs: Serve has done what it does before the
// loops start.
func echoOne(t *testing.T, s *reactor.Server) {
	t.Helper()
	c := reactortest.DialConn(t, s.Addrs()[0])
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatalf("no echo: %v", err)
	}
}

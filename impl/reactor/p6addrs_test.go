package reactor_test

import (
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// addrsHandler hands each connection opened to the test, and says when one
// closes, with the addresses its OnClose saw while ask is set.
type addrsHandler struct {
	reactor.BuiltinHandler
	opened chan *reactor.Conn
	closed chan [2]net.Addr
	ask    *atomic.Bool
}

func (h addrsHandler) OnOpen(c *reactor.Conn) { h.opened <- c }

func (h addrsHandler) OnClose(c *reactor.Conn, _ error) {
	var seen [2]net.Addr
	if h.ask.Load() {
		seen = [2]net.Addr{c.RemoteAddr(), c.LocalAddr()}
	}
	h.closed <- seen
}

// TestP6AddrsAskedLate checks Conn's addresses, asked of the kernel only
// when called: from a goroutine that is not the Worker's while the
// connection is open (as memcached's stats conns lists every Worker's), in
// OnClose, and after it — where a connection whose address was never asked
// answers nil, not the address of the newer connection that has its fd
// number (P6: no call reaches a reused fd as if it were the old one).
func TestP6AddrsAskedLate(t *testing.T) {
	h := addrsHandler{opened: make(chan *reactor.Conn, 16), closed: make(chan [2]net.Addr, 16), ask: new(atomic.Bool)}
	s := reactortest.Serve(t, reactor.Config{Listen: []string{"127.0.0.1:0"}, Workers: 1}, h)
	addr := s.Addrs()[0]

	a := reactortest.DialConn(t, addr)
	ca := reactortest.Await(t, h.opened, "OnOpen of the first connection")
	if got := ca.RemoteAddr(); got == nil || got.String() != a.LocalAddr().String() {
		t.Errorf("RemoteAddr from the test's goroutine = %v, want %v", got, a.LocalAddr())
	}
	if got := ca.LocalAddr(); got == nil || got.String() != addr.String() {
		t.Errorf("LocalAddr from the test's goroutine = %v, want %v", got, addr)
	}

	// The second connection's addresses are asked in its OnClose, the
	// third's never.
	h.ask.Store(true)
	b := reactortest.DialConn(t, addr)
	cb := reactortest.Await(t, h.opened, "OnOpen of the second connection")
	bPeer := b.LocalAddr().String()
	b.Close()
	seen := reactortest.Await(t, h.closed, "OnClose of the second connection")
	if seen[0] == nil || seen[0].String() != bPeer || seen[1] == nil || seen[1].String() != addr.String() {
		t.Errorf("in OnClose: RemoteAddr, LocalAddr = %v, %v, want %v, %v", seen[0], seen[1], bPeer, addr)
	}
	h.ask.Store(false)
	d := reactortest.DialConn(t, addr)
	cd := reactortest.Await(t, h.opened, "OnOpen of the third connection")
	dPeer := d.LocalAddr().String()
	d.Close()
	reactortest.Await(t, h.closed, "OnClose of the third connection")

	// A newer socket on the third's fd number: the server's end of a newer
	// connection or, as the clients share this process's fds, a client's.
	// Either opens only after that fd was closed, so after the third's
	// OnClose returned. The newer connections stay open, so that each try
	// takes a number and the third's is soon one of them.
	newer := ""
	for i := 0; i < 32 && newer == ""; i++ {
		c := reactortest.DialConn(t, addr)
		cc := reactortest.Await(t, h.opened, "OnOpen of a newer connection")
		switch {
		case cc.Fd() == cd.Fd():
			newer = "the server's end of " + c.LocalAddr().String()
		case clientFd(t, c) == cd.Fd():
			newer = "the client " + c.LocalAddr().String()
		}
	}
	if newer == "" {
		t.Fatalf("no newer socket got fd %d in 32 connections", cd.Fd())
	}
	want := "" // unnamed: asked too late
	if reactortest.IO() != reactor.IOUring {
		want = dPeer // epoll's accept gave it
	}
	if got := cd.RemoteAddr(); got == nil || got.String() != want {
		t.Errorf("the third connection's RemoteAddr, never asked while open = %v, want %q (its fd is now %s's)", got, want, newer)
	}
	if got := cd.LocalAddr(); got != nil {
		t.Errorf("the third connection's LocalAddr, never asked while open = %v, want nil (its fd is now %s's)", got, newer)
	}
	if got := cb.RemoteAddr(); got == nil || got.String() != bPeer {
		t.Errorf("the second connection's RemoteAddr, asked in OnClose = %v, want %v", got, bPeer)
	}
	if got := ca.LocalAddr(); got == nil || got.String() != addr.String() {
		t.Errorf("the open connection's LocalAddr, asked again = %v, want %v", got, addr)
	}
	a.Close()
}

// clientFd is the fd number of the client connection c.
func clientFd(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

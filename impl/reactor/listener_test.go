package reactor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// addrTeller tells each client the addresses the server sees for it:
// "remote local\n", each as network/address.
type addrTeller struct{ reactor.BuiltinHandler }

func (addrTeller) OnOpen(c *reactor.Conn) {
	r, l := c.RemoteAddr(), c.LocalAddr()
	_ = c.Write(fmt.Appendf(nil, "%s/%s %s/%s\n", r.Network(), r, l.Network(), l))
}

// TestListeners checks TCP over IPv4 and IPv6 and a unix socket served at
// once by one server: Addrs' types and resolved ports, Conn.RemoteAddr and
// Conn.LocalAddr as the client sees them, and that the unix socket file is
// removed on Shutdown.
func TestListeners(t *testing.T) {
	path := reactortest.SocketPath(t)
	listen := []string{"127.0.0.1:0", "unix://" + path}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		listen = append(listen, "tcp://[::1]:0")
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	s := reactortest.New(t, reactor.Config{Listen: listen, Workers: 2}, addrTeller{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	addrs := s.Addrs()
	if len(addrs) != len(listen) {
		t.Fatalf("Addrs() = %v for %v", addrs, listen)
	}
	if a, ok := addrs[0].(*net.TCPAddr); !ok || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port == 0 {
		t.Errorf("Addrs()[0] = %#v, want a *net.TCPAddr on 127.0.0.1 with its port resolved", addrs[0])
	}
	if a, ok := addrs[1].(*net.UnixAddr); !ok || a.Name != path {
		t.Errorf("Addrs()[1] = %#v, want a *net.UnixAddr at %s", addrs[1], path)
	}
	for _, a := range addrs {
		c := reactortest.DialConn(t, a)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Errorf("%s: %v", a, err)
		}
		remote, local := c.LocalAddr(), c.RemoteAddr()
		want := fmt.Sprintf("%s/%s %s/%s", remote.Network(), remote, local.Network(), local)
		if a.Network() == "unix" {
			want = "unix/ unix/" + path // an unnamed unix client, and the socket it reached
		}
		if got := strings.TrimSuffix(line, "\n"); got != want {
			t.Errorf("%s: server saw %q, want %q", a, got, want)
		}
		c.Close()
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := reactortest.Await(t, served, "Serve to return"); !errors.Is(err, reactor.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("unix socket file still there after Shutdown: %v", err)
	}
	if err := s.Serve(context.Background()); !errors.Is(err, reactor.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestInheritedListeners serves sockets the program already listens on: a
// *net.TCPListener, a *net.UnixListener, and one rebuilt from a bare fd as
// socket activation hands it over (net.FileListener); each is served, and
// the caller's own listener stays the caller's to close.
func TestInheritedListeners(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	path := reactortest.SocketPath(t)
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := other.(*net.TCPListener).File()
	other.Close()
	if err != nil {
		t.Fatal(err)
	}
	activated, err := net.FileListener(f) // what a socket-activated program does with fd 3
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer activated.Close()

	s := reactortest.Serve(t, reactor.Config{Listeners: []net.Listener{tcp, ul, activated}, Workers: 2}, reactortest.Greeter{})
	addrs := s.Addrs()
	want := []net.Addr{tcp.Addr(), ul.Addr(), activated.Addr()}
	if len(addrs) != len(want) {
		t.Fatalf("Addrs() = %v, want %v", addrs, want)
	}
	for i, a := range addrs {
		if a.Network() != want[i].Network() || a.String() != want[i].String() {
			t.Errorf("Addrs()[%d] = %s %s, want %s %s", i, a.Network(), a, want[i].Network(), want[i])
		}
		g, err := reactortest.Dial(a)
		if err != nil {
			t.Fatalf("an inherited listener %s is not served: %v", a, err)
		}
		if g.ID != uint64(i) {
			t.Errorf("connection %d through %s numbered %d", i, a, g.ID)
		}
		g.Conn.Close()
	}
	// The server holds duplicates: closing the caller's TCP listener stops
	// nothing, since the socket stays open while the server's copy is.
	tcp.Close()
	if g, err := reactortest.Dial(addrs[0]); err != nil {
		t.Errorf("after the caller closed its *net.TCPListener: %v", err)
	} else {
		g.Conn.Close()
	}
}

// TestInheritedListenerRefused: a listener with no socket behind it, or a
// socket that is not listening, is refused by New with a reason.
func TestInheritedListenerRefused(t *testing.T) {
	if _, err := reactor.New(reactor.Config{Listeners: []net.Listener{fakeListener{}}, Logger: reactortest.Quiet}, reactortest.Greeter{}); err == nil ||
		!strings.Contains(err.Error(), "no socket") {
		t.Errorf("New with a listener that has no fd: %v, want an error saying so", err)
	}
	if _, err := reactor.New(reactor.Config{Listeners: []net.Listener{nil}}, reactortest.Greeter{}); err == nil {
		t.Error("New with a nil listener succeeded")
	}
}

// fakeListener is a net.Listener with no socket behind it.
type fakeListener struct{}

func (fakeListener) Accept() (net.Conn, error) { return nil, errors.ErrUnsupported }
func (fakeListener) Close() error              { return nil }
func (fakeListener) Addr() net.Addr            { return &net.TCPAddr{} }

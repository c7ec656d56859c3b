package reactor

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// remoteTeller tells each client the address the server sees it from.
type remoteTeller struct{}

func (remoteTeller) OnOpen(c *Conn)                { _ = c.Write([]byte(c.RemoteAddr() + "\n")) }
func (remoteTeller) OnData(_ *Conn, in []byte) int { return len(in) }
func (remoteTeller) OnClose(*Conn, error)          {}

// TestListeners checks TCP over IPv4 and IPv6 and a unix socket served at
// once by one server, Addrs' forms, Conn.RemoteAddr, and that the unix socket file is removed
// on Shutdown.
func TestListeners(t *testing.T) {
	path := shortSocketPath(t)
	listen := []string{"127.0.0.1:0", "unix://" + path}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		listen = append(listen, "tcp://[::1]:0")
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	s, err := New(Config{Listen: listen, Workers: 2, Logger: quietLogger}, remoteTeller{})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	addrs := s.Addrs()
	if len(addrs) != len(listen) || !strings.HasPrefix(addrs[0], "tcp://127.0.0.1:") || addrs[1] != "unix://"+path {
		t.Errorf("Addrs() = %q", addrs)
	}
	for _, a := range addrs {
		c := dial(t, a)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Errorf("%s: %v", a, err)
		}
		want := c.LocalAddr().String()
		if strings.HasPrefix(a, "unix://") {
			want = "" // an unnamed unix client
		}
		if got := strings.TrimSuffix(line, "\n"); got != want {
			t.Errorf("%s: RemoteAddr %q, want %q", a, got, want)
		}
		c.Close()
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", path); err == nil {
		t.Error("unix socket still accepts after Shutdown")
	}
	if err := s.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestConfigErrors checks that New rejects what no default can repair, and
// that Shutdown without Serve releases the listener.
func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Listen: []string{"udp://127.0.0.1:0"}},
		{Listen: []string{"127.0.0.1:99999"}},
		{Listen: []string{"127.0.0.1:0"}, Workers: -1},
		{Listen: []string{"127.0.0.1:0"}, Notify: "smoke"},
		{Listen: []string{"127.0.0.1:0"}, Wakeup: "sometimes"},
		{Listen: []string{"127.0.0.1:0"}, Balance: "random"},
	} {
		if s, err := New(cfg, newGreet()); err == nil {
			s.Shutdown(context.Background())
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, Logger: quietLogger}, newGreet())
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(s.Addrs()[0], "tcp://")
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("listener still open after Shutdown without Serve")
	}
}

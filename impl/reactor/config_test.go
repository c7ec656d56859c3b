package reactor_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestConfigErrors checks that New rejects what no default can repair, and
// that Shutdown without Serve releases the listener.
func TestConfigErrors(t *testing.T) {
	h := reactortest.Greeter{}
	for _, cfg := range []reactor.Config{
		{},
		{Listen: []string{"udp://127.0.0.1:0"}},
		{Listen: []string{"127.0.0.1:99999"}},
		{Listen: []string{"127.0.0.1:0"}, Workers: -1},
		{Listen: []string{"127.0.0.1:0"}, MaxInput: -1},
		{Listen: []string{"127.0.0.1:0"}, IdleTimeout: -time.Second},
		{Listen: []string{"127.0.0.1:0"}, Notify: "smoke"},
		{Listen: []string{"127.0.0.1:0"}, Wakeup: "sometimes"},
		{Listen: []string{"127.0.0.1:0"}, Balance: "random"},
		{Listen: []string{"127.0.0.1:0"}, Socket: reactor.SocketOptions{Linger: time.Second}},
		{Listen: []string{"127.0.0.1:0"}, Socket: reactor.SocketOptions{RecvBuffer: -1}},
	} {
		if s, err := reactor.New(cfg, h); err == nil {
			s.Shutdown(context.Background())
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := reactor.New(reactor.Config{Listen: []string{"127.0.0.1:0"}}, nil); err == nil {
		t.Error("New with a nil Handler succeeded")
	}
	s := reactortest.New(t, reactor.Config{}, h)
	addr := s.Addrs()[0]
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial(addr.Network(), addr.String()); err == nil {
		c.Close()
		t.Error("listener still open after Shutdown without Serve")
	}
}

// TestConfigDefaults: Config returns every default in effect, so a handler
// reads the values its server runs with instead of copying constants.
func TestConfigDefaults(t *testing.T) {
	s := reactortest.New(t, reactor.Config{}, reactortest.Greeter{})
	defer s.Close()
	c := s.Config()
	want := reactor.Config{
		Workers: runtime.GOMAXPROCS(0), Acceptors: 1, Notify: reactor.NotifyPipe, Wakeup: reactor.WakeupPerConn,
		Balance: reactor.BalanceRoundRobin, MaxConns: 1024, RejectLine: "ERROR Too many open connections\r\n",
		Backlog: 1024, MaxOutput: 4 << 20, MaxInput: 4 << 20, ReadBuffer: 64 << 10,
	}
	got := c
	got.Listen, got.Logger = nil, nil
	if got.Workers != want.Workers || got.Acceptors != want.Acceptors || got.Notify != want.Notify || got.Wakeup != want.Wakeup ||
		got.Balance != want.Balance || got.MaxConns != want.MaxConns || got.RejectLine != want.RejectLine ||
		got.Backlog != want.Backlog || got.MaxOutput != want.MaxOutput || got.MaxInput != want.MaxInput ||
		got.ReadBuffer != want.ReadBuffer || got.Socket != (reactor.SocketOptions{}) || got.RaiseProcs || got.IdleTimeout != 0 {
		t.Errorf("Config() = %+v\nwant %+v", got, want)
	}
	if c.Logger == nil || len(c.Listen) != 1 {
		t.Errorf("Config() has Logger %v and Listen %v", c.Logger, c.Listen)
	}
	c.Listen[0] = "changed"
	if s.Config().Listen[0] == "changed" {
		t.Error("Config() shares its Listen slice with the server")
	}
}

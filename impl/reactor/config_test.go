package reactor

import (
	"context"
	"net"
	"strings"
	"testing"
)

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

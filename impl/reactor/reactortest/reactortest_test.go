package reactortest_test

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestServeGreeter serves Greeter on two Workers, over TCP and a unix
// socket, and Dials it: connect k must be greeted as conn k of worker k mod 2
// (P1 exactly-once numbering, P2 round-robin, spec/SPEC.md) and its bytes
// echoed; Serve's cleanup then checks P7.
func TestServeGreeter(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "g.sock")
	s := reactortest.Serve(t, reactor.Config{Workers: 2, Listen: []string{"tcp://127.0.0.1:0", sock}}, reactortest.Greeter{})
	for k := range 4 {
		addr := s.Addrs()[k%2]
		g, err := reactortest.Dial(addr)
		if err != nil {
			t.Fatalf("connect %d to %s: %v", k, addr, err)
		}
		defer g.Conn.Close()
		if g.ID != uint64(k) || g.Worker != k%2 {
			t.Fatalf("P2: connect %d greeted as conn %d of worker %d, want conn %d of worker %d", k, g.ID, g.Worker, k, k%2)
		}
		if _, err := g.Conn.Write([]byte("ping\n")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 5)
		if _, err := io.ReadFull(g.R, got); err != nil || string(got) != "ping\n" {
			t.Fatalf("connect %d: echo %q, %v; want \"ping\\n\"", k, got, err)
		}
	}
}

// TestParseGreeting accepts exactly Greeter's format: anything else would
// let a test read another connection's bytes as its greeting.
func TestParseGreeting(t *testing.T) {
	for _, line := range []string{"w=3 id=17\n", "w=3 id=17"} {
		if w, id, err := reactortest.ParseGreeting(line); err != nil || w != 3 || id != 17 {
			t.Errorf("ParseGreeting(%q) = %d, %d, %v; want 3, 17, nil", line, w, id, err)
		}
	}
	for _, line := range []string{"", "\n", "w=3\n", "id=17 w=3\n", "w=3 id=17 ping\n", "w=3 id=17\nping",
		"w=-1 id=17\n", "w=3 id=-17\n", "w=x id=17\n", " w=3 id=17\n", "w=3  id=17\n"} {
		if w, id, err := reactortest.ParseGreeting(line); err == nil {
			t.Errorf("ParseGreeting(%q) = %d, %d, nil; want an error", line, w, id)
		}
	}
}

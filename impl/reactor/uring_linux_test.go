package reactor_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/uring"
)

// needUring skips where this kernel or process cannot run the io_uring
// backend; the fallback test checks what New does there.
func needUring(t *testing.T) {
	t.Helper()
	if err := uring.Probe(); err != nil {
		t.Skipf("io_uring backend unavailable: %v", err)
	}
}

// The io_uring backend serves: connections handed to every Worker by
// MSG_RING come up, echo each request whole and in order (P9, P10), and
// Stats names the backend.
func TestUringEchoes(t *testing.T) {
	needUring(t)
	s := reactortest.Serve(t, reactor.Config{Workers: 2, IO: reactor.IOUring}, reactortest.NewEcho())
	if got := reactor.IO(s.Stats().IO); got != reactor.IOUring {
		t.Fatalf("Stats().IO = %q, want %q", got, reactor.IOUring)
	}
	for i := range 6 {
		c := reactortest.DialConn(t, s.Addrs()[0])
		c.SetDeadline(time.Now().Add(10 * time.Second))
		for j := range 20 {
			req := []byte(fmt.Sprintf("conn %d request %d\n", i, j))
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(req))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, req) {
				t.Fatalf("conn %d request %d: %q, %v", i, j, got, err)
			}
		}
	}
	st := s.Stats()
	for w, ws := range st.Workers {
		if ws.Dispatched != 3 {
			t.Errorf("worker %d was handed %d connections, want 3 (P2 round-robin)", w, ws.Dispatched)
		}
	}
}

// IOUring where io_uring cannot be used fails New with an error wrapping
// uring.ErrUnsupported; IOAuto falls back to epoll and says so in Stats.
// Where it can be used, IOAuto chooses it.
func TestUringOrFallback(t *testing.T) {
	probe := uring.Probe()
	s, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, IO: reactor.IOAuto, Logger: reactortest.Quiet}, reactortest.NewEcho())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := reactor.IOUring
	if probe != nil {
		want = reactor.IOEpoll
	}
	if got := reactor.IO(s.Stats().IO); got != want || s.Config().IO != want {
		t.Fatalf("IOAuto with probe %v: Stats().IO %q, Config().IO %q, want %q", probe, got, s.Config().IO, want)
	}
	if probe == nil {
		t.Skip("io_uring available: the refusal is checked under a seccomp filter (TestUringRefusedUnderSeccomp)")
	}
	if _, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, IO: reactor.IOUring}, reactortest.NewEcho()); !errors.Is(err, uring.ErrUnsupported) {
		t.Fatalf("IOUring without io_uring: %v, want ErrUnsupported", err)
	}
}

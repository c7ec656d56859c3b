package reactor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// quietLogger keeps expected warnings (EMFILE, panics) out of test output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer binds cfg (127.0.0.1:0 when Listen is empty), serves it and
// registers a Shutdown that must succeed and make Serve return nil.
func startServer(t testing.TB, cfg Config, h Handler) *Server {
	t.Helper()
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{"tcp://127.0.0.1:0"}
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	s, err := New(cfg, h)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// dial connects to a "tcp://" or "unix://" address of Addrs.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	network, rest := splitScheme(addr)
	c, err := net.DialTimeout(network, rest, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// echoHandler echoes every byte, consuming only what fits under max bytes of
// buffered output, as a handler that respects MaxOutput does.
type echoHandler struct {
	max int
	// maxOut is the largest OutputLen observed after a write; maxIn the
	// longest input offered.
	mu     sync.Mutex
	maxOut int
	maxIn  int
	full   chan struct{} // closed the first time output reaches max
	once   sync.Once
}

func newEcho(max int) *echoHandler { return &echoHandler{max: max, full: make(chan struct{})} }

func (h *echoHandler) OnOpen(*Conn) {}

func (h *echoHandler) OnData(c *Conn, in []byte) int {
	h.mu.Lock()
	h.maxIn = max(h.maxIn, len(in))
	h.mu.Unlock()
	n := min(len(in), h.max-c.OutputLen())
	if n <= 0 {
		return 0
	}
	_ = c.Write(in[:n])
	out := c.OutputLen()
	h.mu.Lock()
	h.maxOut = max(h.maxOut, out)
	h.mu.Unlock()
	if out >= h.max {
		h.once.Do(func() { close(h.full) })
	}
	return n
}

func (h *echoHandler) OnClose(*Conn, error) {}

// greetHandler tells each client which Worker serves it and its accept
// sequence number ("w=1 id=7\n"), then echoes; it counts OnOpen and OnClose
// per connection.
type greetHandler struct {
	mu     sync.Mutex
	opens  map[uint64]int
	closes map[uint64]int
	closed chan uint64 // receives each closed conn's ID when not nil
}

func newGreet() *greetHandler {
	return &greetHandler{opens: make(map[uint64]int), closes: make(map[uint64]int)}
}

func (h *greetHandler) OnOpen(c *Conn) {
	h.mu.Lock()
	h.opens[c.ID()]++
	h.mu.Unlock()
	_ = c.Write(fmt.Appendf(nil, "w=%d id=%d\n", c.Worker(), c.ID()))
}

func (h *greetHandler) OnData(c *Conn, in []byte) int {
	_ = c.Write(in)
	return len(in)
}

func (h *greetHandler) OnClose(c *Conn, _ error) {
	h.mu.Lock()
	h.closes[c.ID()]++
	ch := h.closed
	h.mu.Unlock()
	if ch != nil {
		ch <- c.ID()
	}
}

// readGreeting reads "w=W id=I\n" from a fresh connection.
func readGreeting(r *bufio.Reader) (w int, id uint64, err error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("greeting: %w (got %q)", err, line)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(line), "w=%d id=%d", &w, &id); err != nil {
		return 0, 0, fmt.Errorf("greeting %q: %w", line, err)
	}
	return w, id, nil
}

// waitFor polls cond until it holds or the generous deadline passes; it is
// for counters the server exposes only as Stats.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

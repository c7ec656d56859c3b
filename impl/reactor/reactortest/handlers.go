package reactortest

import (
	"fmt"
	"sync"

	"github.com/handoffd/handoff/impl/reactor"
)

// Echo echoes every byte, consuming only what fits under the server's
// MaxOutput (learned in OnBoot), as a handler that respects the output bound
// does; it records the largest output and input it saw.
type Echo struct {
	reactor.BuiltinHandler
	max int

	mu sync.Mutex
	// maxOut is the largest OutputLen after a write; maxIn the longest
	// input offered.
	maxOut, maxIn int
	full          chan struct{} // closed the first time output reaches max
	once          sync.Once
}

// NewEcho returns an Echo.
func NewEcho() *Echo { return &Echo{full: make(chan struct{})} }

// OnBoot learns the output bound.
func (h *Echo) OnBoot(s *reactor.Server) error {
	h.max = s.Config().MaxOutput
	return nil
}

// OnData echoes as much of in as the output bound lets it.
func (h *Echo) OnData(c *reactor.Conn, in []byte) int {
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

// Full is closed the first time a connection's output reaches MaxOutput.
func (h *Echo) Full() <-chan struct{} { return h.full }

// Seen returns the largest buffered output and the longest input offered so
// far.
func (h *Echo) Seen() (maxOut, maxIn int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maxOut, h.maxIn
}

// Counter greets like Greeter and counts OnOpen and OnClose per connection;
// each closed connection's ID is also sent on Closed while it has room (a
// close beyond its room is counted but not sent: OnClose never blocks a
// Worker).
type Counter struct {
	Greeter
	Closed chan uint64

	mu     sync.Mutex
	opens  map[uint64]int
	closes map[uint64]int
}

// NewCounter returns a Counter whose Closed channel holds room closed IDs.
func NewCounter(room int) *Counter {
	return &Counter{Closed: make(chan uint64, room), opens: make(map[uint64]int), closes: make(map[uint64]int)}
}

// OnOpen counts and greets.
func (h *Counter) OnOpen(c *reactor.Conn) {
	h.mu.Lock()
	h.opens[c.ID()]++
	h.mu.Unlock()
	h.Greeter.OnOpen(c)
}

// OnClose counts and reports c's ID on Closed.
func (h *Counter) OnClose(c *reactor.Conn, _ error) {
	h.mu.Lock()
	h.closes[c.ID()]++
	h.mu.Unlock()
	select {
	case h.Closed <- c.ID():
	default:
	}
}

// OnceEach checks what P7 clean shutdown asks of a stopped server's
// handler: every connection opened got OnOpen once and OnClose once. It
// returns how many were opened.
func (h *Counter) OnceEach() (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, n := range h.opens {
		if n != 1 || h.closes[id] != 1 {
			return 0, fmt.Errorf("P7 clean shutdown: conn %d: OnOpen %d times, OnClose %d times (want 1 each)", id, n, h.closes[id])
		}
	}
	if len(h.closes) != len(h.opens) {
		return 0, fmt.Errorf("P7 clean shutdown: OnClose for %d connections, OnOpen for %d", len(h.closes), len(h.opens))
	}
	return len(h.opens), nil
}

// Counts returns how many times OnOpen and OnClose ran for connection id.
func (h *Counter) Counts(id uint64) (opens, closes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opens[id], h.closes[id]
}

// Conns returns how many connections were opened and how many closed.
func (h *Counter) Conns() (opened, closed int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.opens), len(h.closes)
}

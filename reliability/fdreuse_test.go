package reliability

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// staleKeeper greets each connection with its ID, echoes, and hands every
// closed Conn to a goroutine that keeps writing to it through the stale
// handle. It records callbacks that reach a connection after its OnClose.
type staleKeeper struct {
	closed chan *reactor.Conn

	mu     sync.Mutex
	closes map[uint64]int // OnClose per conn ID, guarded by mu
	late   []string       // callbacks after OnClose, guarded by mu
}

func (h *staleKeeper) OnOpen(c *reactor.Conn) { _ = c.Write(fmt.Appendf(nil, "id=%d\n", c.ID())) }

func (h *staleKeeper) OnData(c *reactor.Conn, in []byte) int {
	h.mu.Lock()
	if h.closes[c.ID()] > 0 {
		h.late = append(h.late, fmt.Sprintf("OnData for conn %d after its OnClose", c.ID()))
	}
	h.mu.Unlock()
	_ = c.Write(in)
	return len(in)
}

func (h *staleKeeper) OnClose(c *reactor.Conn, _ error) {
	h.mu.Lock()
	h.closes[c.ID()]++
	h.mu.Unlock()
	h.closed <- c
}

// TestFDReuse is P6 close before reuse (spec/SPEC.md) under churn: 16
// goroutines connect, read their greeting, send a line, half-close and read
// everything to EOF, for 2 s. The kernel hands out the lowest free fd, so a
// few dozen fd numbers serve thousands of connections, each number reused
// again and again. Meanwhile every closed connection's Conn handle is kept,
// and the last 64 are written to with AsyncWrite again and again while newer
// connections hold their fd numbers. Each such write must return ErrClosed,
// and no client may receive a byte that is not its own greeting and echo
// (gnet once closed the fd before OnClose, so a reused fd received another
// connection's data). No callback reaches a connection after its OnClose,
// and OnClose runs exactly once for each.
func TestFDReuse(t *testing.T) {
	const goroutines, length, ring = 16, 2 * time.Second, 64
	h := &staleKeeper{closed: make(chan *reactor.Conn, 1024), closes: map[uint64]int{}}
	s := reactortest.Serve(t, reactor.Config{Workers: 2}, h)
	addr := s.Addrs()[0].String()

	// The stale writer: every handle it holds has had its OnClose called.
	var staleWrites, staleAccepted atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var held []*reactor.Conn
		for c := range h.closed {
			held = append(held, c)
			if len(held) > ring {
				held = held[1:]
			}
			for _, old := range held {
				err := old.AsyncWrite(fmt.Appendf(nil, "STALE from conn %d\n", old.ID()))
				staleWrites.Add(1)
				if !errors.Is(err, reactor.ErrClosed) {
					staleAccepted.Add(1)
					t.Errorf("P6: AsyncWrite on conn %d after its OnClose returned %v, want ErrClosed", old.ID(), err)
				}
			}
		}
	}()

	// The most fds the process holds at once, sampled. The kernel hands out
	// the lowest free number, so every fd ever opened has a number below
	// that peak: with thousands of connections through so few numbers, each
	// is reused many times.
	stop := make(chan struct{})
	var peak atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak.Store(max(peak.Load(), int64(len(selfFDs(t)))))
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	var conns atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(length)
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				if err := reuseOnce(addr, g, i); err != nil {
					t.Error(err)
					return
				}
				conns.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled

	// Every connection's OnClose has run once the server holds none.
	for end := time.Now().Add(10 * time.Second); s.Stats().CurrConns != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("CurrConns %d after every client closed", s.Stats().CurrConns)
		}
	}
	close(h.closed)
	<-writerDone
	t.Logf("%d connections through at most %d fd numbers (peak open fds, both ends); %d AsyncWrites on stale handles, %d not refused",
		conns.Load(), peak.Load(), staleWrites.Load(), staleAccepted.Load())
	if conns.Load() < 10*peak.Load() {
		t.Errorf("only %d connections through %d fd numbers: too little churn to reuse fds", conns.Load(), peak.Load())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if total := s.Stats().TotalConns; uint64(len(h.closes)) != total {
		t.Errorf("OnClose ran for %d connections of %d", len(h.closes), total)
	}
	for id, n := range h.closes {
		if n != 1 {
			t.Errorf("P6: OnClose ran %d times for conn %d", n, id)
		}
	}
	for _, l := range h.late {
		t.Errorf("P6: %s", l)
	}
}

// reuseOnce is one client of TestFDReuse: it must read exactly its greeting
// and its echo, then EOF.
func reuseOnce(addr string, g, i int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	line := fmt.Sprintf("goroutine %d conn %d\n", g, i)
	if _, err := c.Write([]byte(line)); err != nil {
		return err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(c)
	if err != nil {
		return fmt.Errorf("%s: %v after %q", strings.TrimSpace(line), err, got)
	}
	greeting, echo, ok := strings.Cut(string(got), "\n")
	if !ok || !strings.HasPrefix(greeting, "id=") || echo != line {
		return fmt.Errorf("P6: %s received %q, want its greeting and its echo only", strings.TrimSpace(line), got)
	}
	return nil
}

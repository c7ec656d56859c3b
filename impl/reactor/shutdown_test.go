package reactor

import (
	"bufio"
	"context"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedOpen holds OnOpen, once gated is set, until gate is closed, so that
// connections pile up in the queues and Shutdown finds some still queued.
type gatedOpen struct {
	*greetHandler
	gated *atomic.Bool
	gate  chan struct{}
}

func (h gatedOpen) OnOpen(c *Conn) {
	if h.gated.Load() {
		select {
		case <-h.gate:
		case <-time.After(20 * time.Second):
		}
	}
	h.greetHandler.OnOpen(c)
}

func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestShutdownUnderLoad checks P5 no fd leak and P7 clean shutdown
// (spec/SPEC.md): Shutdown in the middle of a connection storm returns, Serve
// returns nil, every registered connection got OnClose exactly once, and once
// the clients are closed the process holds the fds and goroutines it held
// before the server existed.
func TestShutdownUnderLoad(t *testing.T) {
	// Warm up the runtime's own netpoller (the clients use package net), so
	// that its fds are part of the baseline.
	warm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	warm.Close()
	baseFDs, baseG := countFDs(t), runtime.NumGoroutine()

	h := newGreet()
	gh := gatedOpen{greetHandler: h, gated: new(atomic.Bool), gate: make(chan struct{})}
	s, err := New(Config{Listen: []string{"tcp://127.0.0.1:0", "unix://" + shortSocketPath(t)}, Workers: 1, Logger: quietLogger}, gh)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()

	var (
		mu      sync.Mutex
		clients []net.Conn
		greeted atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, c := range clients {
			c.Close()
		}
		mu.Unlock()
	}()
	addrs := s.Addrs()
	for g := range 64 {
		wg.Go(func() {
			for i := 0; !stop.Load() && i < 40; i++ {
				network, rest := splitScheme(addrs[(g+i)%len(addrs)])
				c, err := net.DialTimeout(network, rest, 5*time.Second)
				if err != nil {
					return
				}
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				if _, _, err := readGreeting(r); err != nil {
					return
				}
				greeted.Add(1)
				// Traffic without waiting for the echo: a client must block
				// only on its greeting, so that held OnOpen calls make the
				// queue grow.
				if _, err := c.Write([]byte("ping\n")); err != nil {
					return
				}
			}
		})
	}
	waitFor(t, "300 greeted clients", func() bool { return greeted.Load() >= 300 })
	gh.gated.Store(true)
	// The Worker is held in one OnOpen, inside a batch of at most 32 pipe
	// tokens; with 40 queued, some are still queued when it sees the stop.
	waitFor(t, "40 queued connections", func() bool { return s.Stats().Workers[0].QueueLen >= 40 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// Release the held OnOpen only once the Worker has been told to stop:
	// it finishes its batch, then closes what is still queued.
	waitFor(t, "the Worker's stop", s.workers[0].stopFlag.Load)
	close(gh.gate)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	stop.Store(true)
	wg.Wait()

	st := s.Stats()
	h.mu.Lock()
	for id, n := range h.opens {
		if n != 1 || h.closes[id] != 1 {
			t.Errorf("P7: conn %d: OnOpen %d times, OnClose %d times (want 1 each)", id, n, h.closes[id])
		}
	}
	if len(h.closes) != len(h.opens) {
		t.Errorf("P7: OnClose for %d connections, OnOpen for %d", len(h.closes), len(h.opens))
	}
	registered := len(h.opens)
	h.mu.Unlock()
	if st.CurrConns != 0 || uint64(registered) != st.TotalConns {
		t.Errorf("P7: after Shutdown CurrConns %d, TotalConns %d, registered %d", st.CurrConns, st.TotalConns, registered)
	}
	queued := st.Accepted - st.Rejected - uint64(registered)
	t.Logf("accepted %d, registered %d, closed while queued %d", st.Accepted, registered, queued)
	if queued == 0 {
		t.Error("no connection was still queued at Shutdown: the test did not exercise closing queued fds")
	}

	mu.Lock()
	for _, c := range clients {
		c.Close()
	}
	mu.Unlock()
	if n := countFDs(t); n != baseFDs {
		t.Errorf("P5: %d fds open after Shutdown, %d before the server", n, baseFDs)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseG && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseG {
		buf := make([]byte, 1<<16)
		t.Errorf("P7: %d goroutines after Shutdown, %d before:\n%s", n, baseG, buf[:runtime.Stack(buf, true)])
	}
}

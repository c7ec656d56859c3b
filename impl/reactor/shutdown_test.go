package reactor_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/internal/procstat"
)

// gatedOpen holds OnOpen, once gated is set, until gate is closed, so that
// connections pile up in the queues and Shutdown finds some still queued.
type gatedOpen struct {
	*reactortest.Counter
	gated *atomic.Bool
	gate  chan struct{}
}

func (h gatedOpen) OnOpen(c *reactor.Conn) {
	if h.gated.Load() {
		select {
		case <-h.gate:
		case <-time.After(reactortest.WaitTimeout):
		}
	}
	h.Counter.OnOpen(c)
}

func countFDs(t testing.TB) int {
	t.Helper()
	fds, err := procstat.FDs(0)
	if err != nil {
		t.Skip(err) // no /proc to count fds in
	}
	return len(fds)
}

// TestShutdownUnderLoad checks P5 no fd leak and P7 clean shutdown
// (spec/SPEC.md): Shutdown in the middle of a connection storm returns, Serve
// returns ErrServerClosed, every registered connection got OnClose exactly once, and once
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

	h := reactortest.NewCounter(0)
	gh := gatedOpen{Counter: h, gated: new(atomic.Bool), gate: make(chan struct{})}
	s := reactortest.New(t, reactor.Config{Listen: []string{"tcp://127.0.0.1:0", "unix://" + reactortest.SocketPath(t)}, Workers: 1}, gh)
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
			// Up to 400 each, far more than the 300 greeted before the
			// gate and the 40 queued after it: clients done with every
			// connection before the gate is set would leave none queued.
			for i := 0; !stop.Load() && i < 400; i++ {
				g, err := reactortest.Dial(addrs[(g+i)%len(addrs)])
				if err != nil {
					return
				}
				c := g.Conn
				mu.Lock()
				clients = append(clients, c)
				mu.Unlock()
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
	reactortest.WaitFor(t, "300 greeted clients", func() bool { return greeted.Load() >= 300 })
	gh.gated.Store(true)
	// The Worker is held in one OnOpen, inside a batch of at most 32 pipe
	// tokens; with 40 queued, some are still queued when it sees the stop.
	// On io_uring what it reaped with the held one is closed as queued
	// once it sees the stop, and one queued is enough; 40 may never come,
	// for the clients of the batch before the held one wait on greetings
	// their Worker sends only when its turn ends.
	want := 40
	if reactortest.IO() == reactor.IOUring {
		want = 1
	}
	reactortest.WaitFor(t, "queued connections", func() bool { return s.Stats().Workers[0].QueueLen >= want })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	// Release the held OnOpen only once the Worker has been told to stop:
	// it finishes its batch, then closes what is still queued.
	reactortest.WaitFor(t, "the Worker's stop", func() bool { return reactor.WorkerStopping(s, 0) })
	close(gh.gate)
	if err := reactortest.Await(t, shut, "Shutdown to return"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := reactortest.Await(t, served, "Serve to return"); !errors.Is(err, reactor.ErrServerClosed) {
		t.Errorf("P7: Serve returned %v, want ErrServerClosed", err)
	}
	stop.Store(true)
	wg.Wait()

	st := s.Stats()
	registered, err := h.OnceEach()
	if err != nil {
		t.Error(err)
	}
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
		t.Errorf("P7: %d goroutines after Shutdown, %d before:\n%s", n, baseG, reactortest.Stacks())
	}
}

package reactortest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

// ShutdownTimeout bounds the Shutdown that Serve's cleanup makes. It is
// generous, for a loaded machine under the race detector: a stop that takes
// longer is a stuck Worker or Acceptor, not a slow one.
const ShutdownTimeout = 20 * time.Second

// WaitTimeout bounds WaitFor and Await: far longer than any event a test
// waits for takes on a loaded machine, so that only a lost event reaches it.
const WaitTimeout = 20 * time.Second

// Quiet is a logger that discards every record, for the records a test
// provokes on purpose (handler panics, EMFILE).
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Serve creates a server for cfg and h, runs Serve in a goroutine and returns
// the server; New failing fails the test at once, and on a system with no
// reactor kernel skips it. An empty cfg.Listen (with no cfg.Listeners)
// becomes "tcp://127.0.0.1:0", and a nil cfg.Logger Quiet.
//
// When the test and its deferred calls are done, a cleanup checks P7 clean
// shutdown (spec/SPEC.md): Shutdown must return nil within ShutdownTimeout,
// then Serve must return reactor.ErrServerClosed.
func Serve(t testing.TB, cfg reactor.Config, h reactor.Handler) *reactor.Server {
	t.Helper()
	s := New(t, cfg, h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("P7 clean shutdown: Shutdown: %v\n%s", err, Stacks())
		}
		select {
		case err := <-served:
			if !errors.Is(err, reactor.ErrServerClosed) {
				t.Errorf("P7 clean shutdown: Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(ShutdownTimeout):
			t.Errorf("P7 clean shutdown: Serve did not return after Shutdown\n%s", Stacks())
		}
	})
	return s
}

// New is reactor.New with Serve's defaults for cfg, for a test that runs
// Serve itself or drives the server another way; the test owns its stop.
func New(t testing.TB, cfg reactor.Config, h reactor.Handler) *reactor.Server {
	t.Helper()
	if len(cfg.Listen) == 0 && len(cfg.Listeners) == 0 {
		cfg.Listen = []string{"tcp://127.0.0.1:0"}
	}
	if cfg.Logger == nil {
		cfg.Logger = Quiet
	}
	if cfg.IO == "" {
		cfg.IO = IO()
	}
	s, err := reactor.New(cfg, h)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("reactor.New: %v", err)
	}
	if err != nil {
		t.Fatalf("reactor.New: %v", err)
	}
	return s
}

// IO is the backend a test's server runs on when its Config leaves IO
// unset: $HANDOFF_IO (epoll, uring or auto), else the reactor's default,
// so that one test suite runs against each backend in turn (make test runs
// the reactor's twice).
func IO() reactor.IO { return reactor.IO(os.Getenv("HANDOFF_IO")) }

// WaitFor polls cond until it holds, failing the test with what it waited
// for and every goroutine's stack after WaitTimeout. It is for state the
// server exposes only as Stats; where an event exists, Await it.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s\n%s", WaitTimeout, what, Stacks())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Await receives one value from ch, failing the test with what it waited
// for and every goroutine's stack after WaitTimeout.
func Await[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(WaitTimeout):
		t.Fatalf("timed out after %v waiting for %s\n%s", WaitTimeout, what, Stacks())
		panic("unreachable")
	}
}

// Stacks returns every goroutine's stack, for the message of a wait that
// timed out.
func Stacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// LogBuffer is a log destination a server writes to from its Workers while
// the test reads it: an io.Writer safe for concurrent use.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

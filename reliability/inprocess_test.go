package reliability

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
)

// quiet keeps the reactor's expected error records (panics) out of the test
// output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveReactor runs an in-process reactor with cfg and h on 127.0.0.1:0, for
// the scenarios that need a handler handoffd does not have. The cleanup
// checks P7 clean shutdown (spec/SPEC.md): Shutdown returns within 20 s,
// Serve returns nil.
func serveReactor(t *testing.T, cfg reactor.Config, h reactor.Handler) *reactor.Server {
	t.Helper()
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.Logger = quiet
	s, err := reactor.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("P7: Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("P7: Serve: %v", err)
		}
	})
	return s
}

// selfFDs lists this process's open fds by number.
func selfFDs(t testing.TB) []int {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	fds := make([]int, 0, len(names))
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

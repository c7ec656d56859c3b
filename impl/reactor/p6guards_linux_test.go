package reactor

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/internal/kernel"
)

// P6's two guards against a newer connection on a reused fd number, each
// driven by hand on a Worker that no loop runs, so that the one interleaving
// that needs the guard happens every time: the old connection closes, the
// kernel gives its fd number to the next socket, and a new connection is
// registered on it before the old one's task or event is handled.

// dataLog records the connections OnData was called for.
type dataLog struct {
	BuiltinHandler
	mu  sync.Mutex
	ids []uint64
}

func (h *dataLog) OnData(c *Conn, in []byte) int {
	h.mu.Lock()
	h.ids = append(h.ids, c.ID())
	h.mu.Unlock()
	return len(in)
}

func (h *dataLog) seen() []uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint64(nil), h.ids...)
}

// handWorker returns a Worker of a server that is never served.
func handWorker(t *testing.T, h Handler) *worker {
	t.Helper()
	s, err := New(Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: 1}, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s.workers[0]
}

// socketPair returns a connected pair of non-blocking unix sockets, the
// first on fd number want when want >= 0 (the kernel gives out the lowest
// free number, so a number just closed is given again); its peer is closed
// at cleanup, the first is the Worker's to close.
func socketPair(t *testing.T, want int) (fd, peer int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, peer = p[0], p[1]
	if want >= 0 && peer == want {
		fd, peer = peer, fd
	}
	t.Cleanup(func() { unix.Close(peer) })
	if want >= 0 && fd != want {
		unix.Close(fd)
		t.Fatalf("fd %d was not given again (got %d and %d): the test needs the reuse", want, p[0], p[1])
	}
	return fd, peer
}

// expectNothing fails if peer has anything to read.
func expectNothing(t *testing.T, peer int, what string) {
	t.Helper()
	buf := make([]byte, 64)
	if n, err := unix.Read(peer, buf); err != unix.EAGAIN {
		t.Errorf("P6: %s: the new connection's peer read %q, %v; want nothing", what, buf[:max(n, 0)], err)
	}
}

// TestP6StaleTaskSkipped: an AsyncWrite accepted while its connection was
// open, and run after that connection closed and a new one took its fd
// number, writes nothing to the new one (worker.runTasks' check).
func TestP6StaleTaskSkipped(t *testing.T) {
	w := handWorker(t, &dataLog{})
	a, _ := socketPair(t, -1)
	w.register(item{fd: a, seq: 1})
	old := w.conns[a]
	if err := old.AsyncWrite([]byte("STALE\n")); err != nil {
		t.Fatalf("AsyncWrite on an open connection: %v", err)
	}
	w.finalize(old, nil)
	b, peer := socketPair(t, a)
	w.register(item{fd: b, seq: 2})
	w.onTasks()
	expectNothing(t, peer, "a task queued for the old connection ran")
	if c := w.conns[b]; c == nil || c.ID() != 2 || c.OutputLen() != 0 {
		t.Errorf("the new connection holds output or is gone: %+v", c)
	}
}

// TestP6StaleEventSkipped: an event armed for a connection that has since
// closed, delivered after a new connection took its fd number, does not
// reach the new one (the generation in the event).
func TestP6StaleEventSkipped(t *testing.T) {
	h := &dataLog{}
	w := handWorker(t, h)
	a, _ := socketPair(t, -1)
	w.register(item{fd: a, seq: 1})
	old := w.conns[a]
	stale := kernel.Event{Events: kernel.In, Fd: int32(a), Pad: int32(old.gen)}
	w.finalize(old, nil)
	b, peer := socketPair(t, a)
	w.register(item{fd: b, seq: 2})
	if _, err := unix.Write(peer, []byte("get k\r\n")); err != nil {
		t.Fatal(err)
	}
	w.onEvent(&stale)
	if ids := h.seen(); len(ids) != 0 {
		t.Errorf("P6: the old connection's event reached OnData for connections %v", ids)
	}
	// The guard is the generation, not the fd: the new connection's own
	// event is delivered.
	w.onEvent(&kernel.Event{Events: kernel.In, Fd: int32(b), Pad: int32(w.conns[b].gen)})
	if ids := h.seen(); len(ids) != 1 || ids[0] != 2 {
		t.Errorf("the new connection's own event reached OnData for %v, want [2]", ids)
	}
}

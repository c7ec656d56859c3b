package reactor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"pgregory.net/rapid"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// TestRapidCloseBeforeReuse checks P6 close before reuse (spec/SPEC.md):
// OnClose runs while the connection's fd is still its own, so that no fd is
// closed, and handed to a newer connection, under a handler still using it.
// The handler reads the fd's peer address (getpeername) in OnOpen and again
// in OnClose: a closed fd fails with EBADF, and a reused one names another
// peer. Rapid draws the server's size and which connections the client
// closes and which the server closes (Conn.Close), with several clients at
// once so that fds are reused quickly.
func TestRapidCloseBeforeReuse(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "workers")
		byServer := rapid.SliceOfN(rapid.Bool(), 4, 24).Draw(t, "closed by the server")
		h := &peerCheck{peers: map[uint64]string{}}
		s, err := reactor.New(reactor.Config{Listen: []string{"tcp://127.0.0.1:0"}, Workers: n, Logger: reactortest.Quiet}, h)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(context.Background()) }()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-served; !errors.Is(err, reactor.ErrServerClosed) {
				t.Fatalf("P7: Serve returned %v", err)
			}
		}()
		if err := closeRound(s, byServer); err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.bad != "" {
			t.Fatal(h.bad)
		}
		if h.closes != len(byServer) {
			t.Fatalf("%d OnClose for %d connections", h.closes, len(byServer))
		}
	})
}

// closeRound runs closeOnce for every entry of byServer at once, on s's
// first listener, then waits until s has had that many connections and
// holds none. It returns the first error.
func closeRound(s *reactor.Server, byServer []bool) error {
	addr := s.Addrs()[0].String()
	var wg sync.WaitGroup
	errs := make(chan error, len(byServer))
	for i, server := range byServer {
		wg.Go(func() { errs <- closeOnce(addr, server, i) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := s.Stats(); st.CurrConns != 0 || st.TotalConns != uint64(len(byServer)); st = s.Stats() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not every connection was closed: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// closeOnce connects, reads the greeting, and then either asks the server
// to close ("q") and waits for EOF, or closes itself.
func closeOnce(addr string, byServer bool, i int) error {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return fmt.Errorf("client %d: greeting: %w", i, err)
	}
	if !byServer {
		return nil
	}
	if _, err := c.Write([]byte("q")); err != nil {
		return err
	}
	if _, err := r.ReadByte(); err == nil {
		return fmt.Errorf("client %d: data after asking the server to close", i)
	}
	return nil
}

// peerCheck greets, closes a connection that sends "q", and compares each
// connection's peer address in OnClose with the one it had in OnOpen.
type peerCheck struct {
	mu     sync.Mutex
	peers  map[uint64]string
	closes int
	bad    string // the first P6 violation seen
}

func peerOf(fd int) string {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return "error: " + err.Error()
	}
	if in4, ok := sa.(*unix.SockaddrInet4); ok {
		return fmt.Sprintf("%v:%d", in4.Addr, in4.Port)
	}
	return fmt.Sprintf("%T", sa)
}

func (h *peerCheck) OnOpen(c *reactor.Conn) {
	h.mu.Lock()
	h.peers[c.ID()] = peerOf(reactor.ConnFD(c))
	h.mu.Unlock()
	_ = c.Write([]byte("hello\n"))
}

func (h *peerCheck) OnData(c *reactor.Conn, in []byte) int {
	_ = c.Close()
	return len(in)
}

func (h *peerCheck) OnClose(c *reactor.Conn, _ error) {
	now := peerOf(reactor.ConnFD(c))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closes++
	if was := h.peers[c.ID()]; now != was && h.bad == "" {
		h.bad = fmt.Sprintf("P6: in OnClose conn %d's fd %d has peer %q, in OnOpen it had %q", c.ID(), reactor.ConnFD(c), now, was)
	}
}

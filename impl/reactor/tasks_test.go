package reactor_test

import (
	"bufio"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
)

// wakeCounter answers every Wake with "w\n" and counts them per connection;
// it hands each opened Conn to the test.
type wakeCounter struct {
	reactor.BuiltinHandler
	opened chan *reactor.Conn
}

func (h wakeCounter) OnOpen(c *reactor.Conn) {
	c.SetContext(new(atomic.Int64))
	h.opened <- c
}

func (h wakeCounter) OnData(c *reactor.Conn, in []byte) int {
	if len(in) == 0 {
		c.Context().(*atomic.Int64).Add(1)
		_ = c.Write([]byte("w\n"))
	}
	return len(in)
}

// TestTasksFromManyGoroutines checks P8 no lost task with the kick contended:
// goroutines call AsyncWrite and Wake on connections of two Workers at once,
// and every call that returned nil runs exactly once — each goroutine's
// writes arrive complete and in its order (P9 output integrity), and OnData
// runs once per Wake, no more (a task run twice) and no less (a lost kick
// leaves the client waiting, and its deadline fails the test with the trace).
func TestTasksFromManyGoroutines(t *testing.T) {
	const (
		conns      = 4
		goroutines = 4 // per connection
		calls      = 500
	)
	tail := reactortest.NewTail(64)
	h := wakeCounter{opened: make(chan *reactor.Conn, conns)}
	s := reactortest.Serve(t, reactor.Config{Workers: 2, MaxOutput: 1 << 20, Trace: tail.Record}, h)

	clients := make([]*bufio.Reader, conns)
	served := make([]*reactor.Conn, conns)
	for i := range conns {
		nc := reactortest.DialConn(t, s.Addrs()[0])
		_ = nc.SetReadDeadline(time.Now().Add(reactortest.WaitTimeout))
		clients[i] = bufio.NewReader(nc)
		served[i] = reactortest.Await(t, h.opened, "OnOpen")
	}

	var wg sync.WaitGroup
	errs := make(chan error, conns*goroutines)
	for _, c := range served {
		for g := range goroutines {
			wg.Go(func() {
				for i := range calls {
					if err := c.AsyncWrite(fmt.Appendf(nil, "a %d %d\n", g, i)); err != nil {
						errs <- fmt.Errorf("AsyncWrite %d of goroutine %d on conn %d: %w", i, g, c.ID(), err)
						return
					}
					if err := c.Wake(); err != nil {
						errs <- fmt.Errorf("Wake %d of goroutine %d on conn %d: %w", i, g, c.ID(), err)
						return
					}
				}
			})
		}
	}

	// Every connection must see goroutines*calls writes, each goroutine's in
	// order, and as many wake replies; the server sends nothing else.
	for k, r := range clients {
		next := make([]int, goroutines)
		wakes := 0
		for total := 0; total < 2*goroutines*calls; total++ {
			line, err := r.ReadString('\n')
			if err != nil {
				tail.Fatalf(t, "conn %d: after %d lines (%d wakes, next writes %v): %v", served[k].ID(), total, wakes, next, err)
			}
			var g, i int
			switch _, perr := fmt.Sscanf(line, "a %d %d\n", &g, &i); {
			case line == "w\n":
				wakes++
			case perr != nil || g < 0 || g >= goroutines:
				tail.Fatalf(t, "conn %d: unexpected line %q", served[k].ID(), line)
			case i != next[g]:
				tail.Fatalf(t, "P9: conn %d: goroutine %d's write %d arrived when %d was next", served[k].ID(), g, i, next[g])
			default:
				next[g]++
			}
		}
		if wakes != goroutines*calls {
			t.Errorf("P8: conn %d got %d wake replies, want %d", served[k].ID(), wakes, goroutines*calls)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("P8: %v", err)
	}
	for _, c := range served {
		if n := c.Context().(*atomic.Int64).Load(); n != goroutines*calls {
			t.Errorf("P8: conn %d: OnData ran %d times for %d Wakes", c.ID(), n, goroutines*calls)
		}
	}
}

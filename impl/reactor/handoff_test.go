package reactor

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/handoffd/handoff/model"
)

// openAndGreet opens total connections from clients goroutines, spread over
// addrs; each reads its greeting, then closes. It returns what each client
// was told.
func openAndGreet(t testing.TB, addrs []string, total, clients int) []served {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	var out []served
	var firstErr error
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= int64(total) {
					return
				}
				c := dial(t, addrs[int(k)%len(addrs)])
				w, id, err := readGreeting(bufio.NewReader(c))
				c.Close()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out = append(out, served{id: id, worker: w})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return out
}

// TestHandoffUnderLoad checks P1 exactly-once, P2 round-robin and P3
// per-worker FIFO (spec/SPEC.md) from the trace of a loaded server: 64
// client goroutines, for every notify × wake-up combination and N = 1, 2, 3,
// 7. The default combination (pipe, per-conn) carries the full 5,000
// connections at N = 2; the others fewer, to keep the run short.
func TestHandoffUnderLoad(t *testing.T) {
	type run struct {
		notify   Notify
		wakeup   Wakeup
		n, conns int
		// acceptors > 1 binds the TCP address once per Acceptor with
		// SO_REUSEPORT; unix adds a unix socket listener.
		acceptors int
		unix      bool
	}
	var runs []run
	for _, nt := range []Notify{NotifyPipe, NotifyEventfd} {
		for _, wk := range []Wakeup{WakeupPerConn, WakeupCoalesced} {
			for _, n := range []int{1, 2, 3, 7} {
				conns := 500
				if nt == NotifyPipe && wk == WakeupPerConn && n == 2 {
					conns = 5000
				}
				runs = append(runs, run{notify: nt, wakeup: wk, n: n, conns: conns})
			}
		}
	}
	runs = append(runs,
		run{notify: NotifyPipe, wakeup: WakeupPerConn, n: 3, conns: 400, acceptors: 2, unix: true},
		run{notify: NotifyEventfd, wakeup: WakeupCoalesced, n: 7, conns: 400, acceptors: 3, unix: true})
	total := 0
	for _, r := range runs {
		name := fmt.Sprintf("%s/%s/N=%d/conns=%d", r.notify, r.wakeup, r.n, r.conns)
		if r.acceptors > 1 {
			name += fmt.Sprintf("/acceptors=%d+unix", r.acceptors)
		}
		t.Run(name, func(t *testing.T) {
			rec := model.NewTrace(8 * r.conns)
			cfg := Config{Workers: r.n, Notify: r.notify, Wakeup: r.wakeup, Acceptors: r.acceptors, Trace: rec.Record}
			cfg.Listen = []string{"tcp://127.0.0.1:0"}
			if r.unix {
				cfg.Listen = append(cfg.Listen, "unix://"+shortSocketPath(t))
			}
			h := newGreet()
			s := startServer(t, cfg, h)
			clients := openAndGreet(t, s.Addrs(), r.conns, 64)
			waitFor(t, "every connection closed", func() bool {
				st := s.Stats()
				return st.TotalConns == uint64(r.conns) && st.CurrConns == 0
			})
			events := rec.Events()
			if err := checkExactlyOnce(events, clients); err != nil {
				t.Error(err)
			}
			if err := checkRoundRobin(events, r.n); err != nil {
				t.Error(err)
			}
			if err := checkFIFO(events); err != nil {
				t.Error(err)
			}
			h.mu.Lock()
			for id, n := range h.opens {
				if n != 1 || h.closes[id] != 1 {
					t.Errorf("P7: conn %d: OnOpen %d times, OnClose %d times (want 1 each)", id, n, h.closes[id])
				}
			}
			h.mu.Unlock()
			st := s.Stats()
			for w, ws := range st.Workers {
				want := uint64(r.conns / r.n)
				if w < r.conns%r.n {
					want++
				}
				if ws.Dispatched != want || ws.TotalConns != want {
					t.Errorf("P2: worker %d dispatched %d, registered %d; want %d each", w, ws.Dispatched, ws.TotalConns, want)
				}
			}
		})
		total += r.conns
	}
	t.Logf("%d connections in all", total)
}

// shortSocketPath returns a unix socket path under a fresh directory that is
// removed after the test; t.TempDir's paths can exceed sun_path's 108 bytes.
func shortSocketPath(t testing.TB) string {
	dir, err := os.MkdirTemp("", "ho")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

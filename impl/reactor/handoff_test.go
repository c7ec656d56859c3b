package reactor_test

import (
	"fmt"
	"testing"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// TestHandoffUnderLoad checks P1 exactly-once, P2 round-robin and P3
// per-worker FIFO (spec/SPEC.md) from the trace of a loaded server, with
// model.CheckTrace: 64 client goroutines, for every notify × wake-up
// combination and N = 1, 2, 3, 7. The default combination (pipe, per-conn)
// carries the full 5,000 connections at N = 2; the others fewer, to keep the
// run short.
func TestHandoffUnderLoad(t *testing.T) {
	type run struct {
		notify   reactor.Notify
		wakeup   reactor.Wakeup
		n, conns int
		// acceptors > 1 binds the TCP address once per Acceptor with
		// SO_REUSEPORT; unix adds a unix socket listener.
		acceptors int
		unix      bool
	}
	var runs []run
	for _, nt := range []reactor.Notify{reactor.NotifyPipe, reactor.NotifyEventfd} {
		for _, wk := range []reactor.Wakeup{reactor.WakeupPerConn, reactor.WakeupCoalesced} {
			for _, n := range []int{1, 2, 3, 7} {
				conns := 500
				if nt == reactor.NotifyPipe && wk == reactor.WakeupPerConn && n == 2 {
					conns = 5000
				}
				runs = append(runs, run{notify: nt, wakeup: wk, n: n, conns: conns})
			}
		}
	}
	runs = append(runs,
		run{notify: reactor.NotifyPipe, wakeup: reactor.WakeupPerConn, n: 3, conns: 400, acceptors: 2, unix: true},
		run{notify: reactor.NotifyEventfd, wakeup: reactor.WakeupCoalesced, n: 7, conns: 400, acceptors: 3, unix: true})
	total := 0
	for _, r := range runs {
		name := fmt.Sprintf("%s/%s/N=%d/conns=%d", r.notify, r.wakeup, r.n, r.conns)
		if r.acceptors > 1 {
			name += fmt.Sprintf("/acceptors=%d+unix", r.acceptors)
		}
		t.Run(name, func(t *testing.T) {
			rec := model.NewTrace(8 * r.conns)
			cfg := reactor.Config{Workers: r.n, Notify: r.notify, Wakeup: r.wakeup, Acceptors: r.acceptors, Trace: rec.Record}
			cfg.Listen = []string{"tcp://127.0.0.1:0"}
			if r.unix {
				cfg.Listen = append(cfg.Listen, "unix://"+reactortest.SocketPath(t))
			}
			h := reactortest.NewCounter(0)
			s := reactortest.Serve(t, cfg, h)
			clients, err := reactortest.OpenAndGreet(s.Addrs(), r.conns, 64)
			if err != nil {
				t.Fatal(err)
			}
			reactortest.WaitFor(t, "every connection closed", func() bool {
				st := s.Stats()
				return st.TotalConns == uint64(r.conns) && st.CurrConns == 0
			})
			check := model.TraceCheck{Workers: r.n, RoundRobin: true, Closed: true, Clients: clients}
			if err := model.CheckTrace(rec.Events(), check); err != nil {
				t.Error(err)
			}
			if _, err := h.OnceEach(); err != nil {
				t.Error(err)
			}
			for w, ws := range s.Stats().Workers {
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

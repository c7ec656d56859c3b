package reactor_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoffd/handoff/impl/reactor"
	"github.com/handoffd/handoff/impl/reactor/reactortest"
	"github.com/handoffd/handoff/model"
)

// This file replays traces of the running reactor through the model
// (spec/DESIGN.md §4, trace replay): every event the reactor emits must be a
// step the model of the same design (model.DesignOf) can take, and the
// model's final per-worker counts must equal the reactor's Stats.

// handoff is one hand-off design the reactor runs: the Config that selects
// it and the model design of the same name.
type handoff struct {
	notify reactor.Notify
	wakeup reactor.Wakeup
	design model.Design
}

// handoffs lists the hand-off designs of the backend under test
// (reactortest.IO): every notify × wake-up of epoll's, or io_uring's one,
// msgring, whatever the notify and wake-up.
func handoffs(t *testing.T) []handoff {
	t.Helper()
	var out []handoff
	for _, nt := range []reactor.Notify{reactor.NotifyPipe, reactor.NotifyEventfd} {
		for _, wk := range []reactor.Wakeup{reactor.WakeupPerConn, reactor.WakeupCoalesced} {
			name := string(nt)
			if reactortest.IO() == reactor.IOUring {
				name = "msgring"
			}
			d, err := model.DesignOf(name, string(wk))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, handoff{nt, wk, d})
			if name == "msgring" {
				return out
			}
		}
	}
	return out
}

// awaitQuiet waits up to d until every one of conns connections was
// registered and closed, so that the trace is complete.
func awaitQuiet(s *reactor.Server, conns int, d time.Duration) (reactor.Stats, error) {
	deadline := time.Now().Add(d)
	for {
		st := s.Stats()
		if st.TotalConns == uint64(conns) && st.CurrConns == 0 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("P4: not quiet after %v: %d of %d registered, %d still open", d, st.TotalConns, conns, st.CurrConns)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// runAndReplay serves cfg to total connects from clients goroutines and
// replays the trace through design. A run that does not finish (a client
// error, a connection never registered: a lost wake-up) is still replayed,
// since the model's refusal says where the run went wrong.
func runAndReplay(t *testing.T, cfg reactor.Config, design model.Design, total, clients int) ([]model.Served, []model.Event, reactor.Stats) {
	t.Helper()
	log := model.NewTrace(8 * total)
	cfg.Trace = log.Record
	s := reactortest.Serve(t, cfg, reactortest.Greeter{})
	got, runErr := reactortest.OpenAndGreet(s.Addrs(), total, clients)
	wait := 10 * time.Second
	if runErr != nil {
		wait = time.Second
	}
	st, quietErr := awaitQuiet(s, total, wait)
	events := log.Events()
	replayErr := replayAgrees(design, cfg.Workers, max(1, cfg.Acceptors), events, st)
	switch {
	case runErr != nil || quietErr != nil:
		t.Fatalf("run: %v; %v; replay of the %d events so far: %v", runErr, quietErr, len(events), replayErr)
	case replayErr != nil:
		t.Fatal(replayErr)
	}
	return got, events, st
}

// replayAgrees replays events through design d and checks that the model
// accepted every event and ends where the reactor did: the same per-worker
// dispatch and registration counts as st, every queue empty, and every
// registered connection closed by its worker.
func replayAgrees(d model.Design, n, acceptors int, events []model.Event, st reactor.Stats) error {
	name := d.Name
	res, err := model.Replay(d, n, acceptors, events)
	if err != nil {
		return err
	}
	if res.Refused != nil {
		return fmt.Errorf("%s: %v\nmodel state before it:\n  %s\ntrace around it:\n%s",
			name, res.Refused, strings.Join(res.Describe(res.Refused.State), "\n  "), around(events, res.Refused.Index))
	}
	closes := make([]uint64, n)
	for _, e := range events {
		if e.Kind == model.Close {
			closes[e.Worker]++
		}
	}
	reg, disp := res.Registered(), res.Dispatched()
	for w, ws := range st.Workers {
		if uint64(reg[w]) != ws.TotalConns || uint64(disp[w]) != ws.Dispatched || closes[w] != ws.TotalConns {
			return fmt.Errorf("%s: worker %d: model dispatched %d, registered %d, trace closed %d; Stats dispatched %d, registered %d",
				name, w, disp[w], reg[w], closes[w], ws.Dispatched, ws.TotalConns)
		}
		if q := len(res.Final.Workers[w].Queue); q != 0 || ws.QueueLen != 0 {
			return fmt.Errorf("%s: worker %d: model queue holds %d, Stats.QueueLen %d, want 0 once quiet", name, w, q, ws.QueueLen)
		}
	}
	return nil
}

// around renders the events near index i.
func around(events []model.Event, i int) string {
	var b strings.Builder
	for k := max(0, i-8); k < min(len(events), i+3); k++ {
		mark := "   "
		if k == i {
			mark = ">> "
		}
		fmt.Fprintf(&b, "%s%5d %v\n", mark, k, events[k])
	}
	return b.String()
}

// TestTraceReplay runs the reactor under concurrent loopback clients for
// every notify × wake-up combination, N = 1..4 and 1 to 3 Acceptors, and
// replays each trace
// through the model design of the same name: every event must be accepted
// (the reactor is a behaviour of the model, so P1–P4 as checked by the
// model carry over), and the model's final counts must equal Stats.
func TestTraceReplay(t *testing.T) {
	conns := 300
	if testing.Short() {
		conns = 200
	}
	for _, ho := range handoffs(t) {
		nt, wk, design := ho.notify, ho.wakeup, ho.design
		{
			// Sequential, so that go test -failfast (make mutants) stops at
			// the first run that fails. N = 1..4 behind one Acceptor, then
			// N = 3 behind 2 and 3 Acceptors sharing the counter (SO_REUSEPORT),
			// whose pushes may land out of number order.
			for _, size := range []struct{ n, acceptors int }{{1, 1}, {2, 1}, {3, 1}, {4, 1}, {3, 2}, {3, 3}} {
				name := fmt.Sprintf("%s/%s=%s/N=%d", nt, wk, design.Name, size.n)
				if size.acceptors > 1 {
					name += fmt.Sprintf("/acceptors=%d", size.acceptors)
				}
				t.Run(name, func(t *testing.T) {
					cfg := reactor.Config{Workers: size.n, Acceptors: size.acceptors, Notify: nt, Wakeup: wk}
					clients, events, _ := runAndReplay(t, cfg, design, conns, 32)
					// Each client was served by the worker that registered
					// its connection in the trace.
					regBy := map[int64]int{}
					for _, e := range events {
						if e.Kind == model.Register {
							regBy[e.Conn] = e.Worker
						}
					}
					for _, g := range clients {
						if w, ok := regBy[g.Conn]; !ok || w != g.Worker {
							t.Fatalf("client served by worker %d as conn %d; trace registered it on worker %d (%v)", g.Worker, g.Conn, w, ok)
						}
					}
				})
			}
		}
	}
}

// TestTraceReplayRefusesCorruptTraces records one real trace and corrupts it
// one way at a time: the replay must refuse each corrupted copy, or the
// check that accepts the real traces above proves nothing (spec/DESIGN.md §4).
func TestTraceReplayRefusesCorruptTraces(t *testing.T) {
	const n, conns = 3, 60
	hs := handoffs(t)
	if len(hs) == 4 {
		hs = []handoff{hs[0], hs[3]} // pipe per-conn, eventfd coalesced
	}
	for _, c := range hs {
		design := c.design
		t.Run(design.Name, func(t *testing.T) {
			_, good, st := runAndReplay(t, reactor.Config{Workers: n, Notify: c.notify, Wakeup: c.wakeup}, design, conns, 8)
			for _, m := range corruptions(good, n) {
				if err := replayAgrees(design, n, 1, m.events, st); err == nil {
					t.Errorf("%s: the replay accepted a trace with %s", design.Name, m.what)
				} else {
					t.Logf("%s: refused (%s): %s", m.what, design.Name, firstLine(err.Error()))
				}
			}
		})
	}
}

// corruption is a real trace with one seeded defect.
type corruption struct {
	what   string
	events []model.Event
}

// corruptions seeds one defect at a time into good, a trace of n workers.
func corruptions(good []model.Event, n int) []corruption {
	find := func(from int, ok func(model.Event) bool) int {
		for i := from; i < len(good); i++ {
			if ok(good[i]) {
				return i
			}
		}
		return -1
	}
	var out []corruption
	add := func(what string, ev []model.Event) { out = append(out, corruption{what, ev}) }

	// P3: worker 0's first two Pops swapped (it pops c3 before c0).
	p1 := find(0, func(e model.Event) bool { return e.Kind == model.Pop && e.Worker == 0 })
	p2 := find(p1+1, func(e model.Event) bool { return e.Kind == model.Pop && e.Worker == 0 })
	ev := slices.Clone(good)
	ev[p1].Conn, ev[p2].Conn = ev[p2].Conn, ev[p1].Conn
	add("two pops of worker 0 swapped", ev)

	// P2: the second connection dispatched to the worker after its own.
	d := find(0, func(e model.Event) bool { return e.Kind == model.Dispatch && e.Conn == 1 })
	ev = slices.Clone(good)
	ev[d].Worker = (ev[d].Worker + 1) % n
	add("a dispatch to the wrong worker", ev)

	// P4: a token never written (the first Notify dropped); msgring's
	// token is its post, the Dispatch.
	i := find(0, func(e model.Event) bool { return e.Kind == model.Notify })
	if i < 0 {
		i = find(0, func(e model.Event) bool { return e.Kind == model.Dispatch })
	}
	add("a notify dropped", slices.Delete(slices.Clone(good), i, i+1))

	// P1: a connection registered twice.
	i = find(0, func(e model.Event) bool { return e.Kind == model.Register })
	add("a register repeated", slices.Insert(slices.Clone(good), i+1, good[i]))

	// P1: a connection closed by a worker that did not register it.
	i = find(0, func(e model.Event) bool { return e.Kind == model.Close })
	ev = slices.Clone(good)
	ev[i].Worker = (ev[i].Worker + 1) % n
	add("a close by the wrong worker", ev)

	// Stats: the model must end where the reactor did; a trace cut before
	// the last registration ends one connection short.
	last := -1
	for i, e := range good {
		if e.Kind == model.Register {
			last = i
		}
	}
	add("the trace cut before its last register", slices.Clone(good[:last]))
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

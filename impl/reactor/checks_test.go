package reactor

import (
	"fmt"
	"slices"
	"testing"

	"github.com/handoffd/handoff/model"
)

// This file holds the trace checkers the load tests assert with, and shows
// each of them refuting a seeded wrong trace: a checker that cannot fail
// proves nothing (DESIGN.md §4).

// served is what a client learned from its greeting.
type served struct {
	id     uint64
	worker int
}

// checkExactlyOnce checks P1 exactly-once (spec/SPEC.md): the Accept
// numbers are dense 0..M-1; every accepted connection is dispatched, popped
// and registered exactly once, all by one worker; nothing unaccepted is
// registered; and every client was served by the worker that registered its
// connection, no two clients by the same connection.
func checkExactlyOnce(events []model.Event, clients []served) error {
	type life struct{ accept, dispatch, pop, register, worker int }
	conns := map[int64]*life{}
	get := func(c int64) *life {
		l := conns[c]
		if l == nil {
			l = &life{worker: -1}
			conns[c] = l
		}
		return l
	}
	for _, e := range events {
		switch e.Kind {
		case model.Accept:
			get(e.Conn).accept++
		case model.Dispatch:
			l := get(e.Conn)
			l.dispatch++
			l.worker = e.Worker
		case model.Pop, model.Register:
			l := get(e.Conn)
			if l.worker != e.Worker {
				return fmt.Errorf("P1: %v by worker %d, but conn %d was dispatched to worker %d", e, e.Worker, e.Conn, l.worker)
			}
			if e.Kind == model.Pop {
				l.pop++
			} else {
				l.register++
			}
		}
	}
	for c := int64(0); c < int64(len(conns)); c++ {
		l := conns[c]
		if l == nil {
			return fmt.Errorf("P1: accept numbers not dense: conn %d missing of %d", c, len(conns))
		}
		if l.accept != 1 || l.dispatch != 1 || l.pop != 1 || l.register != 1 {
			return fmt.Errorf("P1: conn %d: accepted %d, dispatched %d, popped %d, registered %d times (want 1 each)",
				c, l.accept, l.dispatch, l.pop, l.register)
		}
	}
	if len(clients) != len(conns) {
		return fmt.Errorf("P1: %d clients served, %d connections accepted", len(clients), len(conns))
	}
	seen := map[uint64]bool{}
	for _, cl := range clients {
		l := conns[int64(cl.id)]
		if l == nil {
			return fmt.Errorf("P1: a client was served by conn %d, which was never accepted", cl.id)
		}
		if seen[cl.id] {
			return fmt.Errorf("P1: two clients were served by conn %d", cl.id)
		}
		seen[cl.id] = true
		if l.worker != cl.worker {
			return fmt.Errorf("P1: conn %d's client was served by worker %d, registered by worker %d", cl.id, cl.worker, l.worker)
		}
	}
	return nil
}

// checkRoundRobin checks P2 round-robin (spec/SPEC.md): the k-th accepted
// connection is dispatched to worker k mod n.
func checkRoundRobin(events []model.Event, n int) error {
	for _, e := range events {
		if e.Kind == model.Dispatch && int64(e.Worker) != e.Conn%int64(n) {
			return fmt.Errorf("P2: %v, want worker %d = %d mod %d", e, e.Conn%int64(n), e.Conn, n)
		}
	}
	return nil
}

// checkFIFO checks P3 per-worker FIFO (spec/SPEC.md): each worker registers
// its connections in the order they were dispatched to it (Dispatch is
// recorded under the queue lock, so its trace order is the push order).
func checkFIFO(events []model.Event) error {
	dispatched := map[int][]int64{}
	registered := map[int][]int64{}
	for _, e := range events {
		switch e.Kind {
		case model.Dispatch:
			dispatched[e.Worker] = append(dispatched[e.Worker], e.Conn)
		case model.Register:
			registered[e.Worker] = append(registered[e.Worker], e.Conn)
		}
	}
	for w, d := range dispatched {
		r := registered[w]
		if len(r) > len(d) || !slices.Equal(d[:len(r)], r) {
			return fmt.Errorf("P3: worker %d dispatched %v but registered %v", w, head(d), head(r))
		}
	}
	return nil
}

func head(s []int64) []int64 { return s[:min(len(s), 12)] }

// TestCheckersRefuteSeededTraces records a real run, checks it passes, then
// seeds one wrong step at a time and requires the matching checker to refuse
// it.
func TestCheckersRefuteSeededTraces(t *testing.T) {
	const n, conns = 3, 12
	rec := &model.Trace{}
	s := startServer(t, Config{Workers: n, Trace: rec.Record}, newGreet())
	clients := openAndGreet(t, s.Addrs(), conns, 4)
	waitFor(t, "every registration", func() bool { return s.Stats().TotalConns == conns })
	good := rec.Events()
	for name, err := range map[string]error{"P1": checkExactlyOnce(good, clients), "P2": checkRoundRobin(good, n), "P3": checkFIFO(good)} {
		if err != nil {
			t.Fatalf("%s refused the real trace: %v", name, err)
		}
	}

	indexOf := func(ev []model.Event, k model.Kind, c int64) int {
		return slices.IndexFunc(ev, func(e model.Event) bool { return e.Kind == k && e.Conn == c })
	}
	clone := func() []model.Event { return slices.Clone(good) }

	// P3: worker 0 registers conn 3 before conn 0.
	swapped := clone()
	i, j := indexOf(swapped, model.Register, 0), indexOf(swapped, model.Register, 3)
	swapped[i].Conn, swapped[j].Conn = swapped[j].Conn, swapped[i].Conn
	if err := checkFIFO(swapped); err == nil {
		t.Error("P3 checker accepted registrations out of dispatch order")
	}

	// P2: conn 4 dispatched to worker 2 instead of 1 (and served there).
	skewed := clone()
	for k := range skewed {
		if skewed[k].Conn == 4 && skewed[k].Worker >= 0 {
			skewed[k].Worker = 2
		}
	}
	if err := checkRoundRobin(skewed, n); err == nil {
		t.Error("P2 checker accepted conn 4 on worker 2 with N=3")
	}
	if err := checkExactlyOnce(skewed, clients); err == nil {
		t.Error("P1 checker accepted conn 4's client reporting worker 1 while worker 2 registered it")
	}

	// P1: a connection registered twice, one never registered, one client
	// claiming the wrong worker.
	twice := append(clone(), good[indexOf(good, model.Register, 5)])
	if err := checkExactlyOnce(twice, clients); err == nil {
		t.Error("P1 checker accepted a double registration")
	}
	lost := slices.Delete(clone(), indexOf(good, model.Register, 7), indexOf(good, model.Register, 7)+1)
	if err := checkExactlyOnce(lost, clients); err == nil {
		t.Error("P1 checker accepted a lost registration")
	}
	liar := slices.Clone(clients)
	liar[0].worker = (liar[0].worker + 1) % n
	if err := checkExactlyOnce(good, liar); err == nil {
		t.Error("P1 checker accepted a client served by a worker that did not register it")
	}
}

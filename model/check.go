package model

import (
	"fmt"
	"slices"
)

// Served is what a client learned of its connection from the server: its
// accept sequence number and the Worker that served it.
type Served struct {
	Conn   int64
	Worker int
}

// TraceCheck says what CheckTrace requires beyond P1 and P3.
type TraceCheck struct {
	// Workers is the number of Workers. RoundRobin asks for P2: connection
	// k dispatched to Worker k mod Workers.
	Workers    int
	RoundRobin bool
	// Closed asks that every connection was closed once too, by the Worker
	// that registered it: the trace of a run whose clients all left.
	Closed bool
	// Clients, when not nil, are what the clients were told: each accepted
	// connection must have served exactly one of them, from the Worker
	// that registered it.
	Clients []Served
}

// CheckTrace checks a recorded trace of a finished run, one in which every
// accepted connection has been registered, and returns the first violation,
// named by its property:
//
//   - P1 exactly-once: the Accept numbers are dense, 0..M-1; each connection
//     is accepted, dispatched, popped and registered exactly once, all by one
//     Worker; nothing unaccepted appears; and, given Clients, each connection
//     served one client, from its Worker.
//   - P2 round-robin, when asked: connection k is dispatched to Worker k mod N.
//   - P3 per-worker FIFO: each Worker registers its connections in the order
//     they were dispatched to it (the reactor records Dispatch under the
//     queue's lock, so trace order is push order).
//
// Replay says whether a trace is a behaviour of a design, step by step;
// CheckTrace says which property a trace breaks, which is what a test that
// records a run wants to report.
func CheckTrace(events []Event, c TraceCheck) error {
	type life struct {
		accept, dispatch, pop, register, close int
		// worker is the Worker the connection was dispatched to, -1 if none.
		worker int
	}
	conns := map[int64]*life{}
	dispatched := map[int][]int64{}
	registered := map[int][]int64{}
	var after []Event
	for _, e := range events {
		if e.Conn < 0 {
			continue
		}
		l := conns[e.Conn]
		if l == nil {
			l = &life{worker: -1}
			conns[e.Conn] = l
		}
		switch e.Kind {
		case Accept:
			l.accept++
		case Dispatch:
			l.dispatch++
			l.worker = e.Worker
			dispatched[e.Worker] = append(dispatched[e.Worker], e.Conn)
		case Pop:
			l.pop++
			after = append(after, e)
		case Register:
			l.register++
			registered[e.Worker] = append(registered[e.Worker], e.Conn)
			after = append(after, e)
		case Close:
			l.close++
			after = append(after, e)
		}
	}
	for _, e := range after {
		if l := conns[e.Conn]; l.worker != e.Worker {
			return fmt.Errorf("P1 exactly-once: %v by worker %d, but conn %d was dispatched to worker %d", e, e.Worker, e.Conn, l.worker)
		}
	}
	for n := int64(0); n < int64(len(conns)); n++ {
		l := conns[n]
		if l == nil {
			return fmt.Errorf("P1 exactly-once: accept numbers not dense: conn %d missing of %d", n, len(conns))
		}
		if l.accept != 1 || l.dispatch != 1 || l.pop != 1 || l.register != 1 || (c.Closed && l.close != 1) {
			return fmt.Errorf("P1 exactly-once: conn %d: accepted %d, dispatched %d, popped %d, registered %d, closed %d times (want 1 each)",
				n, l.accept, l.dispatch, l.pop, l.register, l.close)
		}
		if c.RoundRobin && c.Workers > 0 && int64(l.worker) != n%int64(c.Workers) {
			return fmt.Errorf("P2 round-robin: conn %d dispatched to worker %d, want %d = %d mod %d", n, l.worker, n%int64(c.Workers), n, c.Workers)
		}
	}
	for w, d := range dispatched {
		if r := registered[w]; !slices.Equal(d, r) {
			return fmt.Errorf("P3 per-worker FIFO: worker %d dispatched %v but registered %v", w, head(d), head(r))
		}
	}
	if c.Clients == nil {
		return nil
	}
	if len(c.Clients) != len(conns) {
		return fmt.Errorf("P1 exactly-once: %d clients served, %d connections accepted", len(c.Clients), len(conns))
	}
	seen := map[int64]bool{}
	for _, cl := range c.Clients {
		l := conns[cl.Conn]
		switch {
		case l == nil:
			return fmt.Errorf("P1 exactly-once: a client was served by conn %d, which was never accepted", cl.Conn)
		case seen[cl.Conn]:
			return fmt.Errorf("P1 exactly-once: two clients were served by conn %d", cl.Conn)
		case l.worker != cl.Worker:
			return fmt.Errorf("P1 exactly-once: conn %d's client was served by worker %d, registered by worker %d", cl.Conn, cl.Worker, l.worker)
		}
		seen[cl.Conn] = true
	}
	return nil
}

// head is the start of a long list, for an error message.
func head(s []int64) []int64 { return s[:min(len(s), 12)] }

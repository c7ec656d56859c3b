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
	// MaxOutput is the server's Config.MaxOutput, for P9's bound (no read
	// while that much output is pending); 0 leaves it unchecked.
	MaxOutput int
	// Finished says the run is over (as Done in the trace does): every task
	// submitted must have been run or dropped, no kick owed (P8).
	Finished bool
}

// CheckTrace checks a recorded trace of a finished run, one in which every
// accepted connection has been registered, and returns the first violation,
// named by its property:
//
//   - P1 exactly-once: the Accept numbers are dense, 0..M-1; each connection
//     is accepted, dispatched, popped and registered exactly once, all by one
//     Worker, but for one dropped when epoll_ctl ADD failed (popped, not
//     registered) and one still queued when the server stopped (neither:
//     P7 says it must be closed); nothing unaccepted appears; and, given
//     Clients, each connection served one client, from its Worker.
//   - P2 round-robin, when asked: connection k is dispatched to Worker k mod N.
//   - P3 per-worker FIFO: each Worker registers its connections in the order
//     they were dispatched to it (the reactor records Dispatch under the
//     queue's lock, so trace order is push order).
//   - P5–P10, as far as the trace's lifecycle events show them (the rules
//     of lifeCheck, which ReplayWith applies too): fds closed once and
//     given again only after Close; generations, events and tasks that reach
//     only their own connection; every connection closed and every fd
//     closed at Done; every task submitted run or dropped and no kick lost;
//     output sent complete before a clean close, and no read at MaxOutput;
//     input offered exactly as read.
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
	dropped := map[int64]Cause{}
	stopped := false
	var after []Event
	for _, e := range events {
		if e.Kind == Stop {
			stopped = true
		}
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
		case Drop:
			dropped[e.Conn] = e.Why
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
		pop, register, closes := 1, 1, 1
		switch why := dropped[n]; {
		case why == CauseEpoll: // popped, and closed when epoll_ctl ADD failed
			register, closes = 0, 0
		case why != CauseNone || stopped && l.pop == 0: // still queued when the server stopped: P7's to close
			pop, register, closes = 0, 0, 0
		}
		if !c.Closed {
			closes = l.close
		}
		if l.accept != 1 || l.dispatch != 1 || l.pop != pop || l.register != register || l.close != closes {
			return fmt.Errorf("P1 exactly-once: conn %d: accepted %d, dispatched %d, popped %d, registered %d, closed %d times (want 1, 1, %d, %d, %d)",
				n, l.accept, l.dispatch, l.pop, l.register, l.close, pop, register, closes)
		}
		if c.RoundRobin && c.Workers > 0 && int64(l.worker) != n%int64(c.Workers) {
			return fmt.Errorf("P2 round-robin: conn %d dispatched to worker %d, want %d = %d mod %d", n, l.worker, n%int64(c.Workers), n, c.Workers)
		}
	}
	for w, d := range dispatched {
		d = slices.DeleteFunc(slices.Clone(d), func(n int64) bool { return dropped[n] != CauseNone || stopped && conns[n].pop == 0 })
		if r := registered[w]; !slices.Equal(d, r) {
			return fmt.Errorf("P3 per-worker FIFO: worker %d dispatched %v but registered %v", w, head(d), head(r))
		}
	}
	if err := checkLife(events, c); err != nil {
		return err
	}
	if c.Clients == nil {
		return nil
	}
	// A connection dropped before Register (epoll_ctl ADD refused it, or
	// it was still queued at the stop) served no client.
	if served := len(conns) - len(dropped); len(c.Clients) != served {
		return fmt.Errorf("P1 exactly-once: %d clients served, %d connections accepted and registered", len(c.Clients), served)
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

// checkLife runs the lifecycle's rules over events, and a finished run's
// end.
func checkLife(events []Event, c TraceCheck) error {
	l := newLifeCheck(c.MaxOutput)
	for i, e := range events {
		if err := l.step(e); err != nil {
			return fmt.Errorf("%w (event %d, %s)", err, i, e)
		}
	}
	if c.Finished {
		return l.finish()
	}
	return nil
}

// head is the start of a long list, for an error message.
func head(s []int64) []int64 { return s[:min(len(s), 12)] }

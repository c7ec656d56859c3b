package model

import "fmt"

// acceptorSteps emits the step Acceptor a can take in s: accept an fd,
// dispatch it to the next Worker round-robin (pick + push under the queue's
// lock), then write that Worker's token. The seeded bugs reorder or split
// these steps.
func (m *Machine) acceptorSteps(s *State, a int, in *Event, emit func(Transition)) {
	ac := s.Acceptors[a]
	nw := len(s.Workers)
	ev := func(k Kind, w int, c int64) Event { return Event{Kind: k, Acceptor: a, Worker: w, Conn: c} }
	switch ac.PC {
	case AIdle:
		c := s.Next
		if in != nil && in.Kind == Accept {
			c = in.Conn
		} else if m.b.Conns > 0 && s.Next >= int64(m.b.Conns) {
			return
		}
		n := s.clone()
		n.Acceptors[a] = Acceptor{PC: AHold, Conn: c, Worker: -1}
		n.Next++
		if n.Conns != nil {
			n.Conns = append(n.Conns, ConnGhost{Worker: -1, HandedTo: -1})
		}
		m.emit(emit, Step{Event: ev(Accept, -1, c)}, n, nil)

	case AHold:
		w := s.RR
		switch {
		case m.d.notifyBeforePush:
			m.notify(s, a, w, true, emit)
		case m.d.racyRR:
			n := s.clone()
			n.Acceptors[a].PC = APicked
			n.Acceptors[a].Worker = w
			m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Part: PartReadRR, Note: fmt.Sprintf("read rr=%d", w)}, n, nil)
		case m.d.unlockedQueue:
			n := s.clone()
			n.RR = (w + 1) % nw
			n.Acceptors[a].PC = APushRead
			n.Acceptors[a].Worker = w
			n.Acceptors[a].Stale = s.Workers[w].Queue
			m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Part: PartReadQueue,
				Note: "read queue " + connList(s.Workers[w].Queue)}, n, nil)
		default:
			n := s.clone()
			n.RR = (w + 1) % nw
			v := m.push(&n, w, ac.Conn, pushed(s.Workers[w].Queue, ac.Conn))
			n.Acceptors[a].PC = ANotify
			n.Acceptors[a].Worker = w
			m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn)}, n, v)
		}

	case APicked:
		w := ac.Worker
		n := s.clone()
		n.RR = (w + 1) % nw
		v := m.push(&n, w, ac.Conn, pushed(s.Workers[w].Queue, ac.Conn))
		n.Acceptors[a].PC = ANotify
		m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Note: fmt.Sprintf("write rr=%d", n.RR)}, n, v)

	case APushRead:
		w := ac.Worker
		n := s.clone()
		q := pushed(ac.Stale, ac.Conn)
		v := m.push(&n, w, ac.Conn, q)
		n.Acceptors[a].PC = ANotify
		n.Acceptors[a].Stale = nil
		m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Note: "write queue " + connList(q)}, n, v)

	case ANotify:
		m.notify(s, a, ac.Worker, false, emit)

	case APush:
		w := ac.Worker
		n := s.clone()
		v := m.push(&n, w, ac.Conn, pushed(s.Workers[w].Queue, ac.Conn))
		n.Acceptors[a] = Acceptor{PC: AIdle, Conn: -1, Worker: -1}
		m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn)}, n, v)
	}
}

// push makes q, which holds c, Worker w's queue and records the dispatch; it
// returns the P2 violation if w is not the Worker round-robin wants.
func (m *Machine) push(n *State, w int, c int64, q []int64) *Violation {
	v := checkDispatch(n, w)
	wk := &n.Workers[w]
	if n.Conns != nil {
		n.Conns[c].Worker = w
		n.Conns[c].Ord = wk.Dispatched
	}
	wk.Dispatched++
	wk.Queue = q
	return v
}

// notify emits Acceptor a's token write to Worker w. A full pipe blocks the
// write (no step) unless the design drops it; a coalesced Acceptor writes
// only when it flips the flag 0→1. Normally the Acceptor has pushed and is
// done with its fd; with pick (bug-notify-before-push) it picks w here,
// advances the counter, and pushes next.
func (m *Machine) notify(s *State, a, w int, pick bool, emit func(Transition)) {
	ev := Event{Kind: Notify, Acceptor: a, Worker: w, Conn: -1}
	n := s.clone()
	ac := &n.Acceptors[a]
	if pick {
		ac.PC, ac.Worker = APush, w
		n.RR = (w + 1) % len(s.Workers)
	} else {
		*ac = Acceptor{PC: AIdle, Conn: -1, Worker: -1}
	}
	wk := &n.Workers[w]
	note := ""
	switch {
	case m.d.coalesced && wk.Flag:
		m.emit(emit, Step{Event: ev, Part: PartNoToken, Note: "flag already set"}, n, nil)
		return
	case m.pipeFull(wk) && !m.d.dropOnFull:
		return
	case m.pipeFull(wk):
		note = "pipe full: EAGAIN ignored, token lost"
	default:
		wk.Tokens++
		wk.Flag = wk.Flag || m.d.coalesced
		if m.d.coalesced {
			note = "flag 0->1"
		}
	}
	m.emit(emit, Step{Event: ev, Note: note}, n, nil)
}

// emit finishes n and passes the transition on.
func (m *Machine) emit(emit func(Transition), st Step, n State, v *Violation) {
	m.finish(&n)
	emit(Transition{Step: st, Next: n, Violation: v})
}

package model

import "fmt"

// acceptorSteps emits the step Acceptor a can take in s: accept an fd and
// take its sequence number and its Worker from the shared counter in one
// atomic step (Accept: balancer.pick's atomic add), push it onto that
// Worker's queue under the lock (Dispatch), then write that Worker's token
// (Notify; coalesced: only after its compare-and-swap flipped the flag, a
// hidden step of its own). The Worker is fixed at Accept, so with several
// Acceptors the pushes may land out of number order while connection k
// still goes to Worker k mod N. The seeded bugs reorder or split these steps.
func (m *Machine) acceptorSteps(s *State, a int, in *Event, emit func(Transition)) {
	ac := s.Acceptors[a]
	ev := func(k Kind, w int, c int64) Event { return Event{Kind: k, Acceptor: a, Worker: w, Conn: c} }
	if m.d.Channel == Ring {
		m.kernelPost(s, a, emit) // the kernel's, whatever the Acceptor does
	}
	switch ac.PC {
	case AIdle:
		if m.d.Channel == Ring {
			m.resubmit(s, a, emit)
			if !m.multishot(s, a, emit) {
				return
			}
		}
		m.pick(s, a, in, emit)

	case APicked:
		n := s.clone()
		n.Seq = ac.Conn + 1
		note := fmt.Sprintf("write seq=%d", n.Seq)
		if m.lag {
			n.Acceptors[a].PC = AReserved
			m.emit(emit, Step{Event: ev(Accept, -1, ac.Conn), Part: PartPick, Note: note}, n, nil)
			return
		}
		v := m.accepted(&n, a, ac.Conn)
		m.emit(emit, Step{Event: ev(Accept, -1, ac.Conn), Note: note}, n, v)

	case AReserved:
		n := s.clone()
		v := m.accepted(&n, a, ac.Conn)
		m.emit(emit, Step{Event: ev(Accept, -1, ac.Conn)}, n, v)

	case AHold:
		w := ac.Worker
		switch {
		case m.d.Channel == Ring:
			m.submit(s, a, emit)
		case m.d.notifyBeforePush:
			m.notify(s, a, emit)
		case m.d.unlockedQueue:
			n := s.clone()
			n.Acceptors[a].PC = APushRead
			n.Acceptors[a].Stale = s.Workers[w].Queue
			m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Part: PartReadQueue,
				Note: "read queue " + connList(s.Workers[w].Queue)}, n, nil)
		default:
			n := s.clone()
			m.push(&n, w, ac.Conn, pushed(s.Workers[w].Queue, ac.Conn))
			n.Acceptors[a].PC = ANotify
			m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn)}, n, nil)
		}

	case APushRead:
		w := ac.Worker
		n := s.clone()
		q := pushed(ac.Stale, ac.Conn)
		m.push(&n, w, ac.Conn, q)
		n.Acceptors[a].PC = ANotify
		n.Acceptors[a].Stale = nil
		m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn), Note: "write queue " + connList(q)}, n, nil)

	case ANotify, AFlipped:
		m.notify(s, a, emit)

	case APush:
		w := ac.Worker
		n := s.clone()
		m.push(&n, w, ac.Conn, pushed(s.Workers[w].Queue, ac.Conn))
		n.Acceptors[a] = Acceptor{PC: AIdle, Conn: -1, Worker: -1}
		m.emit(emit, Step{Event: ev(Dispatch, w, ac.Conn)}, n, nil)
	}
}

// pick emits idle Acceptor a's Accept: it takes the number s.Seq and the
// Worker s.Seq mod N and advances the counter, in one step. In
// bug-racy-rr the read of the counter is a hidden step of its own and the
// write back is the Accept. With m.lag the Accept event is emitted after
// the pick, as the reactor does, so the pick is a hidden step (PartPick);
// Replay takes it only when the trace needs it (reserve).
func (m *Machine) pick(s *State, a int, in *Event, emit func(Transition)) {
	if m.b.Conns > 0 && s.Next+inFlight(s) >= int64(m.b.Conns) {
		return
	}
	c := s.Seq
	w := int(c % int64(len(s.Workers)))
	ev := Event{Kind: Accept, Acceptor: a, Worker: -1, Conn: c}
	if m.lazyPick() {
		m.reserve(s, a, in, emit)
		return
	}
	n := s.clone()
	switch {
	case m.d.racyRR:
		n.Acceptors[a] = s.Acceptors[a].at(APicked, c, w)
		m.emit(emit, Step{Event: ev, Part: PartReadSeq, Note: fmt.Sprintf("read seq=%d", c)}, n, nil)
	case m.lag:
		n.Seq++
		n.Acceptors[a] = s.Acceptors[a].at(AReserved, c, w)
		m.emit(emit, Step{Event: ev, Part: PartPick, Note: fmt.Sprintf("seq %d->%d", c, n.Seq)}, n, nil)
	default:
		n.Seq++
		v := m.accepted(&n, a, c)
		m.emit(emit, Step{Event: ev}, n, v)
	}
}

// inFlight counts the Acceptors that took an fd or a number whose Accept
// has not been taken yet.
func inFlight(s *State) int64 {
	k := int64(0)
	for _, ac := range s.Acceptors {
		if ac.PC == APicked || ac.PC == AReserved {
			k++
		}
	}
	return k
}

// lazyPick reports whether Replay takes a pick only when an Accept needs it
// (reserve) rather than as a hidden step whenever an Acceptor is idle.
func (m *Machine) lazyPick() bool { return m.replay && !m.d.racyRR }

// reserve emits idle Acceptor a's Accept of number in.Conn in Replay, in
// every way the picks before it can be placed. The reactor's Accept event
// follows balancer.pick, so the numbers s.Seq .. in.Conn-1 may already be
// taken by other Acceptors that have not emitted their Accept yet; each
// must be idle now (it picks in its accept loop) and becomes AReserved, its
// next event fixed. Placing those picks just before a's is no less general
// than taking them as hidden steps earlier: a pick touches only the
// counter, and the Acceptor does nothing else until its Accept. Without
// in, the Accept of s.Seq is emitted, as a step a refusal can list.
func (m *Machine) reserve(s *State, a int, in *Event, emit func(Transition)) {
	c := s.Seq
	if in != nil && in.Kind == Accept {
		c = in.Conn
	}
	var idle []int
	for i, o := range s.Acceptors {
		if i != a && o.PC == AIdle {
			idle = append(idle, i)
		}
	}
	if c < s.Seq || c-s.Seq > int64(len(idle)) {
		return
	}
	nw := int64(len(s.Workers))
	var place func(n State, g int64, free []int)
	place = func(n State, g int64, free []int) {
		if g == c {
			n.Seq = c + 1
			v := m.accepted(&n, a, c)
			m.emit(emit, Step{Event: Event{Kind: Accept, Acceptor: a, Worker: -1, Conn: c}}, n, v)
			return
		}
		for i, b := range free {
			x := n.clone()
			x.Acceptors[b] = x.Acceptors[b].at(AReserved, g, int(g%nw))
			rest := append(append([]int(nil), free[:i]...), free[i+1:]...)
			place(x, g+1, rest)
		}
	}
	place(s.clone(), s.Seq, idle)
}

// accepted makes Acceptor a hold connection c for Worker c mod N, counts
// the Accept and records its ghost; it returns the P2 violation if c is not
// the number round-robin wants for the connection accepted now.
func (m *Machine) accepted(n *State, a int, c int64) *Violation {
	v := checkAccept(n, c)
	n.Acceptors[a] = n.Acceptors[a].at(AHold, c, int(c%int64(len(n.Workers))))
	if n.Conns != nil {
		n.Conns = append(n.Conns, ConnGhost{Worker: -1, HandedTo: -1})
	}
	n.Next++
	return v
}

// push makes q, which holds c, Worker w's queue and records the dispatch.
func (m *Machine) push(n *State, w int, c int64, q []int64) {
	wk := &n.Workers[w]
	if n.Conns != nil {
		n.Conns[c].Worker = w
		n.Conns[c].Ord = wk.Dispatched
	}
	wk.Dispatched++
	wk.Queue = q
}

// notify emits Acceptor a's token write to the Worker it picked. A full
// pipe blocks the write (no step) unless the design drops it. Normally the
// Acceptor has pushed and is done with its fd; in bug-notify-before-push it
// has not, and pushes next. A coalesced Acceptor first tests the flag
// (flipFlag) and writes only after it flipped it.
func (m *Machine) notify(s *State, a int, emit func(Transition)) {
	if m.d.coalesced && s.Acceptors[a].PC == ANotify {
		m.flipFlag(s, a, emit)
		return
	}
	w := s.Acceptors[a].Worker
	ev := Event{Kind: Notify, Acceptor: a, Worker: w, Conn: -1}
	n := s.clone()
	ac := &n.Acceptors[a]
	if ac.PC == AHold {
		ac.PC = APush
	} else {
		*ac = Acceptor{PC: AIdle, Conn: -1, Worker: -1}
	}
	wk := &n.Workers[w]
	note := ""
	switch {
	case m.pipeFull(wk) && !m.d.dropOnFull:
		return
	case m.pipeFull(wk):
		note = "pipe full: EAGAIN ignored, token lost"
	default:
		wk.Tokens++
	}
	m.emit(emit, Step{Event: ev, Note: note}, n, nil)
}

// flipFlag emits coalesced Acceptor a's compare-and-swap of its Worker's
// flag from 0 to 1, a hidden step as in the reactor (worker.dispatch's
// wakeFlag.CompareAndSwap(0, 1)): if it finds the flag set, no token is
// written and the Acceptor is done [no-token]; if it flips it [flip], the
// Acceptor writes the token next (AFlipped), and that write is the Notify.
// The two are separate steps because the reactor's are: between them
// another Acceptor may find the flag set and go on to its next Accept
// before this Acceptor's Notify event.
//
// In Replay the Worker's flag clear may be deferred (lazyClear): a Worker in
// WClear has read its token and may or may not have cleared the flag, so
// both outcomes are offered, the flip after the clear. A no-token then puts
// the clear after this step, and with it the Worker's check for an empty
// queue: the queue, which holds this Acceptor's push, must be found empty
// again before the Worker may be back in epoll_wait (Worker.MayIdle).
func (m *Machine) flipFlag(s *State, a int, emit func(Transition)) {
	w := s.Acceptors[a].Worker
	ev := Event{Kind: Notify, Acceptor: a, Worker: w, Conn: -1}
	deferred := m.lazyClear() && s.Workers[w].PC == WClear
	if s.Workers[w].Flag {
		n := s.clone()
		n.Acceptors[a] = Acceptor{PC: AIdle, Conn: -1, Worker: -1}
		if deferred {
			n.Workers[w].MayIdle = false
		}
		m.emit(emit, Step{Event: ev, Part: PartNoToken, Note: "flag already set"}, n, nil)
	}
	if s.Workers[w].Flag && !deferred {
		return
	}
	n := s.clone()
	if deferred {
		m.clearNow(&n, w)
	}
	n.Workers[w].Flag = true
	n.Acceptors[a].PC = AFlipped
	m.emit(emit, Step{Event: ev, Part: PartFlip, Note: "flag 0->1"}, n, nil)
}

// emit finishes n and passes the transition on.
func (m *Machine) emit(emit func(Transition), st Step, n State, v *Violation) {
	m.finish(&n)
	emit(Transition{Step: st, Next: n, Violation: v})
}

// at returns a with its program counter, connection and Worker set and its
// msgring fields (the multishot accept's state, the MSG_RINGs submitted and
// to submit again) kept: they outlive the connection in hand.
func (a Acceptor) at(pc APC, c int64, w int) Acceptor {
	a.PC, a.Conn, a.Worker, a.Stale = pc, c, w, nil
	return a
}

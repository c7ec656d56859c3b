package model

import "fmt"

// workerSteps emits the step Worker w can take in s: read tokens from its
// notify channel (Wake), pop connections from its queue (Pop) and register
// each with its epoll set (Register). Per-token designs pop once per token
// read; draining designs pop until the queue is empty.
func (m *Machine) workerSteps(s *State, w int, in *Event, emit func(Transition)) {
	wk := s.Workers[w]
	ev := func(k Kind, c int64) Event { return Event{Kind: k, Acceptor: -1, Worker: w, Conn: c} }
	switch wk.PC {
	case WIdle:
		if m.d.Channel == Ring {
			m.enter(s, w, in, emit)
			return
		}
		m.wake(s, w, in, emit)

	case WPop:
		n := s.clone()
		nk := &n.Workers[w]
		switch {
		case len(wk.Queue) == 0:
			nk.Pending--
			if nk.Pending == 0 {
				nk.PC = WIdle
			}
			m.emit(emit, Step{Event: ev(Pop, -1), Part: PartEmpty, Note: "queue empty, token spent"}, n, nil)
		case m.d.unlockedQueue:
			nk.PC = WPopRead
			nk.Stale = wk.Queue
			m.emit(emit, Step{Event: ev(Pop, -1), Part: PartReadQueue, Note: "read queue " + connList(wk.Queue)}, n, nil)
		default:
			v := m.take(&n, w, wk.Queue)
			m.emit(emit, Step{Event: ev(Pop, wk.Queue[0])}, n, v)
		}

	case WPopRead:
		n := s.clone()
		v := m.take(&n, w, wk.Stale)
		n.Workers[w].Stale = nil
		m.emit(emit, Step{Event: ev(Pop, wk.Stale[0]), Note: "write queue " + connList(wk.Stale[1:])}, n, v)

	case WRegister:
		n := s.clone()
		nk := &n.Workers[w]
		v := checkRegister(&n, w, wk.Conn)
		if n.Conns != nil {
			n.Conns[wk.Conn].Registered = true
			nk.LastOrd = n.Conns[wk.Conn].Ord + 1
		}
		nk.Registered++
		nk.Conn = -1
		switch {
		case m.d.drain:
			nk.PC = WCheck
		case nk.Pending > 1:
			nk.Pending--
			nk.PC = WPop
		default:
			nk.Pending = 0
			nk.PC = WIdle
		}
		m.emit(emit, Step{Event: ev(Register, wk.Conn)}, n, v)

	case WClear, WClearAfter:
		if wk.PC == WClear && m.lazyClear() {
			return
		}
		n := s.clone()
		n.Workers[w].Flag = false
		n.Workers[w].PC = WCheck
		if wk.PC == WClearAfter {
			n.Workers[w].PC = WIdle
		}
		m.emit(emit, Step{Event: ev(Wake, -1), Part: PartClear, Note: "flag 1->0"}, n, nil)

	case WCheck:
		if m.d.Channel == Ring {
			m.reap(s, w, in, emit)
			return
		}
		if len(wk.Queue) > 0 {
			n := s.clone()
			v := m.take(&n, w, wk.Queue)
			m.emit(emit, Step{Event: ev(Pop, wk.Queue[0])}, n, v)
		} else if !m.foldIdle() {
			n := s.clone()
			n.Workers[w].PC = WIdle
			if m.d.clearAfterDrain {
				n.Workers[w].PC = WClearAfter
			}
			m.emit(emit, Step{Event: ev(Pop, -1), Part: PartEmpty, Note: "queue empty, drained"}, n, nil)
		}
		if wk.MayIdle {
			m.wake(s, w, in, emit)
		}
	}
}

// wake emits Worker w's read of its notify channel, if a token is pending.
// A pipe read takes up to 32 tokens, an eventfd read all of them. Replay
// accepts a read of fewer (in.N): the implementation emits Notify just
// before its write, so a read may miss tokens whose write is still under way.
func (m *Machine) wake(s *State, w int, in *Event, emit func(Transition)) {
	wk := s.Workers[w]
	most := wk.Tokens
	if m.d.Channel == Pipe {
		most = min(most, pipeRead)
	}
	if most == 0 {
		return
	}
	k, ok := wakeCount(in, most)
	if !ok {
		return
	}
	n := s.clone()
	nk := &n.Workers[w]
	nk.Tokens -= k
	nk.MayIdle = false
	note := fmt.Sprintf("read %d token(s)", k)
	switch {
	case m.d.drain && m.d.coalesced && !m.d.clearAfterDrain:
		nk.PC = WClear
	case m.d.drain:
		nk.PC = WCheck
	case m.d.popOne:
		nk.Pending = 1
		nk.PC = WPop
		note += ", will pop one"
	default:
		nk.Pending = k
		nk.PC = WPop
	}
	m.emit(emit, Step{Event: Event{Kind: Wake, Acceptor: -1, Worker: w, Conn: -1, N: k}, Note: note}, n, nil)
}

// wakeCount is the count a Wake takes when most are there to take: all of
// them, or in Replay the replayed event's count, 1 to most (ok false for
// any other).
func wakeCount(in *Event, most int) (k int, ok bool) {
	if in == nil || in.Kind != Wake {
		return most, true
	}
	return in.N, in.N >= 1 && in.N <= most
}

// take pops the head of q, Worker w's view of its queue, into the Worker's
// hand: the rest of q becomes the queue. It returns the P1 violation if the
// connection was handed out before.
func (m *Machine) take(n *State, w int, q []int64) *Violation {
	c := q[0]
	nk := &n.Workers[w]
	nk.Queue = q[1:]
	if len(nk.Queue) == 0 {
		nk.Queue = nil
	}
	nk.Conn = c
	nk.PC = WRegister
	if n.Conns == nil {
		return nil
	}
	g := &n.Conns[c]
	g.Handed++
	if g.HandedTo < 0 {
		g.HandedTo = w
	}
	return checkPop(n, w, c)
}

// connList renders a queue as "[c0 c2]".
func connList(q []int64) string {
	s := "["
	for i, c := range q {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("c%d", c)
	}
	return s + "]"
}

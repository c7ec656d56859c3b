package model

import "fmt"

// The msgring designs' own steps: the Acceptor's multishot accept, which
// the kernel may end, and its MSG_RING, which posts the connection into the
// picked Worker's completion queue; the Worker's wait in io_uring_enter,
// which moves what the kernel held back into the CQ, and its reap of the
// CQ. The Accept and the Register are the other designs'.

// maxEnds is the most times the kernel ends one Acceptor's multishot
// accept in a run the explorer enumerates. One end, at any point of any
// interleaving, is where a missing re-arm shows; a second would repeat the
// same steps from a state already reached.
const maxEnds = 1

// Hidden parts of the msgring steps.
const (
	// PartEnd: the kernel ends an Acceptor's multishot accept, posting its
	// last completion without IORING_CQE_F_MORE (EMFILE, ENFILE, its own CQ
	// full). No event: it is the kernel's.
	PartEnd = "multishot-end"
	// PartOverflow: a MSG_RING fails with EOVERFLOW, the Worker's CQ and
	// the kernel's overflow list full; nothing is posted (Dispatch).
	PartOverflow = "eoverflow"
)

// multishot emits idle Acceptor a's multishot steps and reports whether an
// Accept may complete now: the kernel ending the multishot accept while
// connections wait in the backlog (PartEnd), and, once ended, the
// Acceptor's re-arm, its multishot accept submitted again (PartRearm, the
// lifecycle's word for the listeners going back in), which bug-multishot-not-rearmed leaves
// out.
func (m *Machine) multishot(s *State, a int, emit func(Transition)) bool {
	ac := s.Acceptors[a]
	if ac.Disarmed {
		if !m.d.noRearm {
			n := s.clone()
			n.Acceptors[a].Disarmed = false
			m.emit(emit, Step{Event: Event{Kind: Accept, Acceptor: a, Worker: -1, Conn: -1}, Part: PartRearm,
				Note: "multishot accept submitted again"}, n, nil)
		}
		return false
	}
	if !m.replay && ac.Ends < maxEnds && s.Next+inFlight(s) < int64(m.b.Conns) {
		n := s.clone()
		n.Acceptors[a].Disarmed = true
		n.Acceptors[a].Ends++
		m.emit(emit, Step{Event: Event{Acceptor: -1, Worker: -1, Conn: -1}, Part: PartEnd,
			Note: fmt.Sprintf("the kernel ends acceptor %d's multishot accept (no IORING_CQE_F_MORE)", a)}, n, nil)
	}
	return true
}

// post emits Acceptor a's MSG_RING of the connection it holds to the
// Worker it picked: the kernel appends the completion to the Worker's CQ
// if the CQ has room and nothing is held back before it, else to the
// overflow list if that has room (Dispatch either way: the Worker will reap
// it, in order); else the MSG_RING fails with EOVERFLOW and the Acceptor,
// which reaps that result from its own ring, keeps the fd and submits again
// (ARetry). bug-msgring-ignore-full takes the failure as done.
func (m *Machine) post(s *State, a int, emit func(Transition)) {
	ac := s.Acceptors[a]
	w := ac.Worker
	wk := s.Workers[w]
	ev := Event{Kind: Dispatch, Acceptor: a, Worker: w, Conn: ac.Conn}
	n := s.clone()
	if len(wk.Queue) < m.pipeCap()+m.overflow() {
		m.push(&n, w, ac.Conn, pushed(wk.Queue, ac.Conn))
		note := ""
		if wk.CQ == len(wk.Queue) && wk.CQ < m.pipeCap() {
			n.Workers[w].CQ++
		} else {
			note = "CQ full: held back in the overflow list"
		}
		n.Acceptors[a] = Acceptor{PC: AIdle, Conn: -1, Worker: -1, Ends: ac.Ends}
		m.emit(emit, Step{Event: ev, Note: note}, n, nil)
		return
	}
	note := fmt.Sprintf("EOVERFLOW: worker %d's CQ and overflow list are full; c%d kept, to submit again", w, ac.Conn)
	n.Acceptors[a].PC = ARetry
	if m.d.ignoreFailedPost {
		note = fmt.Sprintf("EOVERFLOW ignored: c%d forgotten", ac.Conn)
		n.Acceptors[a] = Acceptor{PC: AIdle, Conn: -1, Worker: -1, Ends: ac.Ends}
	}
	m.emit(emit, Step{Event: ev, Part: PartOverflow, Note: note}, n, nil)
}

// enter emits idle Worker w's return from io_uring_enter, which waits for
// a completion: the kernel first moves what its overflow list holds into
// the CQ, as far as the CQ has room, and the Wake's count is what the CQ
// then holds.
func (m *Machine) enter(s *State, w int, emit func(Transition)) {
	wk := s.Workers[w]
	if len(wk.Queue) == 0 {
		return
	}
	n := s.clone()
	nk := &n.Workers[w]
	nk.CQ = min(len(wk.Queue), m.pipeCap())
	nk.PC = WCheck
	nk.MayIdle = false
	note := fmt.Sprintf("%d completion(s)", nk.CQ)
	if moved := nk.CQ - wk.CQ; moved > 0 && len(wk.Queue) > wk.CQ {
		note += fmt.Sprintf(", %d moved from the overflow list", min(moved, len(wk.Queue)-wk.CQ))
	}
	m.emit(emit, Step{Event: Event{Kind: Wake, Acceptor: -1, Worker: w, Conn: -1, N: nk.CQ}, Note: note}, n, nil)
}

// reap emits draining Worker w's next step: take the oldest completion
// in its CQ (Pop), or, with the CQ empty, go back into io_uring_enter
// (PartEmpty) whatever the overflow list holds, which only that call moves.
func (m *Machine) reap(s *State, w int, emit func(Transition)) {
	wk := s.Workers[w]
	n := s.clone()
	if wk.CQ == 0 {
		n.Workers[w].PC = WIdle
		m.emit(emit, Step{Event: Event{Kind: Pop, Acceptor: -1, Worker: w, Conn: -1}, Part: PartEmpty, Note: "CQ empty"}, n, nil)
		return
	}
	v := m.take(&n, w, wk.Queue)
	n.Workers[w].CQ--
	m.emit(emit, Step{Event: Event{Kind: Pop, Acceptor: -1, Worker: w, Conn: wk.Queue[0]}}, n, v)
}

// overflow is the overflow list's bound.
func (m *Machine) overflow() int {
	if m.replay {
		return 1 << 16 // the kernel's list is bounded by its memory
	}
	return m.b.Overflow
}

package model

import (
	"fmt"
	"slices"
)

// The msgring designs' own steps: the Acceptor's multishot accept, which
// the kernel may end; its MSG_RING, submitted (Dispatch) and then posted by
// the kernel into the picked Worker's completion queue, or refused; the
// Worker's wait in io_uring_enter, which moves what the kernel held back
// into the CQ, and its reap of the CQ. The Accept and the Register are the
// other designs'.

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
	// PartSubmit: the Acceptor submits a MSG_RING on its own ring; the
	// kernel's post of it is the Dispatch (Dispatch).
	PartSubmit = "submit"
	// PartOverflow: the kernel cannot post a MSG_RING, the Worker's CQ and
	// its overflow list full: EOVERFLOW, nothing posted (Dispatch).
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

// submit emits holding Acceptor a's submission of the MSG_RING of its
// connection (PartSubmit), queued on its own ring (Acceptor.Posting): the
// Acceptor is free to accept the next at once, and the kernel posts it
// when the Acceptor next enters the kernel (kernelPost, the Dispatch).
func (m *Machine) submit(s *State, a int, emit func(Transition)) {
	ac := s.Acceptors[a]
	n := s.clone()
	n.Acceptors[a] = ac.at(AIdle, -1, -1)
	n.Acceptors[a].Posting = pushed(ac.Posting, ac.Conn)
	m.emit(emit, Step{Event: Event{Kind: Dispatch, Acceptor: a, Worker: ac.Worker, Conn: ac.Conn}, Part: PartSubmit,
		Note: "MSG_RING submitted"}, n, nil)
}

// resubmit emits idle Acceptor a's submission again of the oldest
// connection whose post failed (Acceptor.Retry; PartSubmit).
func (m *Machine) resubmit(s *State, a int, emit func(Transition)) {
	ac := s.Acceptors[a]
	if len(ac.Retry) == 0 {
		return
	}
	c := ac.Retry[0]
	n := s.clone()
	na := &n.Acceptors[a]
	na.Posting = pushed(ac.Posting, c)
	na.Retry = ac.Retry[1:]
	if len(na.Retry) == 0 {
		na.Retry = nil
	}
	w := int(c % int64(len(s.Workers)))
	m.emit(emit, Step{Event: Event{Kind: Dispatch, Acceptor: a, Worker: w, Conn: c}, Part: PartSubmit, Note: "MSG_RING submitted again"}, n, nil)
}

// kernelPost emits the kernel's posts of the MSG_RINGs Acceptor a
// submitted, each a Dispatch: the oldest submitted for each Worker may go
// next (the kernel runs a ring's submissions in order, and posts into
// different Workers' CQs commute: only each Worker sees its own). The
// completion goes into the Worker's CQ if the CQ has room and nothing is
// held back before it, else into the overflow list if that has room (in
// order either way: the Worker reaps it); else the MSG_RING fails with
// EOVERFLOW, nothing is posted, and the Acceptor, reaping that result from
// its own ring, keeps the fd to submit again (Acceptor.Retry).
// bug-msgring-ignore-full takes the failure as done and forgets the fd.
func (m *Machine) kernelPost(s *State, a int, emit func(Transition)) {
	ac := s.Acceptors[a]
	nw := int64(len(s.Workers))
	for i, c := range ac.Posting {
		w := int(c % nw)
		if slices.ContainsFunc(ac.Posting[:i], func(o int64) bool { return o%nw == int64(w) }) {
			continue
		}
		m.post(s, a, i, w, emit)
	}
}

// post emits the kernel's post of Acceptor a's i-th submitted MSG_RING,
// to Worker w.
func (m *Machine) post(s *State, a, i, w int, emit func(Transition)) {
	ac := s.Acceptors[a]
	c := ac.Posting[i]
	wk := s.Workers[w]
	n := s.clone()
	na := &n.Acceptors[a]
	na.Posting = slices.Delete(slices.Clone(ac.Posting), i, i+1)
	if len(na.Posting) == 0 {
		na.Posting = nil
	}
	ev := Event{Kind: Dispatch, Acceptor: a, Worker: w, Conn: c}
	if len(wk.Queue) < m.pipeCap()+m.overflow() {
		m.push(&n, w, c, pushed(wk.Queue, c))
		note := ""
		if wk.CQ == len(wk.Queue) && wk.CQ < m.pipeCap() {
			n.Workers[w].CQ++
		} else {
			note = "CQ full: held back in the overflow list"
		}
		m.emit(emit, Step{Event: ev, Note: note}, n, nil)
		return
	}
	note := fmt.Sprintf("MSG_RING of c%d fails with EOVERFLOW: worker %d's CQ and overflow list are full; acceptor %d keeps it, to submit again", c, w, a)
	na.Retry = pushed(ac.Retry, c)
	if m.d.ignoreFailedPost {
		note = fmt.Sprintf("MSG_RING of c%d fails with EOVERFLOW, ignored: acceptor %d forgets it", c, a)
		na.Retry = ac.Retry
	}
	m.emit(emit, Step{Event: ev, Part: PartOverflow, Note: note}, n, nil)
}

// enter emits idle Worker w's return from io_uring_enter, which waits for
// a completion: the kernel first moves what its overflow list holds into
// the CQ, as far as the CQ has room, and the Wake's count is what the CQ
// then holds.
//
// Replay accepts a count of fewer (in.N): the reactor's Wake counts the
// posts in one reaped batch, which need not be all the CQ holds.
func (m *Machine) enter(s *State, w int, in *Event, emit func(Transition)) {
	wk := s.Workers[w]
	most := min(len(wk.Queue), m.pipeCap())
	if most == 0 {
		return
	}
	k, ok := wakeCount(in, most)
	if !ok {
		return
	}
	n := s.clone()
	nk := &n.Workers[w]
	nk.CQ = k
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
// Replay folds the empty check into Worker.MayIdle, as for drain: a Worker
// that found its CQ empty since its Wake may have entered again.
func (m *Machine) reap(s *State, w int, in *Event, emit func(Transition)) {
	wk := s.Workers[w]
	switch {
	case wk.CQ > 0:
		n := s.clone()
		v := m.take(&n, w, wk.Queue)
		n.Workers[w].CQ--
		m.emit(emit, Step{Event: Event{Kind: Pop, Acceptor: -1, Worker: w, Conn: wk.Queue[0]}}, n, v)
	case !m.foldIdle():
		n := s.clone()
		n.Workers[w].PC = WIdle
		m.emit(emit, Step{Event: Event{Kind: Pop, Acceptor: -1, Worker: w, Conn: -1}, Part: PartEmpty, Note: "CQ empty"}, n, nil)
	}
	if wk.MayIdle {
		m.enter(s, w, in, emit)
	}
}

// overflow is the overflow list's bound.
func (m *Machine) overflow() int {
	if m.replay {
		return 1 << 16 // the kernel's list is bounded by its memory
	}
	return m.b.Overflow
}

package model

import "fmt"

// checkFdClose checks P5 before close(2) of connection c's fd in s: the
// number must still name c's socket, not be free (a second close) nor
// another connection's (closing what the kernel gave someone else).
func (m *LifeMachine) checkFdClose(s *LifeState, c int8) *Violation {
	k := s.Conns[c]
	switch o := s.Fds[k.Fd-1]; {
	case o == 0:
		return &Violation{P5, fmt.Sprintf("close(2) of fd%d for c%d, which is closed already", k.Fd, c)}
	case o != k.Peer+1:
		return &Violation{P5, fmt.Sprintf("close(2) of fd%d for c%d, which now names p%d's socket", k.Fd, c, o-1)}
	}
	return nil
}

// checkTaskTarget checks P6 when task t runs on connection target: it must
// be the connection the task was submitted for, of the same generation.
func checkTaskTarget(s *LifeState, t LifeTask, target int8) *Violation {
	if target == t.Conn && s.Conns[target].Gen == t.Gen {
		return nil
	}
	k := s.Conns[target]
	return &Violation{P6, fmt.Sprintf("call %d's task for c%d (g%d) runs on c%d (g%d), the newer connection on fd%d", t.ID, t.Conn, t.Gen, target, k.Gen, k.Fd)}
}

// checkDone checks P7 in n, the state in which Shutdown returns: every
// connection accepted closed, with its OnClose if it was registered; every
// fd closed; the Acceptor and the Worker returned.
func (m *LifeMachine) checkDone(n *LifeState) *Violation {
	for c := range n.NConns {
		k := n.Conns[c]
		switch {
		case k.Phase == ConnOpen:
			return &Violation{P7, fmt.Sprintf("Shutdown returned; c%d is still open, its OnClose never ran", c)}
		case k.Phase == ConnClosed && k.OnClose != 1:
			return &Violation{P7, fmt.Sprintf("Shutdown returned; c%d's OnClose ran %d times", c, k.OnClose)}
		case !k.FdClosed:
			return &Violation{P7, fmt.Sprintf("Shutdown returned; c%d's fd%d (accepted, %s) is still open", c, k.Fd, connPhaseNames[k.Phase])}
		}
	}
	for i := range m.b.Fds {
		if o := n.Fds[i]; o != 0 {
			return &Violation{P7, fmt.Sprintf("Shutdown returned; fd%d (p%d's socket) is still open", i+1, o-1)}
		}
	}
	if n.Acceptor.PC != AccExit {
		return &Violation{P7, "Shutdown returned; the acceptor is still running"}
	}
	if n.Worker.PC != WExit {
		return &Violation{P7, "Shutdown returned; the worker is still running"}
	}
	return nil
}

// quiescent checks a state where no step is enabled: the hand-off left no
// connection queued (P4); no fd is open that no live connection owns (P5);
// no task that was accepted is left unrun (P8); every peer whose
// connection did not fail received all that was written to it (P9); no
// open connection holds input it was never offered again (P10).
func (m *LifeMachine) quiescent(s *LifeState) *Violation {
	if s.QLen > 0 {
		return &Violation{P4, fmt.Sprintf("c%d waits in the queue; the worker is %s", s.Queue[0], lwpcNames[s.Worker.PC])}
	}
	for i := range m.b.Fds {
		o := s.Fds[i]
		if o == 0 {
			continue
		}
		c := s.Peers[o-1].Conn
		if c < 0 || s.Conns[c].Phase == ConnClosed || s.Conns[c].Phase == ConnDropped {
			return &Violation{P5, fmt.Sprintf("fd%d (p%d's socket) is open, but its connection is gone: leaked", i+1, o-1)}
		}
	}
	for id := range s.Made {
		if s.Fate[id] == TaskListed {
			t := s.taskOf(id)
			return &Violation{P8, fmt.Sprintf("call %d returned nil, but its task for c%d never ran and c%d is %s: no kick is pending (the worker is %s)",
				id, t.Conn, t.Conn, connPhaseNames[s.Conns[t.Conn].Phase], lwpcNames[s.Worker.PC])}
		}
	}
	for c := range s.NConns {
		k := s.Conns[c]
		p := s.Peers[k.Peer]
		failed := k.Lost || p.Rst || p.Killed || k.Phase == ConnClosed && k.Why != CauseHandler && k.Why != CauseEOF && k.Why != CauseShutdown
		if (k.Phase == ConnOpen || k.Phase == ConnClosed) && !failed && p.Got != k.Wrote {
			return &Violation{P9, fmt.Sprintf("c%d's peer received %d of the %d unit(s) written to it", c, p.Got, k.Wrote)}
		}
		if k.Phase == ConnOpen && !k.Closing && k.Held > 0 {
			return &Violation{P10, fmt.Sprintf("c%d holds %d unit(s) of input that are never offered again", c, k.Held)}
		}
	}
	return nil
}

// taskOf returns the task of call id, wherever it is (the list or the
// Worker's hand).
func (s *LifeState) taskOf(id int8) LifeTask {
	for i := range s.NList {
		if s.List[i].ID == id {
			return s.List[i]
		}
	}
	for i := range s.Worker.NTaken {
		if s.Worker.Taken[i].ID == id {
			return s.Worker.Taken[i]
		}
	}
	return LifeTask{ID: id, Conn: s.Async.Conn}
}

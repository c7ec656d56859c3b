package model

import (
	"fmt"
	"strings"
)

// workerSteps emits the Worker's step (worker.run): epoll_wait and its
// batch, the notify channel's tokens (Wake, Pop, Register), the task list
// (Tasks, Run), a connection's events (life_conn.go), and the stop
// (worker.shutdown).
func (m *LifeMachine) workerSteps(s *LifeState, emit lifeEmit) {
	w := s.Worker
	switch w.PC {
	case WPoll:
		if b := m.ready(s); len(b) > 0 {
			n := *s
			copy(n.Worker.Batch[:], b)
			n.Worker.NBatch = int8(len(b))
			n.Worker.PC = WNext
			emit(LifeTransition{Step: Step{Event: wev(0, -1), Part: PartPoll, Note: "epoll_wait: " + batchText(b)}, Next: n}, false)
		}
		if !m.b.Idle {
			return
		}
		for c := range s.NConns {
			if s.Conns[c].Phase != ConnOpen {
				continue
			}
			n := *s
			n.Worker.Conn = c
			n.Worker.Ctx = CtxIdle
			m.finalize(&n, CauseIdle)
			emit(LifeTransition{Step: Step{Event: wev(0, c), Part: PartIdle, Note: fmt.Sprintf("c%d received nothing for IdleTimeout", c)}, Next: n}, false)
		}

	case WNext:
		if w.NBatch == 0 {
			n := *s
			n.Worker.PC = WPoll
			note := "batch done"
			if s.StopFlag {
				n.Worker.PC = WShutQueue
				n.Worker.Shut = true
				note = "batch done; stop flag set: shut down"
			}
			emit(LifeTransition{Step: Step{Event: wev(0, -1), Part: PartBatchEnd, Note: note}, Next: n}, false)
			return
		}
		for i := range w.NBatch {
			n := *s
			nw := &n.Worker
			nw.Ev = w.Batch[i]
			nw.Ctx = CtxEvent
			copy(nw.Batch[i:], w.Batch[i+1:w.NBatch])
			nw.NBatch--
			nw.Batch[nw.NBatch] = LifeEvent{}
			switch nw.Ev.Src {
			case SrcNotify:
				nw.PC = WWake
			case SrcTasks:
				nw.PC = WReset
				if m.d.taskResetAfterSwap {
					nw.PC = WSwap
				}
			default:
				nw.PC = WReady
			}
			emit(LifeTransition{Step: Step{Event: wev(0, -1), Part: PartNext, Note: batchText([]LifeEvent{nw.Ev})}, Next: n}, true)
		}

	case WWake:
		n := *s
		n.Worker.Tokens = s.Tokens
		n.Tokens = 0
		n.Worker.PC = WPopNext
		e := wev(Wake, -1)
		e.N = int(s.Tokens)
		emit(LifeTransition{Step: Step{Event: e}, Next: n}, false)

	case WPopNext:
		n := *s
		if w.Tokens == 0 || s.QLen == 0 {
			n.Worker.PC = WNext
			n.Worker.Tokens = 0
			emit(LifeTransition{Step: Step{Event: wev(Pop, -1), Part: PartEmpty, Note: "tokens spent"}, Next: n}, true)
			return
		}
		c := s.Queue[0]
		copy(n.Queue[:], s.Queue[1:s.QLen])
		n.QLen--
		n.Queue[n.QLen] = 0
		n.Conns[c].Phase = ConnPopped
		n.Worker.Tokens--
		n.Worker.Conn = c
		n.Worker.PC = WAdd
		emit(LifeTransition{Step: Step{Event: wev(Pop, c)}, Next: n}, false)

	case WAdd:
		c := w.Conn
		k := s.Conns[c]
		n := *s
		n.Gen++
		nk := &n.Conns[c]
		nk.Phase = ConnOpen
		nk.Gen = n.Gen
		nk.ReadOn = true
		n.Worker.PC = WPopNext
		n.Worker.Conn = -1
		e := wev(Register, c)
		e.Fd, e.Gen = int(k.Fd), uint32(n.Gen)
		note := "epoll_ctl ADD; OnOpen" + m.advance(&n)
		emit(LifeTransition{Step: Step{Event: e, Note: note}, Next: n}, false)
		if !m.b.CtlFail {
			return
		}
		n = *s
		n.Conns[c].Phase = ConnDropped
		var v *Violation
		note = "epoll_ctl ADD failed: close(2)"
		if m.d.addFailLeaks {
			note = "epoll_ctl ADD failed: the fd is left open"
		} else {
			v = m.checkFdClose(s, c)
			n.Conns[c].FdClosed = true
			m.closeSocket(&n, k.Peer)
		}
		n.Open--
		n.Worker.PC = WPopNext
		n.Worker.Conn = -1
		note += m.advance(&n)
		e = wev(Drop, c)
		e.Fd, e.Why = int(k.Fd), CauseEpoll
		emit(LifeTransition{Step: Step{Event: e, Note: note}, Next: n, Violation: v}, false)

	case WReset:
		n := *s
		n.Kicked = false
		n.Worker.PC = WSwap
		if m.d.taskResetAfterSwap {
			n.Worker.PC = WRun
		}
		emit(LifeTransition{Step: Step{Event: wev(Tasks, -1), Part: PartResetFd, Note: "read the task eventfd"}, Next: n}, false)

	case WSwap, WShutTasks:
		if s.Locked {
			return
		}
		n := *s
		nw := &n.Worker
		nw.Taken = s.List
		nw.NTaken = s.NList
		nw.Next = 0
		nw.Ctx = CtxTask
		n.List = [lifeMaxTasks]LifeTask{}
		n.NList = 0
		nw.PC = WRun
		note := "swap; pending 1->0"
		switch {
		case w.PC == WShutTasks:
			n.Closed = true
			note = "list closed"
		case m.d.taskResetAfterSwap:
			n.Pending = false
			nw.PC = WReset
		case m.d.taskClearAfterRun:
			note = "swap; pending left set"
		default:
			n.Pending = false
		}
		e := wev(Tasks, -1)
		e.N = int(s.NList)
		emit(LifeTransition{Step: Step{Event: e, Note: note}, Next: n}, false)

	case WRun:
		m.runStep(s, emit)

	case WClearPending:
		if s.Locked {
			return
		}
		n := *s
		n.Pending = false
		n.Worker.PC = WNext
		emit(LifeTransition{Step: Step{Event: wev(Tasks, -1), Part: PartClearFlag, Note: "pending 1->0, after the run"}, Next: n}, false)

	case WReady, WFlush, WRead, WDeliver, WSettle, WSettleLoop, WMod, WOnClose, WClose, WShutFlush:
		m.connSteps(s, emit)

	case WShutQueue:
		n := *s
		if s.QLen == 0 || m.d.shutdownForgetsQueued {
			n.Worker.PC = WShutTasks
			note := "queue empty"
			if s.QLen > 0 {
				note = fmt.Sprintf("%d fd(s) left in the queue, open", s.QLen)
			}
			emit(LifeTransition{Step: Step{Event: wev(Drop, -1), Part: PartEmpty, Note: note}, Next: n}, false)
			return
		}
		c := s.Queue[0]
		copy(n.Queue[:], s.Queue[1:s.QLen])
		n.QLen--
		n.Queue[n.QLen] = 0
		k := s.Conns[c]
		n.Conns[c].Phase = ConnDropped
		n.Conns[c].FdClosed = true
		m.closeSocket(&n, k.Peer)
		n.Open--
		e := wev(Drop, c)
		e.Fd, e.Why = int(k.Fd), CauseShutdown
		emit(LifeTransition{Step: Step{Event: e}, Next: n, Violation: m.checkFdClose(s, c)}, false)

	case WShutConn:
		n := *s
		for c := range s.NConns {
			k := s.Conns[c]
			if k.Phase != ConnOpen {
				continue
			}
			n.Worker.Conn = c
			n.Worker.Ctx = CtxShutdown
			if k.Err == CauseNone && k.Out > 0 {
				n.Worker.PC = WShutFlush
			} else {
				m.finalize(&n, CauseShutdown)
			}
			emit(LifeTransition{Step: Step{Event: wev(0, c), Part: PartNext, Note: fmt.Sprintf("shutdown: c%d", c)}, Next: n}, true)
			return
		}
		n.Worker.PC = WExit
		emit(LifeTransition{Step: Step{Event: wev(0, -1), Part: PartExit, Note: "the worker returns"}, Next: n}, false)
	}
}

// ready returns what epoll_wait reports (level-triggered): the notify pipe
// if a token is pending, the task eventfd if kicked, and each registered
// connection whose interest meets its socket's state (In: input or EOF
// waiting; Out: room in the send buffer), or whose peer reset it (error and
// hang-up, reported whatever the interest). Each carries the generation its
// fd was armed with.
func (m *LifeMachine) ready(s *LifeState) []LifeEvent {
	var out []LifeEvent
	if s.Tokens > 0 {
		out = append(out, LifeEvent{Src: SrcNotify})
	}
	if s.Kicked {
		out = append(out, LifeEvent{Src: SrcTasks})
	}
	for c := range s.NConns {
		k := s.Conns[c]
		if k.Phase != ConnOpen {
			continue
		}
		p := s.Peers[k.Peer]
		e := LifeEvent{Src: SrcConn, Fd: k.Fd, Gen: k.Gen,
			In:       k.ReadOn && (p.Rx > 0 || p.Fin || p.Rst),
			Out:      k.WriteOn && (int(p.Tx) < m.b.SendBuf || p.Rst),
			ErrOrHup: p.Rst}
		if e.In || e.Out || e.ErrOrHup {
			out = append(out, e)
		}
	}
	return out
}

// batchText renders events as "[notify tasks fd1/g2:in,out]".
func batchText(b []LifeEvent) string {
	var l []string
	for _, e := range b {
		switch e.Src {
		case SrcNotify:
			l = append(l, "notify")
		case SrcTasks:
			l = append(l, "tasks")
		default:
			var f []string
			for _, x := range []struct {
				on   bool
				name string
			}{{e.In, "in"}, {e.Out, "out"}, {e.ErrOrHup, "err"}} {
				if x.on {
					f = append(f, x.name)
				}
			}
			l = append(l, fmt.Sprintf("fd%d/g%d:%s", e.Fd, e.Gen, strings.Join(f, ",")))
		}
	}
	return "[" + strings.Join(l, " ") + "]"
}

// runStep emits the Worker's run of its next task taken (worker.runTasks):
// one whose connection is still the one registered on its fd runs on it (an
// AsyncWrite writes its unit; a Wake offers the held input, or calls OnData
// with none, and the handler writes one unit), then the connection is
// settled; one whose connection is closed is dropped. bug-stale-task looks
// the connection up by fd alone. When the tasks are done the Worker goes
// back to its batch, or on with its shutdown.
func (m *LifeMachine) runStep(s *LifeState, emit lifeEmit) {
	w := s.Worker
	if w.Next == w.NTaken {
		n := *s
		n.Worker.NTaken = 0
		n.Worker.Next = 0
		n.Worker.Taken = [lifeMaxTasks]LifeTask{}
		n.Worker.Ctx = CtxEvent
		switch {
		case m.d.taskClearAfterRun && !w.Shut:
			n.Worker.PC = WClearPending
		case w.Shut:
			n.Worker.PC = WShutConn
		default:
			n.Worker.PC = WNext
		}
		emit(LifeTransition{Step: Step{Event: Event{Kind: Run, Acceptor: -1, Worker: 0, Conn: -1}, Part: PartEmpty, Note: "tasks done"}, Next: n}, true)
		return
	}
	t := w.Taken[w.Next]
	target := t.Conn
	if s.Conns[t.Conn].Phase != ConnOpen {
		target = -1
	}
	if m.d.noTaskGen {
		target = s.onFd(s.Conns[t.Conn].Fd)
	}
	n := *s
	n.Worker.Next++
	e := Event{Kind: Run, Acceptor: -1, Worker: 0, Conn: int64(t.Conn), Gen: uint32(t.Gen)}
	if target < 0 {
		n.Fate[t.ID] = TaskDropped
		var v *Violation
		if s.Conns[t.Conn].Phase == ConnOpen {
			v = &Violation{P8, fmt.Sprintf("call %d's task dropped while c%d is open", t.ID, t.Conn)}
		}
		emit(LifeTransition{Step: Step{Event: e, Part: PartDropTask, Note: fmt.Sprintf("c%d is closed", t.Conn)}, Next: n, Violation: v}, true)
		return
	}
	n.Fate[t.ID] = TaskRan
	v := checkTaskTarget(s, t, target)
	n.Worker.Conn = target
	n.Worker.Ctx = CtxTask
	note := ""
	evs := []Event{e}
	switch k := &n.Conns[target]; {
	case !t.Wake:
		note = "AsyncWrite: " + m.write(&n, target, 1, &evs)
		n.Worker.PC = WSettle
	case k.Held > 0:
		note = "Wake: OnData offered the held input"
		n.Worker.Fresh = 0
		n.Worker.After = WSettle
		n.Worker.PC = WDeliver
	default:
		note = "Wake: OnData(empty), the handler writes 1: " + m.write(&n, target, 1, &evs)
		d := wev(Data, target)
		evs = append(evs, d)
		n.Worker.PC = WSettle
	}
	note += m.advance(&n)
	emit(LifeTransition{Step: Step{Event: e, Note: note}, Events: evs, Next: n, Violation: v}, false)
}

// ret sends the Worker back to what it was doing before it took up a
// connection (worker.onEvent's caller, runTasks, closeIdle's caller, the
// shutdown loop).
func (m *LifeMachine) ret(n *LifeState) {
	w := &n.Worker
	w.Conn = -1
	w.Why = CauseNone
	switch w.Ctx {
	case CtxTask:
		w.PC = WRun
	case CtxIdle:
		w.PC = WPoll
	case CtxShutdown:
		w.PC = WShutConn
	default:
		w.PC = WNext
	}
}

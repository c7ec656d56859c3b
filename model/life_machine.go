package model

import (
	"fmt"
	"strings"
)

// Hidden parts of the lifecycle's steps. A step of the reactor that emits no
// event, and every step of a peer, the kernel or the clock, is hidden: its
// Part names it. A peer's step has no Kind (Event.Kind is 0).
const (
	// Peer steps.
	PartConnect = "connect"
	PartSend    = "send"
	PartQuit    = "quit"
	PartFin     = "fin"
	PartReset   = "reset"
	PartRecv    = "recv"
	// Acceptor steps: accept4 finds no fd free (EMFILE), the listeners go
	// back in, the loop returns; and a send or read that finds EAGAIN.
	PartEagain = "eagain"
	PartEmfile = "emfile"
	PartRearm  = "rearm"
	PartExit   = "exit"
	// Worker steps: epoll_wait returns a batch; an event is taken from it;
	// one is dropped (stale generation, or no connection on its fd any
	// more); the task eventfd is reset; a task is dropped; epoll_ctl MOD;
	// OnClose; an idle connection is found; the batch ends (and the stop
	// flag is read); a read or send fails; the pending flag is cleared
	// late (bug-task-clear-after-run).
	PartPoll      = "poll"
	PartNext      = "next"
	PartStale     = "stale"
	PartResetFd   = "reset-eventfd"
	PartDropTask  = "drop-task"
	PartMod       = "mod"
	PartOnClose   = "onclose"
	PartIdle      = "idle"
	PartBatchEnd  = "batch-end"
	PartFailed    = "failed"
	PartClearFlag = "clear-pending"
	// The other goroutine: takes a handle, tests its gone flag, finds the
	// list closed. The server: tells the Workers to stop with no kick.
	PartHandle  = "handle"
	PartGone    = "gone"
	PartRefused = "refused"
	PartStopW   = "stop-workers"
)

// LifeTransition is one enabled step of the lifecycle and the state it leads
// to.
type LifeTransition struct {
	Step Step
	// Events are what the reactor traces for the step, in order, when that
	// is more than Step.Event: a Data step's writes and sends, say. Nil for
	// a step that traces its Step.Event alone, or nothing (hidden).
	Events []Event
	Next   LifeState
	// Violation is the safety property the step breaks, or nil.
	Violation *Violation
}

// Trace returns the events the reactor traces for t, in order.
func (t LifeTransition) Trace() []Event {
	if t.Events != nil || t.Step.Hidden() {
		return t.Events
	}
	return []Event{t.Step.Event}
}

// LifeMachine is a lifecycle design's step function over a system of fixed
// size. It is immutable and safe for concurrent use.
type LifeMachine struct {
	d LifeDesign
	b LifeBounds
}

// NewLifeMachine returns the step function of the lifecycle design named
// d.Name for a system within b.
func NewLifeMachine(d LifeDesign, b LifeBounds) (*LifeMachine, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	d, ok := LookupLifeDesign(d.Name)
	if !ok {
		return nil, fmt.Errorf("model: unknown lifecycle design %q", d.Name)
	}
	return &LifeMachine{d: d, b: b}, nil
}

// Design returns the machine's design.
func (m *LifeMachine) Design() LifeDesign { return m.d }

// Bounds returns the machine's bounds.
func (m *LifeMachine) Bounds() LifeBounds { return m.b }

// Initial returns the state before the first peer connects: every fd free,
// every thread at the top of its loop, the task list empty.
func (m *LifeMachine) Initial() LifeState {
	var s LifeState
	for i := range s.Peers {
		s.Peers[i].Conn = -1
	}
	s.Worker.Conn = -1
	s.Async.Conn = -1
	return s
}

// Steps returns every step enabled in s; none when s is quiescent.
func (m *LifeMachine) Steps(s LifeState) []LifeTransition {
	var out []LifeTransition
	m.successors(&s, func(t LifeTransition) { out = append(out, t) })
	return out
}

// lifeEmit is a step under construction: the worker's steps say whether
// they are local (see successors).
type lifeEmit func(t LifeTransition, local bool)

// successors calls emit for every step enabled in s. When every step the
// Worker can take is local, touching only its own state (its program
// counter, its batch, a connection's buffers and interest, the ghosts),
// only the Worker's steps are emitted: such a step commutes with every
// other thread's, no other thread can disable it, and no check reads what
// it changes at another thread's step, so taking it first loses no
// reachable violation (a partial-order reduction). Steps that make system
// calls, take a lock, or change what other threads read (a connection's
// gone flag) are not local.
func (m *LifeMachine) successors(s *LifeState, out func(LifeTransition)) {
	emit := func(t LifeTransition) {
		t.Step.Note = strings.TrimPrefix(t.Step.Note, "; ") // a note that starts with what advance did
		if w := &t.Next.Worker; w.Ctx != CtxEvent || w.PC < WReady || w.PC > WClose {
			w.Ev = LifeEvent{} // done with: what the state holds is what is still to be used
		}
		out(t)
	}
	var worker []LifeTransition
	allLocal := true
	m.workerSteps(s, func(t LifeTransition, local bool) {
		worker = append(worker, t)
		allLocal = allLocal && local
	})
	if len(worker) > 0 && allLocal {
		for _, t := range worker {
			emit(t)
		}
		return
	}
	for i := range m.b.Conns {
		m.peerSteps(s, i, emit)
	}
	m.acceptorSteps(s, emit)
	m.asyncSteps(s, emit)
	m.serverSteps(s, emit)
	for _, t := range worker {
		emit(t)
	}
}

// env is a step of a peer: no Kind, a part, a note.
func env(part, format string, args ...any) Step {
	return Step{Event: Event{Acceptor: -1, Worker: -1, Conn: -1}, Part: part, Note: fmt.Sprintf(format, args...)}
}

// peerSteps emits what peer i can do: connect (in turn), send a unit (its
// last may be a quit), half-close, reset, and read what the server sent.
// A peer stops sending once it half-closed, quit, reset or found its
// connection closed by the server.
func (m *LifeMachine) peerSteps(s *LifeState, i int, emit func(LifeTransition)) {
	p := s.Peers[i]
	if p.Phase == PeerAway {
		if int(s.Connected) == i {
			n := *s
			n.Peers[i].Phase = PeerBacklog
			n.Connected++
			emit(LifeTransition{Step: env(PartConnect, "p%d connects", i), Next: n})
		}
		return
	}
	if p.Phase != PeerAccepted {
		return
	}
	talking := !p.Rst && !p.Closed && !p.Fin && !p.Quit
	if talking && int(p.Sent) < m.b.Sends {
		n := *s
		n.Peers[i].Sent++
		n.Peers[i].Rx++
		emit(LifeTransition{Step: env(PartSend, "p%d sends unit %d", i, p.Sent), Next: n})
		if m.b.Quit {
			n.Peers[i].Quit = true
			emit(LifeTransition{Step: env(PartQuit, "p%d sends unit %d, a quit", i, p.Sent), Next: n})
		}
	}
	if !p.Rst && !p.Closed && !p.Fin {
		n := *s
		n.Peers[i].Fin = true
		emit(LifeTransition{Step: env(PartFin, "p%d half-closes", i), Next: n})
	}
	if m.b.Reset && !p.Rst && !p.Killed && !(p.Closed && p.Tx == 0) {
		n := *s
		n.Peers[i].Rst = true
		n.Peers[i].Tx = 0
		emit(LifeTransition{Step: env(PartReset, "p%d resets", i), Next: n})
	}
	if p.Tx > 0 && !p.Rst && !p.Killed {
		n := *s
		n.Peers[i].Got += p.Tx
		n.Peers[i].Tx = 0
		emit(LifeTransition{Step: env(PartRecv, "p%d reads %d unit(s)", i, p.Tx), Next: n})
	}
}

// acceptorSteps emits the Acceptor's step (acceptor.run, acceptAll, admit,
// worker.dispatch): accept4 of the next peer in the backlog on the lowest
// free fd number, numbered and pushed onto the Worker's queue with its token
// (Accept, Dispatch, Notify); or rejected at MaxConns (Drop); or EMFILE,
// which takes the listeners out until an fd is free again. Once the server
// is stopping the Acceptor may return at any point between two accepts: it
// sees the stop when its epoll_wait returns, so an acceptAll under way goes
// on, and connections accepted while Shutdown runs are dispatched like any
// other.
func (m *LifeMachine) acceptorSteps(s *LifeState, emit func(LifeTransition)) {
	a := s.Acceptor
	if a.PC == AccExit {
		return
	}
	none := Event{Kind: Accept, Acceptor: 0, Worker: -1, Conn: -1}
	if s.Stopped {
		n := *s
		n.Acceptor.PC = AccExit
		emit(LifeTransition{Step: Step{Event: none, Part: PartExit, Note: "stopped: the acceptor returns"}, Next: n})
	}
	fd := s.freeFd(m.b.Fds)
	if a.Paused {
		if fd != 0 {
			n := *s
			n.Acceptor.Paused = false
			emit(LifeTransition{Step: Step{Event: none, Part: PartRearm, Note: "an fd is free: listeners back in"}, Next: n})
		}
		return
	}
	if s.Connected == s.Taken {
		return
	}
	n := *s
	peer := s.Taken
	switch {
	case fd == 0:
		n.Acceptor.Paused = true
		emit(LifeTransition{Step: Step{Event: none, Part: PartEmfile, Note: "EMFILE: listeners out"}, Next: n})
	case m.b.MaxConns > 0 && int(s.Open) >= m.b.MaxConns:
		n.Taken++
		n.Peers[peer].Phase = PeerAccepted
		m.closeSocket(&n, peer)
		e := Event{Kind: Drop, Acceptor: 0, Worker: -1, Conn: -1, Fd: int(fd), Why: CauseMaxConns}
		emit(LifeTransition{Step: Step{Event: e, Note: fmt.Sprintf("p%d rejected at MaxConns", peer)}, Next: n})
	default:
		c := s.NConns
		n.Taken++
		n.Peers[peer].Phase = PeerAccepted
		n.Peers[peer].Conn = c
		n.Fds[fd-1] = peer + 1
		n.Open++
		n.NConns++
		n.Conns[c] = LifeConn{Phase: ConnQueued, Peer: peer, Fd: fd}
		n.Queue[n.QLen] = c
		n.QLen++
		n.Tokens++
		acc := Event{Kind: Accept, Acceptor: 0, Worker: -1, Conn: int64(c), Fd: int(fd)}
		evs := []Event{acc, {Kind: Dispatch, Acceptor: 0, Worker: 0, Conn: int64(c)}, {Kind: Notify, Acceptor: 0, Worker: 0, Conn: -1}}
		emit(LifeTransition{Step: Step{Event: acc, Note: fmt.Sprintf("p%d's socket; Dispatch, Notify", peer)}, Events: evs, Next: n})
	}
}

// closeSocket is the kernel's side of close(2) on peer p's socket: the fd
// number is free again; the peer reads what is left in the send buffer, then
// EOF, unless input was left unread, when the kernel resets the connection
// and what was left is lost (Linux sends RST in place of FIN).
func (m *LifeMachine) closeSocket(n *LifeState, p int8) {
	for i := range m.b.Fds {
		if n.Fds[i] == p+1 {
			n.Fds[i] = 0
		}
	}
	pr := &n.Peers[p]
	pr.Closed = true
	if pr.Rx > 0 && !pr.Rst {
		pr.Killed = true
		pr.Tx = 0
	}
}

// asyncSteps emits the other goroutine's step: take the handle of a
// connection the handler gave out (any registered one, closed or not: a
// handle may be stale) for an AsyncWrite of one unit or a Wake; test its
// gone flag (ErrClosed); take the list's lock and, unless the list is
// closed (ErrClosed), append the task (Submit) and, if no kick is pending,
// set pending and write the eventfd (Kick) before unlocking
// (Conn.AsyncWrite, Conn.Wake, owner.addTask).
func (m *LifeMachine) asyncSteps(s *LifeState, emit func(LifeTransition)) {
	as := s.Async
	id := s.Made - 1
	call := func(c, g int8, wake bool) Event {
		e := Event{Kind: Submit, Acceptor: -1, Worker: 0, Conn: int64(c), Gen: uint32(g)}
		if !wake {
			e.N = 1
		}
		return e
	}
	switch as.PC {
	case AsyncIdle:
		if int(s.Made) >= m.b.Tasks {
			return
		}
		for c := range s.NConns {
			k := s.Conns[c]
			if k.Gen == 0 {
				continue
			}
			for _, wake := range []bool{m.b.Wake && s.Made == 0} {
				n := *s
				n.Async = LifeAsync{PC: AsyncCheck, Conn: c, Gen: k.Gen, Wake: wake}
				n.Made++
				what := "AsyncWrite of 1 unit"
				if wake {
					what = "Wake"
				}
				e := call(c, k.Gen, wake)
				emit(LifeTransition{Step: Step{Event: e, Part: PartHandle, Note: fmt.Sprintf("call %d: %s on c%d g%d", n.Made-1, what, c, k.Gen)}, Next: n})
			}
		}
	case AsyncCheck:
		n := *s
		e := call(as.Conn, as.Gen, as.Wake)
		if s.Conns[as.Conn].Phase == ConnClosed {
			n.Fate[id] = TaskRefused
			n.Async = LifeAsync{Conn: -1}
			emit(LifeTransition{Step: Step{Event: e, Part: PartGone, Note: "gone: ErrClosed"}, Next: n})
			return
		}
		n.Async.PC = AsyncSubmit
		emit(LifeTransition{Step: Step{Event: e, Part: PartHandle, Note: "not gone"}, Next: n})
	case AsyncSubmit:
		n := *s
		e := call(as.Conn, as.Gen, as.Wake)
		if s.Closed {
			n.Fate[id] = TaskRefused
			n.Async = LifeAsync{Conn: -1}
			emit(LifeTransition{Step: Step{Event: e, Part: PartRefused, Note: "list closed: ErrClosed"}, Next: n})
			return
		}
		n.List[n.NList] = LifeTask{ID: id, Conn: as.Conn, Gen: as.Gen, Wake: as.Wake}
		n.NList++
		n.Fate[id] = TaskListed
		note := "pending already set: no kick"
		if s.Pending {
			n.Async = LifeAsync{Conn: -1}
		} else {
			n.Pending = true
			n.Locked = true
			n.Async.PC = AsyncKick
			note = "pending 0->1"
		}
		emit(LifeTransition{Step: Step{Event: e, Note: note}, Next: n})
	case AsyncKick:
		n := *s
		n.Kicked = true
		n.Locked = false
		n.Async = LifeAsync{Conn: -1}
		emit(LifeTransition{Step: Step{Event: Event{Kind: Kick, Acceptor: -1, Worker: 0, Conn: -1}}, Next: n})
	}
}

// serverSteps emits the Shutdown goroutine's step, in the reactor's order
// (Server.Serve after its wait): stop the Acceptors (Stop); once they have
// returned, tell each Worker to stop: set its stop flag and, under its task
// list's lock unless the list is closed, kick it (Kick); once they have
// returned, close the server's own fds and return (Done), which is when P7
// is checked. bug-shutdown-early returns without waiting for the Workers.
func (m *LifeMachine) serverSteps(s *LifeState, emit func(LifeTransition)) {
	if !m.b.Shutdown {
		return
	}
	none := Event{Acceptor: -1, Worker: -1, Conn: -1}
	switch s.Server {
	case ServerServing:
		n := *s
		n.Stopped = true
		n.Server = ServerJoinAcceptors
		e := none
		e.Kind = Stop
		emit(LifeTransition{Step: Step{Event: e}, Next: n})
	case ServerJoinAcceptors:
		if s.Acceptor.PC != AccExit || s.Locked {
			return
		}
		n := *s
		n.StopFlag = true
		n.Server = ServerJoinWorkers
		if s.Closed {
			emit(LifeTransition{Step: Step{Event: none, Part: PartStopW, Note: "stop flag set; the list is closed: no kick"}, Next: n})
			return
		}
		n.Kicked = true
		emit(LifeTransition{Step: Step{Event: Event{Kind: Kick, Acceptor: -1, Worker: 0, Conn: -1}, Note: "stop flag set"}, Next: n})
	case ServerJoinWorkers:
		if s.Worker.PC != WExit && !m.d.shutdownEarly {
			return
		}
		n := *s
		n.Server = ServerDone
		e := none
		e.Kind = Done
		emit(LifeTransition{Step: Step{Event: e}, Next: n, Violation: m.checkDone(&n)})
	}
}

package model

import (
	"fmt"
	"strings"
)

var connPhaseNames = [...]string{ConnQueued: "queued", ConnPopped: "popped",
	ConnOpen: "open", ConnClosed: "closed", ConnDropped: "dropped"}

var lwpcNames = [...]string{WPoll: "in epoll_wait", WNext: "in its batch", WWake: "reading its pipe", WPopNext: "popping",
	WAdd: "registering", WReset: "resetting its task eventfd", WSwap: "taking its tasks", WRun: "running its tasks",
	WClearPending: "clearing its pending flag", WReady: "delivering an event", WFlush: "flushing", WRead: "reading",
	WDeliver: "in OnData", WSettle: "settling", WSettleLoop: "settling", WMod: "in epoll_ctl MOD",
	WOnClose: "in OnClose", WClose: "closing an fd", WShutQueue: "closing its queue", WShutTasks: "closing its task list",
	WShutConn: "closing its connections", WShutFlush: "flushing at shutdown", WExit: "returned"}

var lapcNames = [...]string{AccRun: "running", AccExit: "returned"}

var serverNames = [...]string{ServerServing: "serving", ServerJoinAcceptors: "stopping: joining the acceptor",
	ServerJoinWorkers: "stopping: joining the worker", ServerDone: "Serve and Shutdown returned"}

// Describe renders s as lines a person reads: the fd table, each peer, the
// acceptor, each connection, the worker, the task list, the other goroutine,
// the server.
func (m *LifeMachine) Describe(s LifeState) []string {
	var out []string
	var fds []string
	for i := range m.b.Fds {
		if o := s.Fds[i]; o != 0 {
			fds = append(fds, fmt.Sprintf("fd%d=p%d", i+1, o-1))
		} else {
			fds = append(fds, fmt.Sprintf("fd%d=free", i+1))
		}
	}
	out = append(out, "kernel: "+strings.Join(fds, " "))
	for i := range m.b.Conns {
		out = append(out, fmt.Sprintf("p%d: %s", i, describePeer(s.Peers[i])))
	}
	acc := lapcNames[s.Acceptor.PC]
	if s.Acceptor.Paused {
		acc += " (paused: EMFILE)"
	}
	out = append(out, fmt.Sprintf("acceptor: %s; admitted %d", acc, s.Open))
	for c := range s.NConns {
		out = append(out, fmt.Sprintf("c%d: %s", c, describeConn(s.Conns[c])))
	}
	var q []string
	for i := range s.QLen {
		q = append(q, fmt.Sprintf("c%d", s.Queue[i]))
	}
	out = append(out, fmt.Sprintf("worker: %s; queue=[%s] pipe=%d gen=%d%s", lwpcNames[s.Worker.PC], strings.Join(q, " "), s.Tokens, s.Gen, describeWorker(s.Worker)))
	if m.b.Tasks > 0 || s.Kicked {
		var l []string
		for i := range s.NList {
			l = append(l, taskText(s.List[i]))
		}
		out = append(out, fmt.Sprintf("tasks: [%s] pending=%d kicked=%d closed=%d%s; %s", strings.Join(l, " "), b2i(s.Pending), b2i(s.Kicked), b2i(s.Closed),
			map[bool]string{true: " locked", false: ""}[s.Locked], describeFates(s)))
	}
	if m.b.Shutdown {
		flag := ""
		if s.StopFlag {
			flag = "; worker told to stop"
		}
		out = append(out, "server: "+serverNames[s.Server]+flag)
	}
	return out
}

func describePeer(p LifePeer) string {
	switch p.Phase {
	case PeerAway:
		return "not connected"
	}
	var f []string
	if p.Phase == PeerBacklog {
		f = append(f, "in the backlog")
	}
	f = append(f, fmt.Sprintf("sent %d", p.Sent))
	for _, x := range []struct {
		on   bool
		name string
	}{{p.Quit, "quit"}, {p.Fin, "fin"}, {p.Rst, "reset"}, {p.Closed, "server closed"}, {p.Killed, "reset by the server's kernel"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	f = append(f, fmt.Sprintf("rx=%d tx=%d got=%d", p.Rx, p.Tx, p.Got))
	return strings.Join(f, ", ")
}

func describeConn(k LifeConn) string {
	f := []string{fmt.Sprintf("%s p%d fd%d", connPhaseNames[k.Phase], k.Peer, k.Fd)}
	if k.Gen > 0 {
		f[0] += fmt.Sprintf(" g%d", k.Gen)
	}
	if k.Phase == ConnOpen {
		f = append(f, "interest "+interest(k.ReadOn, k.WriteOn))
	}
	for _, x := range []struct {
		on   bool
		name string
	}{{k.Closing, "closing"}, {k.RdClosed, "half-closed"}, {k.Err != CauseNone, "failed (" + k.Err.String() + ")"}, {k.Lost, "output lost"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	f = append(f, fmt.Sprintf("held=%d out=%d; read %d used %d wrote %d", k.Held, k.Out, k.Recv, k.Used, k.Wrote))
	if k.Phase == ConnClosed {
		f = append(f, fmt.Sprintf("OnClose x%d (%s)", k.OnClose, k.Why))
	}
	return strings.Join(f, ", ")
}

func describeWorker(w LifeWorker) string {
	s := ""
	if w.NBatch > 0 {
		s += " batch=" + batchText(w.Batch[:w.NBatch])
	}
	if w.Conn >= 0 {
		s += fmt.Sprintf(" on c%d", w.Conn)
	}
	if w.NTaken > 0 {
		var l []string
		for i := w.Next; i < w.NTaken; i++ {
			l = append(l, taskText(w.Taken[i]))
		}
		s += " to run=[" + strings.Join(l, " ") + "]"
	}
	if w.Shut {
		s += " (shutting down)"
	}
	return s
}

func taskText(t LifeTask) string {
	k := "write"
	if t.Wake {
		k = "wake"
	}
	return fmt.Sprintf("%s#%d:c%d/g%d", k, t.ID, t.Conn, t.Gen)
}

func describeFates(s LifeState) string {
	names := [...]string{TaskNone: "-", TaskRefused: "refused", TaskListed: "listed", TaskRan: "ran", TaskDropped: "dropped"}
	var l []string
	for i := range s.Made {
		l = append(l, fmt.Sprintf("#%d %s", i, names[s.Fate[i]]))
	}
	if len(l) == 0 {
		return "no calls yet"
	}
	return "calls: " + strings.Join(l, ", ")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

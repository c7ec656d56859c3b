package model

import (
	"fmt"
	"strings"
)

// LifeDesign is one variant of what a Worker does with a connection after
// Register: read it, offer its input to OnData, flush its bounded output,
// run the tasks other goroutines hand over, close it for any cause, and stop
// with the server. The correct design is the reactor's (impl/reactor,
// worker.go and conn.go); each seeded bug changes one thing the reactor
// gets right and must be refuted with a counterexample that breaks Expect.
//
// The lifecycle is composed with the hand-off rather than multiplied into
// it: the Acceptor and the Worker's queue and notify channel here are the
// memcached design (a token per connection, a pop per token), whose P1–P4
// Explore checks on its own, while the fds the connections are numbered by,
// their sockets and peers, the task list and Shutdown are what this machine
// adds.
type LifeDesign struct {
	// Name is the design's name for modelcheck -variant and the spec.
	Name string
	// Expect is the property the explorer must report violated, or "" for
	// the correct design.
	Expect Property
	// Summary says in one line what the design does.
	Summary string

	// taskClearAfterRun: the Worker clears its task list's pending flag
	// after running the tasks it took, not in the swap that takes them.
	taskClearAfterRun bool
	// taskResetAfterSwap: the Worker resets its task eventfd after the swap
	// instead of before it.
	taskResetAfterSwap bool
	// closeBeforeOnClose: finalize closes the fd, then runs OnClose.
	closeBeforeOnClose bool
	// noEventGen: an event is delivered to whatever connection holds its
	// fd, whatever generation it was armed for.
	noEventGen bool
	// noTaskGen: a task runs on whatever connection holds its fd.
	noTaskGen bool
	// shutdownEarly: Shutdown returns once the Workers are told to stop,
	// without waiting for them.
	shutdownEarly bool
	// shutdownForgetsQueued: a stopping Worker leaves the fds still in its
	// queue open.
	shutdownForgetsQueued bool
	// addFailLeaks: when epoll_ctl ADD fails the fd is not closed.
	addFailLeaks bool
	// closeDropsOutput: a connection the handler closed is finalized at
	// once, its pending output discarded.
	closeDropsOutput bool
	// readOverBound: reading is not paused while the output is at
	// MaxOutput (neither settle's interest nor onConnEvent's read checks it).
	readOverBound bool
	// halfCloseDropsInput: at the peer's EOF the input held back is
	// discarded instead of offered again.
	halfCloseDropsInput bool

	// checks are the bounds modelcheck -table checks the design at; the
	// first is DefaultBounds.
	checks []LifeBounds
}

// Correct reports whether d is the correct design.
func (d LifeDesign) Correct() bool { return d.Expect == "" }

// ExpectText is d's expected outcome as the command line prints it.
func (d LifeDesign) ExpectText() string {
	if d.Correct() {
		return "holds"
	}
	return string(d.Expect) + " violated"
}

// DefaultBounds are the bounds a seeded bug is refuted at (the smallest
// system in which it shows) and the first the correct design is checked at.
func (d LifeDesign) DefaultBounds() LifeBounds { return d.checks[0] }

// TableBounds are every bounds modelcheck -table checks d at.
func (d LifeDesign) TableBounds() []LifeBounds { return append([]LifeBounds(nil), d.checks...) }

// LifeBounds limit the system the lifecycle explorer enumerates. Units are
// abstract bytes: a peer's input and a connection's output are counted in
// them, in order, so that a count says which bytes arrived.
type LifeBounds struct {
	// Conns is the number of peers that connect, one after another, in
	// all. Invariant: 1 <= Conns <= lifeMaxConns.
	Conns int
	// Fds is how many fd numbers the kernel can give connections; it gives
	// the lowest free one, so a closed connection's number is the next one
	// given, and accept fails with EMFILE when all are in use.
	// Invariant: 1 <= Fds <= lifeMaxFds.
	Fds int
	// Sends is the most units a peer sends. Invariant: 0 <= Sends <= 3.
	Sends int
	// Tasks is the number of AsyncWrite or Wake calls another goroutine
	// makes, on connections it was handed. Invariant: 0 <= Tasks <= lifeMaxTasks.
	Tasks int
	// SendBuf is how many units a socket's send buffer holds: a send takes
	// what fits (a short write) or fails with EAGAIN. Invariant: 1 <= SendBuf <= 3.
	SendBuf int
	// MaxOutput is Config.MaxOutput in units: the Worker stops reading a
	// connection whose pending output is this much or more.
	// Invariant: 1 <= MaxOutput <= 3.
	MaxOutput int
	// Echo is how many units the handler writes for each request it
	// consumes. Invariant: 1 <= Echo <= 2.
	Echo int
	// ReqLen is how many units make one request (0 is 1): with 2 the
	// handler declines a request's first unit until its second arrives.
	// Invariant: 0 <= ReqLen <= 2.
	ReqLen int
	// MaxConns is Config.MaxConns, 0 for no limit.
	MaxConns int
	// Wake makes the other goroutine's first call a Wake; its other calls,
	// and all without Wake, are AsyncWrites of one unit.
	Wake bool
	// Reset lets a peer reset its connection; Quit lets a peer's last unit
	// be a request to close ("quit"); Idle turns the idle timeout on (a
	// registered connection may be found idle between two polls); CtlFail
	// lets epoll_ctl ADD and MOD fail; Shutdown lets the server be shut
	// down once, at any moment.
	Reset, Quit, Idle, CtlFail, Shutdown bool
}

// lifeMaxConns, lifeMaxFds and lifeMaxTasks size LifeState's arrays.
const (
	lifeMaxConns = 4
	lifeMaxFds   = 3
	lifeMaxTasks = 2
)

func (b LifeBounds) validate() error {
	switch {
	case b.Conns < 1 || b.Conns > lifeMaxConns:
		return fmt.Errorf("model: conns=%d, want 1..%d", b.Conns, lifeMaxConns)
	case b.Fds < 1 || b.Fds > lifeMaxFds:
		return fmt.Errorf("model: fds=%d, want 1..%d", b.Fds, lifeMaxFds)
	case b.Sends < 0 || b.Sends > 3:
		return fmt.Errorf("model: sends=%d, want 0..3", b.Sends)
	case b.Tasks < 0 || b.Tasks > lifeMaxTasks:
		return fmt.Errorf("model: tasks=%d, want 0..%d", b.Tasks, lifeMaxTasks)
	case b.SendBuf < 1 || b.SendBuf > 3:
		return fmt.Errorf("model: sendbuf=%d, want 1..3", b.SendBuf)
	case b.MaxOutput < 1 || b.MaxOutput > 3:
		return fmt.Errorf("model: maxoutput=%d, want 1..3", b.MaxOutput)
	case b.Echo < 1 || b.Echo > 2:
		return fmt.Errorf("model: echo=%d, want 1..2", b.Echo)
	case b.ReqLen < 0 || b.ReqLen > 2:
		return fmt.Errorf("model: reqlen=%d, want 0..2", b.ReqLen)
	case b.MaxConns < 0 || b.MaxConns > lifeMaxConns:
		return fmt.Errorf("model: maxconns=%d, want 0..%d", b.MaxConns, lifeMaxConns)
	}
	return nil
}

// String renders b as the table prints it: C conns, F fds, S sends, T
// tasks, K send buffer, B MaxOutput, E echo, R units per request (if more
// than one), M MaxConns, then the switches that are on.
func (b LifeBounds) String() string {
	s := fmt.Sprintf("C%d F%d S%d T%d K%d B%d E%d", b.Conns, b.Fds, b.Sends, b.Tasks, b.SendBuf, b.MaxOutput, b.Echo)
	if b.ReqLen > 1 {
		s += fmt.Sprintf(" R%d", b.ReqLen)
	}
	if b.MaxConns > 0 {
		s += fmt.Sprintf(" M%d", b.MaxConns)
	}
	var on []string
	for _, f := range []struct {
		on   bool
		name string
	}{{b.Wake, "wake"}, {b.Reset, "reset"}, {b.Quit, "quit"}, {b.Idle, "idle"}, {b.CtlFail, "ctl"}, {b.Shutdown, "shut"}} {
		if f.on {
			on = append(on, f.name)
		}
	}
	if len(on) > 0 {
		s += " +" + strings.Join(on, "+")
	}
	return s
}

var lifeDesigns = []LifeDesign{
	{Name: "life", Summary: "the reactor after Register: bounded output, read pause, half-close, tasks, every close, fd reuse, shutdown",
		checks: []LifeBounds{
			// reuse: two peers through one fd number (EMFILE while the
			// first holds it), an AsyncWrite through a handle that may be
			// stale, resets, and Shutdown at any moment.
			{Conns: 2, Fds: 1, Sends: 1, Tasks: 1, SendBuf: 1, MaxOutput: 1, Echo: 1, Reset: true, Shutdown: true},
			// stale: three peers on two fd numbers, so that an event of a
			// batch can find its fd given to a newer connection.
			{Conns: 3, Fds: 2, Sends: 0, Tasks: 1, SendBuf: 1, MaxOutput: 1, Echo: 1, Reset: true},
			// flow: two units, each echoed twice through a one-unit send
			// buffer, at MaxOutput 1: short writes, the read pause, input
			// held back while output is pending, half-close, quit, a Wake
			// and an AsyncWrite (the second finding pending set), Shutdown.
			{Conns: 1, Fds: 1, Sends: 2, Tasks: 2, SendBuf: 1, MaxOutput: 1, Echo: 2, Wake: true, Quit: true, Shutdown: true},
			// partial: requests of two units, so that the handler declines
			// half a request and the half-close loop offers it once more
			// after the EOF; a Wake; Shutdown.
			{Conns: 1, Fds: 1, Sends: 3, Tasks: 1, SendBuf: 1, MaxOutput: 2, Echo: 2, ReqLen: 2, Wake: true, Quit: true, Shutdown: true},
			// closes: the idle timeout, epoll_ctl ADD and MOD failing,
			// MaxConns, and Shutdown.
			{Conns: 2, Fds: 2, Sends: 1, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 2, MaxConns: 1, Idle: true, CtlFail: true, Shutdown: true},
		}},
	{Name: "bug-task-clear-after-run", Expect: P8, taskClearAfterRun: true,
		Summary: "the task list's pending flag is cleared after the tasks ran, not in the swap",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 0, Tasks: 2, SendBuf: 1, MaxOutput: 1, Echo: 1}}},
	{Name: "bug-task-reset-after-swap", Expect: P8, taskResetAfterSwap: true,
		Summary: "the task eventfd is reset after the swap, so a kick in between is lost",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 0, Tasks: 2, SendBuf: 1, MaxOutput: 1, Echo: 1}}},
	{Name: "bug-close-before-onclose", Expect: P6, closeBeforeOnClose: true,
		Summary: "finalize closes the fd before OnClose runs",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 0, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 1}}},
	{Name: "bug-stale-event", Expect: P6, noEventGen: true,
		Summary: "an event is delivered to the connection now on its fd, whatever its generation",
		checks:  []LifeBounds{{Conns: 3, Fds: 2, Sends: 0, Tasks: 1, SendBuf: 1, MaxOutput: 1, Echo: 1, Reset: true}}},
	{Name: "bug-stale-task", Expect: P6, noTaskGen: true,
		Summary: "a task runs on the connection now on its fd, whatever its generation",
		checks:  []LifeBounds{{Conns: 2, Fds: 1, Sends: 0, Tasks: 1, SendBuf: 1, MaxOutput: 1, Echo: 1}}},
	{Name: "bug-shutdown-early", Expect: P7, shutdownEarly: true,
		Summary: "Shutdown returns once the Workers are told to stop, before they finalized their connections",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 0, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 1, Shutdown: true}}},
	{Name: "bug-shutdown-forgets-queued", Expect: P7, shutdownForgetsQueued: true,
		Summary: "a stopping Worker leaves the fds still in its queue open",
		checks:  []LifeBounds{{Conns: 2, Fds: 2, Sends: 0, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 1, Shutdown: true}}},
	{Name: "bug-add-fail-leaks", Expect: P5, addFailLeaks: true,
		Summary: "when epoll_ctl ADD fails, the fd is never closed",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 0, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 1, CtlFail: true}}},
	{Name: "bug-close-drops-output", Expect: P9, closeDropsOutput: true,
		Summary: "a connection the handler closed is finalized at once, its pending output discarded",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 2, Tasks: 0, SendBuf: 1, MaxOutput: 2, Echo: 2, Quit: true}}},
	{Name: "bug-read-over-bound", Expect: P9, readOverBound: true,
		Summary: "reading goes on while the output is at MaxOutput",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 2, Tasks: 0, SendBuf: 1, MaxOutput: 1, Echo: 2}}},
	{Name: "bug-halfclose-drops-input", Expect: P10, halfCloseDropsInput: true,
		Summary: "at the peer's EOF the input held back is discarded, not offered again",
		checks:  []LifeBounds{{Conns: 1, Fds: 1, Sends: 2, Tasks: 0, SendBuf: 1, MaxOutput: 2, Echo: 2}}},
}

// LifeDesigns returns every lifecycle design, the correct one first, in a
// fixed order.
func LifeDesigns() []LifeDesign { return append([]LifeDesign(nil), lifeDesigns...) }

// LookupLifeDesign returns the lifecycle design called name.
func LookupLifeDesign(name string) (LifeDesign, bool) {
	for _, d := range lifeDesigns {
		if d.Name == name {
			return d, true
		}
	}
	return LifeDesign{}, false
}

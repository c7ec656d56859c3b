package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names one step of a connection's life. The same names are used by the
// model's steps, the Promela processes in spec/dispatch.pml and the reactor's
// trace events (spec/DESIGN.md §4), so that a recorded trace can be replayed
// step by step. The first seven are the hand-off (Accept to Register) and
// Close; the rest are what happens to a registered connection, its Worker's
// task list and the server's stop. Each Kind's comment says where the reactor
// emits it: at the step's linearization point, the moment it takes effect
// for every other thread.
type Kind uint8

const (
	// Accept: an acceptor took a new fd (Event.Fd, the number accept4
	// returned) from a listener, admitted it under MaxConns, and gave it the
	// next global sequence number (Event.Conn) and, with the same atomic
	// step, its worker (round-robin: Conn mod N). Emitted just after that
	// step (acceptor.admit, after balancer.pick), so several acceptors'
	// Accepts may come out of number order.
	Accept Kind = iota + 1
	// Dispatch: the acceptor pushed the connection onto the queue of the
	// worker it picked at Accept, under the queue's lock. With several
	// acceptors, pushes may land out of number order. msgring (io_uring):
	// the kernel posted the acceptor's MSG_RING into the worker's CQ;
	// emitted by the worker as it reaps the completion (worker.reapAll),
	// since no other thread sees the post before that.
	Dispatch
	// Notify: a token is written to the worker's notify channel (a pipe byte or
	// an eventfd increment). Emitted just before the write syscall.
	Notify
	// Wake: the worker read Event.N tokens from its notify channel;
	// msgring: it reaped a batch of its CQ holding N posted connections.
	Wake
	// Pop: the worker took the connection at the head of its queue, under the
	// queue's lock.
	Pop
	// Register: the worker added the fd (Event.Fd) to its epoll set with a
	// new generation (Event.Gen: 1 for the worker's first registration, one
	// more for each after it); OnOpen follows. Emitted in worker.register
	// once epoll_ctl ADD has succeeded (if it fails, Drop instead).
	Register
	// Close: the connection's OnClose ran, for the cause Event.Why, and its
	// fd (Event.Fd, generation Event.Gen) is closed next. Emitted in
	// worker.finalize after OnClose returns, just before close(2): until then
	// the kernel cannot give the number to another connection (P6).
	Close

	// Ready: the worker's poll set reported connection Conn's fd (Event.Fd)
	// ready, with the generation it was armed with (Event.Gen), and the
	// worker acts on it (worker.onEvent, after its generation check; an
	// event the check drops emits nothing).
	Ready
	// Read: read(2) on the connection returned Event.N bytes; N = 0 is the
	// peer's half-close (EOF). Emitted in worker.readConn when the read
	// returns without an error (an error closes the connection: Close with
	// why=reset).
	Read
	// Data: OnData was offered Event.N bytes, what the connection held back
	// followed by what was just read, and consumed Event.Consumed of them.
	// Emitted when OnData returns (worker.deliver; worker.runWake for a
	// Wake with no input held, N = 0).
	Data
	// Write: Conn.Write took Event.N bytes for the connection: it was open
	// and not closing, so the bytes are the connection's to deliver (if its
	// first send fails, the connection fails: Close with why=reset).
	// Emitted in Conn.Write after its checks, before its first send.
	Write
	// Send: send(2) took Event.N bytes of the connection's output, the oldest
	// first. Emitted in Conn.writeSome after each send that took bytes.
	Send
	// Submit: another goroutine's AsyncWrite of Event.N bytes (N = 0: a
	// Wake) for connection Conn of generation Event.Gen was appended to the
	// worker's task list, and the call will return nil. Emitted in
	// owner.addTask under the task list's lock.
	Submit
	// Kick: the worker's task eventfd is written, by owner.addTask when it
	// sets the list's pending flag or by worker.stop. Emitted just before
	// the write, under the task list's lock.
	Kick
	// Tasks: the worker reset its task eventfd and took Event.N tasks from
	// its list under the list's lock, clearing the pending flag (worker.
	// onTasks), or, at shutdown, closed the list and took what it held
	// (worker.shutdown). Emitted under the lock.
	Tasks
	// Run: the worker runs a task it took, in list order, on connection
	// Conn of generation Event.Gen, the one the task was submitted for
	// (worker.runTasks, before the write or OnData). A task whose
	// connection has had its OnClose emits nothing: it is dropped (P8).
	Run
	// Drop: an fd (Event.Fd) is closed without OnClose, for the cause
	// Event.Why: by the acceptor, rejected at MaxConns before it was numbered
	// (acceptor.admit; why=maxconns), or by the worker, still queued at
	// shutdown (worker.shutdown; why=shutdown) or refused by epoll_ctl ADD
	// (worker.register; why=epoll). Emitted just before close(2).
	Drop
	// Stop: the server began to stop (Shutdown or Close was called, or
	// Serve's context ended): the acceptors are told to return. Emitted in
	// Server.Serve when it leaves its wait.
	Stop
	// Done: every acceptor and worker has returned, every fd the server held
	// is closed, and Shutdown returns (P7). Emitted in Server.Serve after
	// the last join, just before it closes done.
	Done
)

var kindNames = [...]string{
	Accept:   "Accept",
	Dispatch: "Dispatch",
	Notify:   "Notify",
	Wake:     "Wake",
	Pop:      "Pop",
	Register: "Register",
	Close:    "Close",
	Ready:    "Ready",
	Read:     "Read",
	Data:     "Data",
	Write:    "Write",
	Send:     "Send",
	Submit:   "Submit",
	Kick:     "Kick",
	Tasks:    "Tasks",
	Run:      "Run",
	Drop:     "Drop",
	Stop:     "Stop",
	Done:     "Done",
}

// counted reports whether Event.String always prints N for events of kind
// k: those whose N = 0 means something (no tokens is not a Wake, but a Read
// of 0 is EOF and a Submit of 0 bytes a Wake).
func (k Kind) counted() bool {
	switch k {
	case Wake, Read, Data, Write, Send, Submit, Tasks:
		return true
	}
	return false
}

// Cause says why a connection was closed (Close) or an fd was closed
// without OnClose (Drop). The zero value, CauseNone, is "not given", as in
// a trace recorded before causes were traced.
type Cause uint8

const (
	// CauseNone: not given.
	CauseNone Cause = iota
	// CauseHandler: the handler called Conn.Close, and the output written
	// before it was flushed.
	CauseHandler
	// CauseEOF: the peer half-closed (Read of 0 bytes), the input it sent
	// before was offered, and the output was flushed.
	CauseEOF
	// CauseReset: a read or send failed (ECONNRESET, EPIPE) or the poll set
	// reported an error on the socket: the peer reset the connection.
	CauseReset
	// CauseIdle: the connection received nothing for IdleTimeout.
	CauseIdle
	// CauseShutdown: the server stopped (Shutdown or Close): for a Close,
	// after one last attempt to flush; for a Drop, an fd still queued.
	CauseShutdown
	// CauseEpoll: epoll_ctl failed: ADD at registration (Drop) or MOD when
	// the interest changed (Close).
	CauseEpoll
	// CauseError: any other failure that closes a connection at once: input
	// held over MaxInput, OnData consuming more than it was offered, a
	// handler panic.
	CauseError
	// CauseMaxConns: the acceptor rejected the fd at MaxConns (Drop).
	CauseMaxConns
)

var causeNames = [...]string{
	CauseNone:     "",
	CauseHandler:  "handler",
	CauseEOF:      "eof",
	CauseReset:    "reset",
	CauseIdle:     "idle",
	CauseShutdown: "shutdown",
	CauseEpoll:    "epoll",
	CauseError:    "error",
	CauseMaxConns: "maxconns",
}

// String returns the cause's name as a trace writes it after "why=".
func (c Cause) String() string {
	if int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("Cause(%d)", uint8(c))
}

// String returns the vocabulary's name for k.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event is one step of a connection's life as observed in a running reactor
// or taken by the model. Fields that do not apply to a Kind are -1
// (Acceptor, Worker, Conn) or zero (the others), so that an Event literal
// written before a field existed, and a trace line without it, mean the same
// as before.
type Event struct {
	Kind Kind
	// Acceptor is the index of the acceptor that performed Accept, Dispatch
	// or Notify, or a Drop at MaxConns; -1 for the other steps.
	Acceptor int
	// Worker is the index of the worker the step concerns: the chosen worker
	// for Dispatch and Notify, the acting worker for the worker's steps, the
	// worker whose task list a Submit or Kick goes to; -1 for Accept, a Drop
	// by the acceptor, Stop and Done.
	Worker int
	// Conn is the connection's global accept sequence number, starting at 0;
	// -1 for steps that carry no connection (Notify, Wake, Kick, Tasks, an
	// acceptor's Drop, Stop, Done).
	Conn int64
	// N is a count: tokens read (Wake), bytes read (Read; 0 is EOF), bytes
	// offered to OnData (Data), bytes written or sent (Write, Send), bytes
	// of an AsyncWrite (Submit; 0 for a Wake), tasks taken (Tasks).
	N int
	// Consumed is the number of the N bytes offered that OnData consumed
	// (Data).
	Consumed int
	// Fd is the connection's fd number (Accept, Register, Ready, Close,
	// Drop); 0 when not given (fd 0 is standard input, never a connection).
	Fd int
	// Gen is the registration's generation (Register, Ready, Submit, Run,
	// Close); 0 when not given (generations start at 1).
	Gen uint32
	// Why is the cause of a Close or a Drop; CauseNone when not given.
	Why Cause
}

// String renders e in the form the model's scripts and counterexamples use,
// for example "Dispatch a=0 w=1 c=3" or "Close w=1 c=3 fd=7 g=2 why=eof".
// A field is written only when it applies (not -1, not zero), and N always
// for the kinds whose N of 0 means something.
func (e Event) String() string {
	s := e.Kind.String()
	if e.Acceptor >= 0 {
		s += fmt.Sprintf(" a=%d", e.Acceptor)
	}
	if e.Worker >= 0 {
		s += fmt.Sprintf(" w=%d", e.Worker)
	}
	if e.Conn >= 0 {
		s += fmt.Sprintf(" c=%d", e.Conn)
	}
	if e.Fd != 0 {
		s += fmt.Sprintf(" fd=%d", e.Fd)
	}
	if e.Gen != 0 {
		s += fmt.Sprintf(" g=%d", e.Gen)
	}
	if e.Kind.counted() || e.N != 0 {
		s += fmt.Sprintf(" n=%d", e.N)
	}
	if e.Kind == Data || e.Consumed != 0 {
		s += fmt.Sprintf(" consumed=%d", e.Consumed)
	}
	if e.Why != CauseNone {
		s += " why=" + e.Why.String()
	}
	return s
}

// ParseEvent is the inverse of Event.String: it reads "Dispatch a=0 w=1 c=3"
// into an Event. Fields left out take their "does not apply" value.
func ParseEvent(s string) (Event, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Event{}, fmt.Errorf("model: empty event")
	}
	e := Event{Acceptor: -1, Worker: -1, Conn: -1}
	for k, name := range kindNames {
		if name != "" && name == f[0] {
			e.Kind = Kind(k)
		}
	}
	if e.Kind == 0 {
		return Event{}, fmt.Errorf("model: unknown event kind %q", f[0])
	}
	for _, kv := range f[1:] {
		key, val, ok := strings.Cut(kv, "=")
		if ok && key == "why" {
			c, err := parseCause(val)
			if err != nil {
				return Event{}, fmt.Errorf("model: %v in event %q", err, s)
			}
			e.Why = c
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil {
			return Event{}, fmt.Errorf("model: bad field %q in event %q", kv, s)
		}
		switch key {
		case "a":
			e.Acceptor = int(n)
		case "w":
			e.Worker = int(n)
		case "c":
			e.Conn = n
		case "n":
			e.N = int(n)
		case "consumed":
			e.Consumed = int(n)
		case "fd":
			e.Fd = int(n)
		case "g":
			if n < 0 || n > 1<<32-1 {
				return Event{}, fmt.Errorf("model: bad generation %q in event %q", kv, s)
			}
			e.Gen = uint32(n)
		default:
			return Event{}, fmt.Errorf("model: unknown field %q in event %q", key, s)
		}
	}
	return e, nil
}

// parseCause reads a cause's name, as Cause.String writes it.
func parseCause(name string) (Cause, error) {
	for c, n := range causeNames {
		if n != "" && n == name {
			return Cause(c), nil
		}
	}
	return CauseNone, fmt.Errorf("unknown cause %q", name)
}

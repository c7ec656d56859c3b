package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind names one step of the hand-off. The same names are used by the model's
// steps, the Promela processes in spec/dispatch.pml and the reactor's trace
// events (spec/DESIGN.md §4), so that a recorded trace can be replayed step
// by step.
type Kind uint8

const (
	// Accept: an acceptor took a new fd from a listener and gave it the next
	// global sequence number (Event.Conn) and, with the same atomic step, its
	// worker (round-robin: Conn mod N). Emitted just after that step, so
	// several acceptors' Accepts may come out of number order.
	Accept Kind = iota + 1
	// Dispatch: the acceptor pushed the connection onto the queue of the
	// worker it picked at Accept, under the queue's lock. With several
	// acceptors, pushes may land out of number order.
	Dispatch
	// Notify: a token is written to the worker's notify channel (a pipe byte or
	// an eventfd increment). Emitted just before the write syscall.
	Notify
	// Wake: the worker read Event.N tokens from its notify channel.
	Wake
	// Pop: the worker took the connection at the head of its queue, under the
	// queue's lock.
	Pop
	// Register: the worker added the fd to its epoll set; OnOpen follows.
	Register
	// Close: the connection's OnClose ran and its fd was closed.
	Close
)

var kindNames = [...]string{
	Accept:   "Accept",
	Dispatch: "Dispatch",
	Notify:   "Notify",
	Wake:     "Wake",
	Pop:      "Pop",
	Register: "Register",
	Close:    "Close",
}

// String returns the vocabulary's name for k.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Event is one step of the hand-off as observed in a running reactor or taken
// by the model. Fields that do not apply to a Kind are -1 (Acceptor, Worker) or
// 0 (N).
type Event struct {
	Kind Kind
	// Acceptor is the index of the acceptor that performed Accept, Dispatch
	// or Notify; -1 for worker steps.
	Acceptor int
	// Worker is the index of the worker the step concerns: the chosen worker
	// for Dispatch and Notify, the acting worker for Wake, Pop, Register and
	// Close; -1 for Accept.
	Worker int
	// Conn is the connection's global accept sequence number, starting at 0;
	// -1 for Notify and Wake, which carry no connection.
	Conn int64
	// N is the number of tokens read, for Wake only.
	N int
}

// String renders e in the form the model's scripts and counterexamples use,
// for example "Dispatch a=0 w=1 c=3".
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
	if e.Kind == Wake {
		s += fmt.Sprintf(" n=%d", e.N)
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
		default:
			return Event{}, fmt.Errorf("model: unknown field %q in event %q", key, s)
		}
	}
	return e, nil
}

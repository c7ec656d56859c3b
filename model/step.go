package model

import (
	"fmt"
	"strings"
)

// Hidden parts of a vocabulary step. A vocabulary step that the
// implementation performs as several atomic actions is cut into parts, and
// every part but the one that emits the trace event is hidden; so is an
// action that emits no event at all.
const (
	// PartReadSeq: bug-racy-rr accepts an fd and reads the shared counter;
	// writing it back is the Accept (Accept).
	PartReadSeq = "read-seq"
	// PartPick: the pick that the reactor's Accept event follows (the
	// counter's atomic add; in bug-racy-rr its write back), in a Machine
	// whose Accept is emitted after the pick (Machine.lag) (Accept).
	PartPick = "pick"
	// PartReadQueue: bug-unlocked-pop reads the queue before writing it back
	// (Dispatch or Pop).
	PartReadQueue = "read-queue"
	// PartEmpty: a pop finds the queue empty (Pop).
	PartEmpty = "empty"
	// PartNoToken: the coalesced flag was already set, so no token is written
	// (Notify).
	PartNoToken = "no-token"
	// PartFlip: the coalesced Acceptor's compare-and-swap flips the flag
	// 0→1; writing the token is the Notify (Notify).
	PartFlip = "flip"
	// PartClear: the coalesced Worker clears its wake-up flag (Wake).
	PartClear = "clear"
)

// Step is one atomic action of an Acceptor or a Worker.
type Step struct {
	// Event is the action in the trace vocabulary.
	Event Event
	// Part is "" for the part that emits Event in a trace, else the name of
	// a hidden part (PartReadSeq, ...).
	Part string
	// Note says what the step saw or did, for a person reading a trace.
	Note string
}

// Hidden reports whether the implementation's trace omits s.
func (s Step) Hidden() bool { return s.Part != "" }

// String renders s as counterexamples print it: the event, the hidden part
// in brackets, the note after a colon.
func (s Step) String() string {
	if s.Event.Kind == 0 {
		return "[" + s.Part + "] " + s.Note // a peer's, the kernel's or the clock's: no event
	}
	str := s.Event.String()
	if s.Event.Kind == Wake && s.Part != "" {
		str = strings.Replace(str, fmt.Sprintf(" n=%d", s.Event.N), "", 1) // a hidden part reads nothing
	}
	if s.Part != "" {
		str += " [" + s.Part + "]"
	}
	if s.Note != "" {
		str += ": " + s.Note
	}
	return str
}

// Transition is one enabled Step and the State it leads to.
type Transition struct {
	Step Step
	Next State
	// Violation is the safety property (P1–P3) the step breaks, or nil.
	Violation *Violation
}

// Machine is a design's step function over a system of fixed size.
// A Machine is immutable and safe for concurrent use.
type Machine struct {
	d Design
	b Bounds
	// replay: Accept and Wake take their conn and count from the replayed
	// event, no history is kept in State.Conns, a draining Worker's "found
	// empty, back to epoll_wait" is folded into Worker.MayIdle (foldIdle),
	// and a coalesced Worker's flag clear waits until needed (lazyClear).
	replay bool
	// lag: the Accept event is emitted after the pick, as the reactor emits
	// it after balancer.pick, so the pick is a hidden step (PartPick) and
	// Accepts may come out of number order. Replay sets it and takes the
	// pick lazily (reserve); the explorer's Accept is the pick itself.
	// With lag no history is kept in State.Conns.
	lag bool
}

// NewMachine returns the step function of the design named d.Name for a
// system within b.
func NewMachine(d Design, b Bounds) (*Machine, error) {
	if err := b.validate(true); err != nil {
		return nil, err
	}
	d, ok := LookupDesign(d.Name)
	if !ok {
		return nil, fmt.Errorf("model: unknown design %q", d.Name)
	}
	return &Machine{d: d, b: b}, nil
}

// Design returns the machine's design.
func (m *Machine) Design() Design { return m.d }

// Bounds returns the machine's bounds.
func (m *Machine) Bounds() Bounds { return m.b }

// Initial returns the state before the first Accept: every Acceptor and
// Worker idle, every queue and channel empty.
func (m *Machine) Initial() State {
	s := State{Acceptors: make([]Acceptor, m.b.Acceptors), Workers: make([]Worker, m.b.Workers)}
	for i := range s.Acceptors {
		s.Acceptors[i] = Acceptor{Conn: -1, Worker: -1}
	}
	for i := range s.Workers {
		s.Workers[i] = Worker{Conn: -1}
	}
	if !m.replay && !m.lag {
		s.Conns = []ConnGhost{}
	}
	return s
}

// Steps returns every step enabled in s, Acceptors first, then Workers, each
// in index order; none when s is quiescent.
func (m *Machine) Steps(s State) []Transition {
	var out []Transition
	m.successors(&s, nil, func(t Transition) { out = append(out, t) })
	return out
}

// successors calls emit for every step enabled in s. in is the event being
// replayed, nil when exploring; it supplies Accept's conn and Wake's count.
func (m *Machine) successors(s *State, in *Event, emit func(Transition)) {
	for a := range s.Acceptors {
		m.acceptorSteps(s, a, in, emit)
	}
	for w := range s.Workers {
		m.workerSteps(s, w, in, emit)
	}
}

// pipeFull reports whether a token written to w now would not fit.
func (m *Machine) pipeFull(w *Worker) bool {
	return m.d.Channel == Pipe && w.Tokens >= m.pipeCap()
}

func (m *Machine) pipeCap() int {
	if m.replay {
		return 1 << 16 // Linux's default pipe buffer, in bytes
	}
	return m.b.PipeCap
}

// finish completes a successor: Replay's fold of the empty check.
func (m *Machine) finish(n *State) {
	if !m.foldIdle() {
		return
	}
	for i := range n.Workers {
		w := &n.Workers[i]
		draining := w.PC == WCheck || w.PC == WClear && m.lazyClear()
		empty := len(w.Queue) == 0
		if m.d.Channel == Ring {
			empty = w.CQ == 0 // msgring's Worker looks at its CQ alone
		}
		w.MayIdle = draining && (w.MayIdle || empty)
	}
}

// foldIdle reports whether Replay folds a draining Worker's "queue empty,
// back to epoll_wait" into Worker.MayIdle instead of taking it as a hidden
// step. It may: the step changes only the Worker's program counter, which
// no other thread reads, and the queue only grows until the Worker pops, so
// "found it empty" is possible exactly when the queue was empty at some point
// since the Worker reached WCheck. Without the fold, every Worker that
// drained would double the set of states Replay tracks.
func (m *Machine) foldIdle() bool {
	return m.replay && m.d.drain && !m.d.clearAfterDrain
}

// lazyClear reports whether Replay takes a coalesced Worker's flag clear
// only when the trace needs it: before the Worker's own next event, or
// before an Acceptor's compare-and-swap flips the flag (flipFlag), which
// needs it at 0. Taking it as late as that loses no run: between the real
// clear and that point nothing reads the flag as 0, and an Acceptor that
// finds it set (no token) fits the later clear as well. The Worker's
// MayIdle, kept while it is in WClear, remembers whether its queue was
// empty since the wake-up and since the last Acceptor found the flag set
// (which the clear must follow), so the clear and the empty check can still
// be placed early. Without this, every Worker woken for nothing would
// double the set of states Replay tracks until its next event.
func (m *Machine) lazyClear() bool {
	return m.replay && m.d.coalesced && !m.d.clearAfterDrain
}

// clearNow takes Worker w's pending flag clear in n, in place.
func (m *Machine) clearNow(n *State, w int) {
	wk := &n.Workers[w]
	wk.Flag = false
	wk.PC = WCheck
}

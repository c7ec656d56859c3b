package model

import (
	"fmt"
	"sort"
	"strings"
)

// maxReplayStates bounds the set of model states Replay keeps consistent
// with the trace so far. The correct designs need a handful: a hidden step
// (a coalesced Acceptor flipping the flag or finding it set, a Worker
// clearing it) makes the set branch only until the thread's next event
// decides which way it went.
const maxReplayStates = 1 << 12

// ReplayResult is what Replay found.
type ReplayResult struct {
	// Accepted is the number of events the model accepted: len(trace) when
	// Refused is nil, else Refused.Index.
	Accepted int
	// Refused is the first event the model refused, nil if it accepted all.
	Refused *Refusal
	// Final is a model state after the last accepted event. Every state
	// consistent with the trace has the same per-Worker counts.
	Final State
	// MaxStates is the largest number of model states that fitted the trace
	// at once: how much the hidden steps left undecided.
	MaxStates int

	m *Machine
}

// Refusal is an event the model cannot take.
type Refusal struct {
	// Index is the event's position in the trace.
	Index int
	Event Event
	// Reason says why, in words, with the steps the model could take instead.
	Reason string
	// State is a model state just before the event (the first of those
	// consistent with the trace).
	State State
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("model refused event %d (%s): %s", r.Index, r.Event, r.Reason)
}

// Registered returns the number of connections each Worker registered.
func (r *ReplayResult) Registered() []int {
	out := make([]int, len(r.Final.Workers))
	for i, w := range r.Final.Workers {
		out[i] = w.Registered
	}
	return out
}

// Dispatched returns the number of connections dispatched to each Worker.
func (r *ReplayResult) Dispatched() []int {
	out := make([]int, len(r.Final.Workers))
	for i, w := range r.Final.Workers {
		out[i] = w.Dispatched
	}
	return out
}

// Describe renders a state of this replay as Machine.Describe does.
func (r *ReplayResult) Describe(s State) []string { return r.m.Describe(s) }

// Replay feeds a recorded trace through the step function of the design
// named d.Name (see the package doc for the reactor's mapping), event by
// event, and returns the first event the model refuses. The trace is what
// the reactor emits (contract: the Kinds of event.go, each at its
// linearization point); it is not limited by the explorer's bounds, only
// the system's size is given. A trace of the hand-off alone (Accept,
// Dispatch, Notify, Wake, Pop, Register, Close) is checked as it always
// was; the lifecycle's events are checked as ReplayWith says.
//
// The model's hidden steps (those that emit no event) are taken whenever the
// next event needs them: Replay tracks the set of model states consistent
// with the trace so far. Where the implementation cannot emit an event
// atomically with its action, Replay accepts what that gap allows: an
// Accept may carry any sequence number not seen before (two Acceptors number
// fds in one order and emit in another), and a Wake may read fewer tokens
// than the model holds (Notify is emitted just before its write). Close is
// checked on the side: the connection must be registered by that Worker and
// closed once.
func Replay(d Design, workers, acceptors int, trace []Event) (*ReplayResult, error) {
	return ReplayWith(d, ReplayConfig{Workers: workers, Acceptors: acceptors}, trace)
}

// ReplayConfig is the size of the system a trace was recorded from, and
// what of its configuration the lifecycle's checks need.
type ReplayConfig struct {
	Workers, Acceptors int
	// MaxOutput is the server's Config.MaxOutput in bytes, for P9's bound
	// (no read while that much output is pending); 0 leaves it unchecked.
	MaxOutput int
}

// ReplayWith is Replay with the whole configuration. Besides the hand-off,
// which goes through the design's step function, the lifecycle's events
// (Ready, Read, Data, Write, Send, Submit, Kick, Tasks, Run, Drop, Stop,
// Done, and the fd, generation and cause of Accept, Register and Close) go
// through the lifecycle's rules for the Worker's side (lifeCheck, the
// server side of LifeMachine): a refusal there names the property, P5–P10,
// the event breaks. A Drop for an fd whose epoll_ctl ADD failed ends that
// connection's hand-off as its Register would have.
func ReplayWith(d Design, cfg ReplayConfig, trace []Event) (*ReplayResult, error) {
	d, ok := LookupDesign(d.Name)
	if !ok {
		return nil, fmt.Errorf("model: unknown design %q", d.Name)
	}
	workers, acceptors := cfg.Workers, cfg.Acceptors
	b := Bounds{Workers: workers, Acceptors: acceptors, PipeCap: 1}
	if err := b.validate(false); err != nil {
		return nil, err
	}
	m := &Machine{d: d, b: b, replay: true, lag: true}
	set := m.closure([]State{m.Initial()})
	res := &ReplayResult{m: m, MaxStates: len(set)}
	seen := map[int64]bool{}
	regBy := map[int64]int{}
	closed := map[int64]bool{}
	life := newLifeCheck(cfg.MaxOutput)
	for i, ev := range trace {
		refuse := func(reason string) (*ReplayResult, error) {
			res.Accepted = i
			res.Refused = &Refusal{Index: i, Event: ev, Reason: reason, State: set[0]}
			res.Final = set[0]
			return res, nil
		}
		if reason := m.badIndex(ev); reason != "" {
			return refuse(reason)
		}
		handoff := ev
		switch ev.Kind {
		case Ready, Read, Data, Write, Send, Submit, Kick, Tasks, Run, Stop, Done:
			if err := life.step(ev); err != nil {
				return refuse(err.Error())
			}
			continue
		case Drop:
			if err := life.step(ev); err != nil {
				return refuse(err.Error())
			}
			if ev.Worker < 0 || ev.Why != CauseEpoll {
				continue
			}
			// the attempt to register ends the hand-off
			handoff = Event{Kind: Register, Acceptor: -1, Worker: ev.Worker, Conn: ev.Conn}
		}
		switch ev.Kind {
		case Accept:
			if seen[ev.Conn] {
				return refuse(fmt.Sprintf("c%d was accepted before", ev.Conn))
			}
			if ev.Conn < 0 {
				return refuse("negative sequence number")
			}
		case Close:
			switch w, ok := regBy[ev.Conn]; {
			case !ok:
				return refuse(fmt.Sprintf("c%d is not registered", ev.Conn))
			case w != ev.Worker:
				return refuse(fmt.Sprintf("c%d is registered by worker %d", ev.Conn, w))
			case closed[ev.Conn]:
				return refuse(fmt.Sprintf("c%d was closed before", ev.Conn))
			}
			closed[ev.Conn] = true
			if err := life.step(ev); err != nil {
				return refuse(err.Error())
			}
			continue
		}
		hev := handoff
		hev.Fd, hev.Gen, hev.Why = 0, 0, CauseNone // the hand-off's machine steps by the fields it knows
		var next []State
		for k := range set {
			m.eventSteps(&set[k], hev, func(t Transition) {
				if !t.Step.Hidden() && t.Step.Event == hev {
					next = append(next, t.Next)
				}
			})
		}
		if len(next) == 0 {
			return refuse(m.refusalReason(set))
		}
		set = m.closure(next)
		res.MaxStates = max(res.MaxStates, len(set))
		if len(set) > maxReplayStates {
			return nil, fmt.Errorf("model: replay of %s: more than %d model states fit the trace at event %d", d.Name, maxReplayStates, i)
		}
		switch ev.Kind {
		case Accept:
			seen[ev.Conn] = true
		case Register:
			regBy[ev.Conn] = ev.Worker
		}
		if ev.Kind != Drop {
			if err := life.step(ev); err != nil {
				return refuse(err.Error())
			}
		}
	}
	res.Accepted = len(trace)
	res.Final = set[0]
	return res, nil
}

// badIndex checks ev's thread indices against the system's size.
func (m *Machine) badIndex(ev Event) string {
	switch ev.Kind {
	case Accept, Dispatch, Notify:
		if ev.Acceptor < 0 || ev.Acceptor >= m.b.Acceptors {
			return fmt.Sprintf("no acceptor %d (the system has %d)", ev.Acceptor, m.b.Acceptors)
		}
	case Drop:
		if ev.Worker < 0 {
			if ev.Acceptor < 0 || ev.Acceptor >= m.b.Acceptors {
				return fmt.Sprintf("no acceptor %d (the system has %d)", ev.Acceptor, m.b.Acceptors)
			}
			return ""
		}
	case Stop, Done:
		return ""
	case Wake, Pop, Register, Close, Ready, Read, Data, Write, Send, Submit, Kick, Tasks, Run:
	default:
		return fmt.Sprintf("unknown kind %s", ev.Kind)
	}
	if ev.Kind != Accept && (ev.Worker < 0 || ev.Worker >= m.b.Workers) {
		return fmt.Sprintf("no worker %d (the system has %d)", ev.Worker, m.b.Workers)
	}
	return ""
}

// eventSteps emits the steps of the thread that ev names, after the
// Worker's flag clear if Replay deferred it (lazyClear) and ev is that
// Worker's own event. An Acceptor's events need no clear: its Notify
// follows its flip, which took the clear it needed (flipFlag).
func (m *Machine) eventSteps(s *State, ev Event, emit func(Transition)) {
	if m.lazyClear() && ev.Acceptor < 0 && ev.Worker >= 0 && s.Workers[ev.Worker].PC == WClear {
		c := s.clone()
		m.clearNow(&c, ev.Worker)
		s = &c
	}
	switch ev.Kind {
	case Accept, Dispatch, Notify:
		m.acceptorSteps(s, ev.Acceptor, &ev, emit)
	default:
		m.workerSteps(s, ev.Worker, &ev, emit)
	}
}

// closure returns states with every state reachable from them by hidden
// steps added, without duplicates, in a deterministic order.
func (m *Machine) closure(states []State) []State {
	var out []State
	seen := map[string]bool{}
	add := func(s State) {
		k := s.Key()
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	for _, s := range states {
		add(s)
	}
	for i := 0; i < len(out) && len(out) <= maxReplayStates; i++ {
		m.successors(&out[i], nil, func(t Transition) {
			if t.Step.Hidden() {
				add(t.Next)
			}
		})
	}
	return out
}

// refusalReason lists the events the model could have taken instead.
func (m *Machine) refusalReason(set []State) string {
	could := map[string]bool{}
	for k := range set {
		m.successors(&set[k], nil, func(t Transition) {
			if !t.Step.Hidden() {
				e := t.Step.Event
				if e.Kind == Accept && set[k].Acceptors[e.Acceptor].PC == AIdle {
					e.Conn = -1 // an idle Acceptor may take any number Replay allows
				}
				could[e.String()] = true
			}
		})
	}
	if len(could) == 0 {
		return "the model can take no step here"
	}
	var l []string
	for e := range could {
		l = append(l, e)
	}
	sort.Strings(l)
	return "the model can take only: " + strings.Join(l, ", ")
}

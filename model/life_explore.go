package model

import (
	"fmt"
)

// LifeResult is what ExploreLife found.
type LifeResult struct {
	Design LifeDesign
	Bounds LifeBounds
	// States counts the distinct states reached, the initial one included;
	// Transitions the steps taken; Depth the longest shortest path.
	States, Transitions, Depth int
	// Violation is the property broken, nil when P4–P10 hold within Bounds.
	Violation *Violation
	// Trace is the shortest counterexample when Violation is not nil:
	// Trace[0] is the initial state, each later entry a step and the state
	// after it.
	Trace []LifeTraceStep

	m *LifeMachine
}

// LifeTraceStep is one step of a lifecycle counterexample and the state
// after it.
type LifeTraceStep struct {
	Step  Step
	State LifeState
}

// lifeSpace is the LifeMachine as a space for the search.
type lifeSpace struct{ m *LifeMachine }

func (l lifeSpace) initial() LifeState { return l.m.Initial() }
func (l lifeSpace) next(s *LifeState, emit func(Step, LifeState, *Violation)) {
	l.m.successors(s, func(t LifeTransition) { emit(t.Step, t.Next, t.Violation) })
}
func (l lifeSpace) stuck(s *LifeState) *Violation        { return l.m.quiescent(s) }
func (l lifeSpace) encode(s *LifeState, b []byte) []byte { return s.appendKey(b, &l.m.b) }
func (l lifeSpace) decode(k []byte) (LifeState, error)   { return decodeLifeKey(k, &l.m.b) }

// ExploreLife enumerates every state of lifecycle design d within b
// breadth-first, as Explore does the hand-off's, and checks P5–P10 (and
// P4 of the hand-off it is composed with) in each; the first violation
// found comes with one of the shortest counterexamples.
func ExploreLife(d LifeDesign, b LifeBounds, opt Options) (*LifeResult, error) {
	m, err := NewLifeMachine(d, b)
	if err != nil {
		return nil, err
	}
	f, err := search[LifeState](lifeSpace{m}, opt)
	if err != nil {
		return nil, err
	}
	r := &LifeResult{Design: m.d, Bounds: b, m: m, States: f.states, Transitions: f.transitions, Depth: f.depth, Violation: f.v}
	for _, p := range f.path {
		r.Trace = append(r.Trace, LifeTraceStep{p.step, p.state})
	}
	return r, nil
}

// Steps returns the counterexample's steps without the states, in order.
func (r *LifeResult) Steps() []Step {
	var out []Step
	for _, ts := range r.Trace[min(1, len(r.Trace)):] {
		out = append(out, ts.Step)
	}
	return out
}

// Events returns the counterexample as the reactor would trace it: what
// each of its steps traces, in order (LifeTransition.Trace).
func (r *LifeResult) Events() []Event {
	var out []Event
	for i := 1; i < len(r.Trace); i++ {
		want := r.Trace[i].State.Key(r.Bounds)
		for _, t := range r.m.Steps(r.Trace[i-1].State) {
			if t.Step == r.Trace[i].Step && t.Next.Key(r.Bounds) == want {
				out = append(out, t.Trace()...)
				break
			}
		}
	}
	return out
}

// String reports the result as modelcheck prints it.
func (r *LifeResult) String() string { return r.report().String() }

// TraceText renders the counterexample as numbered steps, each followed by
// the state after it; step 0 is the initial state.
func (r *LifeResult) TraceText() string { return r.report().traceText() }

// DOT renders the counterexample as a Graphviz digraph, as Result.DOT does.
func (r *LifeResult) DOT() string { return r.report().dot() }

func (r *LifeResult) report() report {
	rep := report{
		name: r.Design.Name, summary: r.Design.Summary, bounds: r.Bounds.String(),
		holds:     fmt.Sprintf("%s, %s, %s, %s, %s, %s (and %s of the hand-off)", P5, P6, P7, P8, P9, P10, P4),
		violation: r.Violation, transitions: r.Transitions, depth: r.Depth, explored: r.States,
	}
	for _, ts := range r.Trace {
		rep.steps = append(rep.steps, ts.Step)
		rep.states = append(rep.states, r.m.Describe(ts.State))
	}
	return rep
}

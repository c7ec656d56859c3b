package model

import "fmt"

// Result is what Explore found.
type Result struct {
	Design Design
	Bounds Bounds
	// States counts the distinct states reached, the initial one included.
	States int
	// Transitions counts the steps taken, those into states already seen
	// included.
	Transitions int
	// Depth is the length of the longest shortest path explored.
	Depth int
	// Violation is the property broken, nil when P1–P4 hold within Bounds.
	Violation *Violation
	// Trace is the shortest counterexample when Violation is not nil: Trace[0]
	// is the initial state (its Step is zero), each later entry a step and
	// the state after it.
	Trace []TraceStep

	m *Machine
}

// TraceStep is one step of a counterexample and the state after it.
type TraceStep struct {
	Step  Step
	State State
}

// Options tune Explore. The zero value reports no progress.
type Options struct {
	// Progress, if not nil, is called after every ProgressEvery new states
	// (default 1<<16) with the counts so far; the caller owns the clock.
	Progress      func(states, transitions, depth int)
	ProgressEvery int
}

// Explore enumerates every state of design d within b breadth-first and
// checks P1–P4 in each. It stops at the first violation, which is therefore
// one of the shortest: every state is first reached by a shortest path, and
// a level of the search is finished before a safety violation found on the
// way to the next level is reported, so a quiescent state that breaks P4 one
// step earlier wins. The result is deterministic: steps are tried in the
// order Machine.Steps lists them.
func Explore(d Design, b Bounds, opt Options) (*Result, error) {
	m, err := NewMachine(d, b)
	if err != nil {
		return nil, err
	}
	f, err := search[State](handoffSpace{m}, opt)
	if err != nil {
		return nil, err
	}
	r := &Result{Design: d, Bounds: b, m: m, States: f.states, Transitions: f.transitions, Depth: f.depth, Violation: f.v}
	for _, p := range f.path {
		r.Trace = append(r.Trace, TraceStep{p.step, p.state})
	}
	return r, nil
}

// space is what the breadth-first search needs of a machine: its initial
// state, its steps, its check of a state where no step is enabled, and the
// encoding its visited set is keyed by.
type space[S any] interface {
	initial() S
	next(s *S, emit func(st Step, n S, v *Violation))
	stuck(s *S) *Violation
	encode(s *S, b []byte) []byte
	decode(k []byte) (S, error)
}

// handoffSpace is the hand-off Machine as a space.
type handoffSpace struct{ m *Machine }

func (h handoffSpace) initial() State { return h.m.Initial() }
func (h handoffSpace) next(s *State, emit func(Step, State, *Violation)) {
	h.m.successors(s, nil, func(t Transition) { emit(t.Step, t.Next, t.Violation) })
}
func (h handoffSpace) stuck(s *State) *Violation        { return checkQuiescent(s, h.m.b) }
func (h handoffSpace) encode(s *State, b []byte) []byte { return s.appendKey(b) }
func (h handoffSpace) decode(k []byte) (State, error) {
	return decodeKey(k, h.m.b.Acceptors, h.m.b.Workers)
}

// found is what search found; path is the counterexample, path[0] the
// initial state with a zero step.
type found[S any] struct {
	states, transitions, depth int
	v                          *Violation
	path                       []pathStep[S]
}

type pathStep[S any] struct {
	step  Step
	state S
}

// search is the breadth-first search of Explore and ExploreLife.
func search[S any](sp space[S], opt Options) (found[S], error) {
	every := opt.ProgressEvery
	if every <= 0 {
		every = 1 << 16
	}
	var r found[S]
	init := sp.initial()
	seen := newVisited()
	seen.add(sp.encode(&init, nil))
	parent := []int32{-1}
	level := []int32{0}
	var scratch []byte // the key being looked up
	type safety struct {
		from int32
		step Step
		next S
		v    *Violation
	}
	for depth := 0; len(level) > 0; depth++ {
		r.depth = depth
		var next []int32
		var bad *safety
		for _, idx := range level {
			s, err := sp.decode(seen.key(idx))
			if err != nil {
				return r, err
			}
			enabled := 0
			sp.next(&s, func(st Step, n S, v *Violation) {
				enabled++
				r.transitions++
				if v != nil {
					if bad == nil {
						bad = &safety{idx, st, n, v}
					}
					return
				}
				if bad != nil {
					return
				}
				scratch = sp.encode(&n, scratch[:0])
				k, added := seen.add(scratch)
				if !added {
					return
				}
				parent = append(parent, idx)
				next = append(next, k)
				if opt.Progress != nil && seen.len()%every == 0 {
					opt.Progress(seen.len(), r.transitions, depth+1)
				}
			})
			if enabled == 0 {
				if v := sp.stuck(&s); v != nil {
					r.states = seen.len()
					r.v = v
					r.path = pathTo(sp, seen, parent, idx)
					return r, nil
				}
			}
		}
		if bad != nil {
			r.states = seen.len()
			r.v = bad.v
			r.path = append(pathTo(sp, seen, parent, bad.from), pathStep[S]{bad.step, bad.next})
			r.depth = depth + 1
			return r, nil
		}
		level = next
	}
	r.states = seen.len()
	return r, nil
}

// pathTo rebuilds the steps from the initial state to state idx: for each
// state on the way it takes the first step (in the order the machine lists
// them) that leads to the next one.
func pathTo[S any](sp space[S], seen *visited, parent []int32, idx int32) []pathStep[S] {
	var chain []int32
	for i := idx; i >= 0; i = parent[i] {
		chain = append(chain, i)
	}
	s, _ := sp.decode(seen.key(chain[len(chain)-1]))
	out := []pathStep[S]{{state: s}}
	var scratch []byte
	for i := len(chain) - 2; i >= 0; i-- {
		want := string(seen.key(chain[i]))
		var found *pathStep[S]
		sp.next(&s, func(st Step, n S, v *Violation) {
			if found != nil || v != nil {
				return
			}
			scratch = sp.encode(&n, scratch[:0])
			if string(scratch) == want {
				found = &pathStep[S]{st, n}
			}
		})
		if found == nil {
			panic(fmt.Sprintf("model: no step from state %d to state %d", chain[i+1], chain[i]))
		}
		out = append(out, *found)
		s = found.state
	}
	return out
}

// Steps returns the counterexample's steps without the states, in order.
func (r *Result) Steps() []Step {
	var out []Step
	for _, ts := range r.Trace[min(1, len(r.Trace)):] {
		out = append(out, ts.Step)
	}
	return out
}

// Events returns the counterexample as the implementation would trace it:
// its visible steps' events.
func (r *Result) Events() []Event {
	var out []Event
	for _, st := range r.Steps() {
		if !st.Hidden() {
			out = append(out, st.Event)
		}
	}
	return out
}

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
	every := opt.ProgressEvery
	if every <= 0 {
		every = 1 << 16
	}
	r := &Result{Design: d, Bounds: b, m: m}
	init := m.Initial()
	seen := newVisited()
	seen.add(init.appendKey(nil))
	parent := []int32{-1}
	level := []int32{0}
	var scratch []byte // the key being looked up
	type safety struct {
		from int32
		t    Transition
	}
	for depth := 0; len(level) > 0; depth++ {
		r.Depth = depth
		var next []int32
		var bad *safety
		for _, idx := range level {
			s, err := decodeKey(seen.key(idx), b.Acceptors, b.Workers)
			if err != nil {
				return nil, err
			}
			enabled := 0
			m.successors(&s, nil, func(t Transition) {
				enabled++
				r.Transitions++
				if t.Violation != nil {
					if bad == nil {
						bad = &safety{idx, t}
					}
					return
				}
				if bad != nil {
					return
				}
				scratch = t.Next.appendKey(scratch[:0])
				n, added := seen.add(scratch)
				if !added {
					return
				}
				parent = append(parent, idx)
				next = append(next, n)
				if opt.Progress != nil && seen.len()%every == 0 {
					opt.Progress(seen.len(), r.Transitions, depth+1)
				}
			})
			if enabled == 0 {
				if v := checkQuiescent(&s); v != nil {
					r.States = seen.len()
					r.Violation = v
					r.Trace = r.path(seen, parent, idx)
					return r, nil
				}
			}
		}
		if bad != nil {
			r.States = seen.len()
			r.Violation = bad.t.Violation
			r.Trace = append(r.path(seen, parent, bad.from), TraceStep{bad.t.Step, bad.t.Next})
			r.Depth = depth + 1
			return r, nil
		}
		level = next
	}
	r.States = seen.len()
	return r, nil
}

// path rebuilds the steps from the initial state to state idx: for each
// state on the way it takes the first step (in Steps order) that leads to
// the next one.
func (r *Result) path(seen *visited, parent []int32, idx int32) []TraceStep {
	var chain []int32
	for i := idx; i >= 0; i = parent[i] {
		chain = append(chain, i)
	}
	b := r.Bounds
	s, _ := decodeKey(seen.key(chain[len(chain)-1]), b.Acceptors, b.Workers)
	out := []TraceStep{{State: s}}
	for i := len(chain) - 2; i >= 0; i-- {
		want := string(seen.key(chain[i]))
		var found *Transition
		for _, t := range r.m.Steps(s) {
			if t.Violation == nil && t.Next.Key() == want {
				found = &t
				break
			}
		}
		if found == nil {
			panic(fmt.Sprintf("model: no step from state %d to state %d", chain[i+1], chain[i]))
		}
		out = append(out, TraceStep{found.Step, found.Next})
		s = found.Next
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

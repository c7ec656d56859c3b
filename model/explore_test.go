package model

import (
	"reflect"
	"testing"

	"github.com/handoffd/handoff/internal/race"
)

// P1 exactly-once, P2 round-robin, P3 per-worker FIFO, P4 no lost wake-up
// (spec/SPEC.md): every correct design holds them on every interleaving at
// its default bounds, and every seeded bug breaks the property it is seeded
// for. Under the race detector it searches smaller systems, as the other
// model tests do: the model runs on one goroutine, so the detector has
// nothing to find in it and only slows the search ten times over.
func TestDesignsAtDefaultBounds(t *testing.T) {
	for _, d := range Designs() {
		b := d.DefaultBounds()
		if race.Enabled {
			b = smallBounds(d)
		}
		r, err := Explore(d, b, Options{})
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		switch {
		case d.Correct() && r.Violation != nil:
			t.Errorf("%s: %v\n%s", d.Name, r.Violation, r.TraceText())
		case !d.Correct() && r.Violation == nil:
			t.Errorf("%s: no violation found in %d states; want %s", d.Name, r.States, d.Expect)
		case !d.Correct() && r.Violation.Property != d.Expect:
			t.Errorf("%s: %v; want %s violated", d.Name, r.Violation, d.Expect)
		}
		// A seeded bug's search stops at its counterexample, which may be
		// its first step (bug-multishot-not-rearmed).
		if d.Correct() && (r.States < 10 || r.Transitions < r.States-1) {
			t.Errorf("%s: %d states, %d transitions: too few to have explored anything", d.Name, r.States, r.Transitions)
		}
	}
}

// smallBounds are the bounds of the seeded bugs' defaults, for any design.
func smallBounds(d Design) Bounds {
	return Bounds{Workers: 2, Conns: 3, Acceptors: d.acceptors, PipeCap: 1}
}

// The correct designs hold P1–P4 at other bounds too: more connections per
// worker, a pipe that fills at once, a single worker.
func TestCorrectDesignsWiderBounds(t *testing.T) {
	bounds := []Bounds{
		{Workers: 3, Conns: 6, Acceptors: 1, PipeCap: 2},
		{Workers: 2, Conns: 4, Acceptors: 2, PipeCap: 1},
		{Workers: 1, Conns: 5, Acceptors: 1, PipeCap: 3},
		{Workers: 2, Conns: 3, Acceptors: 1, PipeCap: 1},
	}
	for _, d := range Designs() {
		if !d.Correct() {
			continue
		}
		for _, b := range bounds {
			r, err := Explore(d, b, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Violation != nil {
				t.Errorf("%s at %s: %v\n%s", d.Name, b, r.Violation, r.TraceText())
			}
		}
	}
}

// minCounterexample is the length of the shortest counterexample of each
// bug at its default bounds (2 workers, 3 conns, pipe capacity 1; c0 and c2
// go to worker 0, c1 to worker 1). Every conn costs its Acceptor 3 steps
// (Accept, Dispatch, Notify), 9 in all, unless said otherwise; P4 is judged
// only at quiescence, so every token written must have been read and spent.
var minCounterexample = map[string]int{
	// Worker 1 reads c1's token before the push and pops nothing (2);
	// worker 0 must read its two tokens one at a time (capacity 1), and the
	// second pop finds c0, pushed before c2's Notify, and registers it (5).
	"bug-notify-before-push": 9 + 2 + 5,
	// Both workers read their token, pop, register, find the queue empty and
	// clear the flag (5 each). c0 and c1 each cost a fourth step, the flip of
	// the flag before the Notify (the reactor's CAS and write are two
	// actions); c2's compare-and-swap finds worker 0's flag still set, one
	// hidden step in place of the Notify.
	"bug-coalesced-clear-after-drain": 9 + 2 + 5 + 5,
	// c2's token is dropped, so worker 0 reads one token and registers c0
	// (3); worker 1 registers c1 (3).
	"bug-drop-on-full-pipe": 9 + 3 + 3,
	// Both Acceptors accept and read the counter (2 hidden steps), then
	// write it back (2 Accepts): the second Accept gives number 0 again and
	// is the violation. No Dispatch is needed, since the Worker is taken
	// with the number.
	"bug-racy-rr": 4,
	// c0, c1, c2 each need Accept and the two halves of the push (9), the
	// tokens of c0, c1 and c2 (3); worker 0 wakes, reads and writes the
	// queue, registers c0, wakes again and pops c0 a second time (7).
	"bug-unlocked-pop": 9 + 3 + 7,
	// Worker 0 reads both tokens at once and registers one conn (3); worker
	// 1 registers c1 (3).
	"bug-eventfd-pop-one": 9 + 3 + 3,
	// c0, c1 and c2 each need Accept, the MSG_RING's submission and its
	// post, the Dispatch (9), c2's the post that fails on worker 0's full
	// CQ and is ignored; each worker enters, reaps, registers and finds its
	// CQ empty (4 each).
	"bug-msgring-ignore-full": 9 + 4 + 4,
	// The kernel ends the multishot accept before the first Accept.
	"bug-multishot-not-rearmed": 1,
}

// The explorer's counterexample is a shortest one: its length is the known
// minimum above, and an independent depth-first search finds no violation
// within one step less (and does find one at the minimum, so it can).
func TestShortestCounterexample(t *testing.T) {
	for _, d := range Designs() {
		if d.Correct() {
			continue
		}
		want, ok := minCounterexample[d.Name]
		if !ok {
			t.Errorf("%s: no known minimum", d.Name)
			continue
		}
		r, err := Explore(d, d.DefaultBounds(), Options{})
		if err != nil || r.Violation == nil {
			t.Fatalf("%s: %v, %v", d.Name, err, r.Violation)
		}
		if got := len(r.Trace) - 1; got != want {
			t.Errorf("%s: counterexample of %d steps, want %d\n%s", d.Name, got, want, r.TraceText())
		}
		m, _ := NewMachine(d, d.DefaultBounds())
		if violatesWithin(m, want-1) {
			t.Errorf("%s: a violation within %d steps exists", d.Name, want-1)
		}
		if !violatesWithin(m, want) {
			t.Errorf("%s: depth-first search finds no violation within %d steps", d.Name, want)
		}
		checkTrace(t, m, r)
	}
}

// checkTrace checks that r's counterexample is a path of m: each step is
// enabled in the state before it and leads to the state after it, and the
// last state or step breaks r.Violation.
func checkTrace(t *testing.T, m *Machine, r *Result) {
	t.Helper()
	s := r.Trace[0].State
	if s.Key() != m.Initial().Key() {
		t.Fatalf("%s: trace does not start in the initial state", r.Design.Name)
	}
	var last *Violation
	for i, ts := range r.Trace[1:] {
		found := false
		for _, tr := range m.Steps(s) {
			if tr.Step == ts.Step && tr.Next.Key() == ts.State.Key() {
				found, last = true, tr.Violation
				break
			}
		}
		if !found {
			t.Fatalf("%s: step %d (%s) is not enabled", r.Design.Name, i+1, ts.Step)
		}
		s = ts.State
	}
	if last == nil && len(m.Steps(s)) == 0 {
		last = checkQuiescent(&s, m.b)
	}
	if last == nil || last.Property != r.Violation.Property {
		t.Errorf("%s: trace ends in %v, want %v", r.Design.Name, last, r.Violation)
	}
}

// violatesWithin reports whether some run of at most depth steps from the
// initial state breaks a property. It is a depth-first search, independent
// of Explore's breadth-first search and its path reconstruction; a state is
// searched again only with a larger budget than before.
func violatesWithin(m *Machine, depth int) bool {
	best := map[string]int{}
	var dfs func(s State, budget int) bool
	dfs = func(s State, budget int) bool {
		k := s.Key()
		if b, ok := best[k]; ok && b >= budget {
			return false
		}
		best[k] = budget
		ts := m.Steps(s)
		if len(ts) == 0 {
			return checkQuiescent(&s, m.b) != nil
		}
		if budget == 0 {
			return false
		}
		for _, tr := range ts {
			if tr.Violation != nil || dfs(tr.Next, budget-1) {
				return true
			}
		}
		return false
	}
	return dfs(m.Initial(), depth)
}

// Explore is deterministic: two runs give the same counts and the same
// counterexample.
func TestExploreDeterministic(t *testing.T) {
	d, _ := LookupDesign("bug-coalesced-clear-after-drain")
	b := Bounds{Workers: 2, Conns: 4, Acceptors: 2, PipeCap: 1}
	r1, err1 := Explore(d, b, Options{})
	r2, err2 := Explore(d, b, Options{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if r1.States != r2.States || r1.Transitions != r2.Transitions || !reflect.DeepEqual(r1.Steps(), r2.Steps()) {
		t.Fatalf("two runs differ: %d/%d states, %d/%d transitions", r1.States, r2.States, r1.Transitions, r2.Transitions)
	}
}

// Progress is reported as the search grows, with non-decreasing counts.
func TestExploreProgress(t *testing.T) {
	d, _ := LookupDesign("drain")
	var calls, last int
	r, err := Explore(d, Bounds{Workers: 2, Conns: 4, Acceptors: 1, PipeCap: 2}, Options{
		ProgressEvery: 100,
		Progress: func(states, transitions, depth int) {
			calls++
			if states < last || transitions < states-1 {
				t.Errorf("progress went back: %d states after %d, %d transitions", states, last, transitions)
			}
			last = states
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := r.States / 100; calls != want {
		t.Errorf("%d progress calls for %d states, want %d", calls, r.States, want)
	}
}

// Bad bounds are refused, not explored.
func TestExploreBadBounds(t *testing.T) {
	d, _ := LookupDesign("memcached")
	for _, b := range []Bounds{
		{Workers: 0, Conns: 3, Acceptors: 1, PipeCap: 1},
		{Workers: 2, Conns: 0, Acceptors: 1, PipeCap: 1},
		{Workers: 2, Conns: 3, Acceptors: 0, PipeCap: 1},
		{Workers: 2, Conns: 3, Acceptors: 1, PipeCap: 0},
	} {
		if _, err := Explore(d, b, Options{}); err == nil {
			t.Errorf("Explore at %s: no error", b)
		}
	}
	if _, err := Explore(Design{Name: "nope"}, d.DefaultBounds(), Options{}); err == nil {
		t.Error("Explore of an unknown design: no error")
	}
}

// A state's key decodes back to the same state, for every state the
// explorer meets in a small system of each design.
func TestKeyRoundTrip(t *testing.T) {
	for _, d := range Designs() {
		m, _ := NewMachine(d, Bounds{Workers: 2, Conns: 3, Acceptors: 2, PipeCap: 1})
		seen := map[string]bool{}
		todo := []State{m.Initial()}
		for len(todo) > 0 && len(seen) < 2000 {
			s := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			k := s.Key()
			if seen[k] {
				continue
			}
			seen[k] = true
			back, err := decodeKey([]byte(k), 2, 2)
			if err != nil || back.Key() != k {
				t.Fatalf("%s: key of %v does not round-trip: %v", d.Name, s, err)
			}
			for _, tr := range m.Steps(s) {
				todo = append(todo, tr.Next)
			}
		}
	}
	if _, err := decodeKey([]byte("\x01"), 1, 1); err == nil {
		t.Error("a truncated key decoded without error")
	}
}

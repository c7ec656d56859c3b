package model

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/handoffd/handoff/internal/race"
)

// lifeResults keeps each exploration the tests make, by design and bounds,
// so that the tests that need the same one (the verdict, the shortest
// counterexample, its replay, the scripts) search it once.
var lifeResults sync.Map

// exploreLife is ExploreLife, once per design and bounds in a test run.
func exploreLife(t *testing.T, d LifeDesign, b LifeBounds) *LifeResult {
	t.Helper()
	key := d.Name + " " + b.String()
	if r, ok := lifeResults.Load(key); ok {
		return r.(*LifeResult)
	}
	r, err := ExploreLife(d, b, Options{})
	if err != nil {
		t.Fatalf("%s at %s: %v", d.Name, b, err)
	}
	lifeResults.Store(key, r)
	return r
}

// P5 no fd leak, P6 close before reuse, P7 clean shutdown, P8 no lost task,
// P9 output integrity, P10 input integrity (spec/SPEC.md): the correct
// lifecycle design holds them on every interleaving at each of its table's
// bounds, and every seeded bug breaks the property it is seeded for. Under
// the race detector only the bugs are searched: the model runs on one
// goroutine, and the correct design's million states take the detector
// minutes for nothing.
func TestLifeDesignsAtTheirBounds(t *testing.T) {
	for _, d := range LifeDesigns() {
		if d.Correct() && race.Enabled {
			continue
		}
		for _, b := range d.TableBounds() {
			r := exploreLife(t, d, b)
			switch {
			case d.Correct() && r.Violation != nil:
				t.Errorf("%s at %s: %v\n%s", d.Name, b, r.Violation, r.TraceText())
			case !d.Correct() && r.Violation == nil:
				t.Errorf("%s: no violation found in %d states; want %s", d.Name, r.States, d.Expect)
			case !d.Correct() && r.Violation.Property != d.Expect:
				t.Errorf("%s: %v; want %s violated\n%s", d.Name, r.Violation, d.Expect, r.TraceText())
			}
			if r.States < 10 || r.Transitions < r.States-1 {
				t.Errorf("%s: %d states, %d transitions: too few to have explored anything", d.Name, r.States, r.Transitions)
			}
		}
	}
}

// minLifeCounterexample is the length of each lifecycle bug's shortest
// counterexample at its default bounds, in the machine's steps (a peer's
// action is one; Accept, Dispatch and Notify are one; a step of the
// Worker's that makes no system call is folded into the one before).
var minLifeCounterexample = map[string]int{
	// c0 registered and closed at EOF (15); two AsyncWrites on its handle,
	// the first kicks (3 + 4); the Worker takes the first, leaving pending
	// set (4 + 2), drops it; the second sees pending and does not kick; the
	// late clear leaves it stranded.
	"bug-task-clear-after-run": 29,
	// As above, but the second call comes between the swap, which clears
	// pending, and the eventfd's reset, which swallows its kick.
	"bug-task-reset-after-swap": 29,
	// Connect, accept, half-close, the Worker wakes, pops, registers, polls,
	// reads EOF: close(2) comes before OnClose.
	"bug-close-before-onclose": 15,
	// c0 registered, its peer resets, an AsyncWrite on it; one batch holds
	// the task kick, a token for c1 and c0's error; the task's EPIPE closes
	// c0, c2 is accepted on c0's fd and registered with c1, then c0's
	// event is delivered to c2.
	"bug-stale-event": 33,
	// c0 closes at EOF while an AsyncWrite on it is under way; c1 gets its
	// fd and is registered; the task runs on c1.
	"bug-stale-task": 31,
	// Stop, the Acceptor returns, the Workers are told to stop, and
	// Shutdown returns at once.
	"bug-shutdown-early": 4,
	// c1 is accepted and queued after the Worker's last wake-up and before
	// its stop; its shutdown forgets it.
	"bug-shutdown-forgets-queued": 21,
	// epoll_ctl ADD fails and the fd is left open.
	"bug-add-fail-leaks": 9,
	// Unit 0's echo leaves one unit pending; the quit then read closes the
	// connection, which is finalized with it.
	"bug-close-drops-output": 22,
	// Unit 0's echo leaves one unit pending, at MaxOutput, and the Worker
	// reads again.
	"bug-read-over-bound": 20,
	// Units 0 and 1 read at once; unit 0's echo leaves output pending, so
	// unit 1 is held; the EOF read discards it.
	"bug-halfclose-drops-input": 28,
}

// The lifecycle explorer's counterexample is a shortest one: its length is
// the known minimum above, and an independent depth-first search finds no
// violation within one step less (and does find one at the minimum).
func TestLifeShortestCounterexample(t *testing.T) {
	for _, d := range LifeDesigns() {
		if d.Correct() {
			continue
		}
		want, ok := minLifeCounterexample[d.Name]
		if !ok {
			t.Errorf("%s: no known minimum", d.Name)
			continue
		}
		r := exploreLife(t, d, d.DefaultBounds())
		if r.Violation == nil {
			t.Fatalf("%s: no violation", d.Name)
		}
		if got := len(r.Trace) - 1; got != want {
			t.Errorf("%s: counterexample of %d steps, want %d\n%s", d.Name, got, want, r.TraceText())
		}
		checkLifeTrace(t, r)
		if race.Enabled && r.States > 10000 {
			continue
		}
		m, _ := NewLifeMachine(d, d.DefaultBounds())
		if lifeViolatesWithin(m, want-1) {
			t.Errorf("%s: a violation within %d steps exists", d.Name, want-1)
		}
		if !lifeViolatesWithin(m, want) {
			t.Errorf("%s: depth-first search finds no violation within %d steps", d.Name, want)
		}
	}
}

// checkLifeTrace replays a counterexample through the step function: each
// step must be enabled where it is taken, and only the last may break a
// property, unless the last state is one where no step is enabled.
func checkLifeTrace(t *testing.T, r *LifeResult) {
	t.Helper()
	s := r.Trace[0].State
	for i, ts := range r.Trace[1:] {
		var next *LifeTransition
		for _, tr := range r.m.Steps(s) {
			if tr.Step == ts.Step && tr.Next.Key(r.Bounds) == ts.State.Key(r.Bounds) {
				next = &tr
				break
			}
		}
		if next == nil {
			t.Fatalf("%s: step %d (%s) is not enabled", r.Design.Name, i+1, ts.Step)
		}
		if next.Violation != nil && i != len(r.Trace)-2 {
			t.Fatalf("%s: step %d already breaks %v", r.Design.Name, i+1, next.Violation)
		}
		s = next.Next
	}
}

// lifeViolatesWithin reports whether some path of at most depth steps ends
// in a violation, by depth-first search with its own memo: a state is
// searched again only with more steps to spare than before.
func lifeViolatesWithin(m *LifeMachine, depth int) bool {
	spare := map[string]int{}
	var dfs func(s LifeState, left int) bool
	dfs = func(s LifeState, left int) bool {
		k := s.Key(m.b)
		if got, ok := spare[k]; ok && got >= left {
			return false
		}
		spare[k] = left
		ts := m.Steps(s)
		if len(ts) == 0 {
			return m.quiescent(&s) != nil
		}
		if left == 0 {
			return false
		}
		for _, tr := range ts {
			if tr.Violation != nil || dfs(tr.Next, left-1) {
				return true
			}
		}
		return false
	}
	return dfs(m.Initial(), depth)
}

// A state's key decodes back to the same state, for the states the
// correct design reaches in a small system.
func TestLifeKeyRoundTrip(t *testing.T) {
	d, _ := LookupLifeDesign("life")
	for _, b := range d.TableBounds() {
		m, _ := NewLifeMachine(d, b)
		seen := map[string]bool{}
		todo := []LifeState{m.Initial()}
		for len(todo) > 0 && len(seen) < 3000 {
			s := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			k := s.Key(b)
			if seen[k] {
				continue
			}
			seen[k] = true
			back, err := decodeLifeKey([]byte(k), &b)
			if err != nil || back.Key(b) != k {
				t.Fatalf("key does not round-trip at %s: %v", b, err)
			}
			for _, tr := range m.Steps(s) {
				todo = append(todo, tr.Next)
			}
		}
	}
	b := d.DefaultBounds()
	if _, err := decodeLifeKey([]byte{1, 2}, &b); err == nil {
		t.Error("a truncated key decoded without error")
	}
}

// lifeSteps calls f for every step the correct design can take at b.
func lifeSteps(t *testing.T, b LifeBounds, f func(LifeTransition)) {
	t.Helper()
	d, _ := LookupLifeDesign("life")
	m, err := NewLifeMachine(d, b)
	if err != nil {
		t.Fatal(err)
	}
	init := m.Initial()
	seen := map[string]bool{init.Key(b): true}
	todo := []LifeState{init}
	for len(todo) > 0 {
		s := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, tr := range m.Steps(s) {
			f(tr)
			if k := tr.Next.Key(b); !seen[k] {
				seen[k] = true
				todo = append(todo, tr.Next)
			}
		}
	}
}

// The correct design's table bounds reach every path of a connection's life
// the properties are about: a checker that never walks a path proves
// nothing of it. Each entry is a piece of some step's text.
func TestLifeBoundsReachEveryPath(t *testing.T) {
	if race.Enabled || testing.Short() {
		t.Skip("walks a million states")
	}
	want := []string{
		"EMFILE", "[rearm]", "rejected at MaxConns", "ADD failed", "MOD failed", "[idle]",
		"[stale]: fd1/g1: fd1 is c", "no connection on fd", "[drop-task]", "quit: Close", "half-closed: offer the held input",
		"Wake: OnData offered the held input", "OnData(empty)", "send: EAGAIN", "buffered", "interest out",
		"interest in,out", "an incomplete request", "why=shutdown", "Drop w=0 c=", "the one flush at shutdown", "gone: ErrClosed",
		"list closed: ErrClosed", "pending already set", "EPIPE", "ECONNRESET", "why=eof", "why=handler",
		"why=reset", "why=idle", "why=epoll", "[exit] the worker returns", "Done", "consumed=0",
	}
	seen := map[string]bool{}
	d, _ := LookupLifeDesign("life")
	for _, b := range d.TableBounds() {
		lifeSteps(t, b, func(tr LifeTransition) {
			text := tr.Step.String()
			for _, e := range tr.Trace() {
				text += " " + e.String()
			}
			for _, w := range want {
				if strings.Contains(text, w) {
					seen[w] = true
				}
			}
		})
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no step of the correct design's table bounds says %q", w)
		}
	}
}

// lifeWalk runs the correct design at b, choosing each step at random, to a
// state where no step is enabled, and returns the events the reactor would
// trace.
func lifeWalk(t *testing.T, b LifeBounds, seed uint64) []Event {
	t.Helper()
	d, _ := LookupLifeDesign("life")
	m, err := NewLifeMachine(d, b)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Initial()
	r := rand.New(rand.NewPCG(seed, 11))
	var evs []Event
	for {
		ts := m.Steps(s)
		if len(ts) == 0 {
			if v := m.quiescent(&s); v != nil {
				t.Fatalf("seed %d: random walk ended in %v", seed, v)
			}
			return evs
		}
		tr := ts[r.IntN(len(ts))]
		if tr.Violation != nil {
			t.Fatalf("seed %d: random walk broke %v", seed, tr.Violation)
		}
		evs = append(evs, tr.Trace()...)
		s = tr.Next
	}
}

// Two explorations of a design give the same counts and counterexample.
func TestLifeExploreDeterministic(t *testing.T) {
	d, _ := LookupLifeDesign("bug-stale-task")
	r1, err1 := ExploreLife(d, d.DefaultBounds(), Options{})
	r2, err2 := ExploreLife(d, d.DefaultBounds(), Options{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if r1.States != r2.States || !reflect.DeepEqual(r1.Steps(), r2.Steps()) {
		t.Fatalf("two runs differ: %d/%d states", r1.States, r2.States)
	}
}

// Bad bounds and unknown designs are refused, not explored.
func TestLifeBadBounds(t *testing.T) {
	d, _ := LookupLifeDesign("life")
	ok := d.DefaultBounds()
	for _, mod := range []func(*LifeBounds){
		func(b *LifeBounds) { b.Conns = 0 },
		func(b *LifeBounds) { b.Conns = lifeMaxConns + 1 },
		func(b *LifeBounds) { b.Fds = 0 },
		func(b *LifeBounds) { b.Tasks = lifeMaxTasks + 1 },
		func(b *LifeBounds) { b.SendBuf = 0 },
		func(b *LifeBounds) { b.MaxOutput = 0 },
		func(b *LifeBounds) { b.Echo = 3 },
		func(b *LifeBounds) { b.Sends = -1 },
	} {
		b := ok
		mod(&b)
		if _, err := ExploreLife(d, b, Options{}); err == nil {
			t.Errorf("ExploreLife at %s: no error", b)
		}
	}
	if _, err := ExploreLife(LifeDesign{Name: "nope"}, ok, Options{}); err == nil {
		t.Error("an unknown design: no error")
	}
}

// Each seeded bug's bounds are ones where the correct design holds: the
// counterexample is the bug's doing, not the bounds'.
func TestLifeCorrectAtEveryBugsBounds(t *testing.T) {
	life, _ := LookupLifeDesign("life")
	for _, d := range LifeDesigns() {
		if d.Correct() || race.Enabled && d.DefaultBounds().Conns > 2 {
			continue
		}
		r := exploreLife(t, life, d.DefaultBounds())
		if r.Violation != nil {
			t.Errorf("life at %s's bounds %s: %v\n%s", d.Name, d.DefaultBounds(), r.Violation, r.TraceText())
		}
	}
}

// Every run of the correct design ends, at every bounds of its table: its
// state graph has no cycle, so no interleaving keeps the Worker (or any
// thread) busy for ever without progress, and P8's LTL form agrees with
// its form at quiescence (spec/SPEC.md, P8).
func TestLifeRunsEnd(t *testing.T) {
	if race.Enabled || testing.Short() {
		t.Skip("walks a million states")
	}
	d, _ := LookupLifeDesign("life")
	for _, b := range d.TableBounds() {
		m, _ := NewLifeMachine(d, b)
		const onStack, done = 1, 2
		color := map[string]uint8{}
		type frame struct {
			key string
			ts  []LifeTransition
		}
		init := m.Initial()
		stack := []frame{{init.Key(b), m.Steps(init)}}
		color[stack[0].key] = onStack
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if len(top.ts) == 0 {
				color[top.key] = done
				stack = stack[:len(stack)-1]
				continue
			}
			tr := top.ts[0]
			top.ts = top.ts[1:]
			k := tr.Next.Key(b)
			switch color[k] {
			case onStack:
				t.Fatalf("at %s a run can go round for ever; the step back is %s", b, tr.Step)
			case 0:
				color[k] = onStack
				stack = append(stack, frame{k, m.Steps(tr.Next)})
			}
		}
	}
}

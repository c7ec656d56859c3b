package model

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/handoffd/handoff/internal/race"
)

// walk runs design d at bounds b, choosing each step at random (seeded), to
// quiescence, and returns the events an implementation would trace and the
// final state. With ghosts false it keeps no per-connection history, so
// that long runs stay linear.
func walk(t *testing.T, d Design, b Bounds, seed uint64, ghosts bool) ([]Event, State) {
	t.Helper()
	m := &Machine{d: d, b: b}
	s := m.Initial()
	if !ghosts {
		s.Conns = nil
	}
	r := rand.New(rand.NewPCG(seed, 7))
	var evs []Event
	for {
		ts := m.Steps(s)
		if len(ts) == 0 {
			return evs, s
		}
		tr := ts[r.IntN(len(ts))]
		if tr.Violation != nil {
			t.Fatalf("%s: random walk broke %v", d.Name, tr.Violation)
		}
		if !tr.Step.Hidden() {
			evs = append(evs, tr.Step.Event)
		}
		s = tr.Next
	}
}

func mustDesign(t *testing.T, name string) Design {
	t.Helper()
	d, ok := LookupDesign(name)
	if !ok {
		t.Fatalf("no design %q", name)
	}
	return d
}

var correctDesigns = []string{"memcached", "eventfd", "drain", "coalesced"}

// replayRun replays the events of a run of d, which must all be accepted,
// and checks that Replay ends with the run's per-worker registered counts.
func replayRun(t *testing.T, d Design, b Bounds, seed uint64, evs []Event, final State) *ReplayResult {
	t.Helper()
	r, err := Replay(d, b.Workers, b.Acceptors, evs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != nil {
		t.Fatalf("%s seed %d at %s: %v", d.Name, seed, b, r.Refused)
	}
	want := make([]int, b.Workers)
	for i, w := range final.Workers {
		want[i] = w.Registered
	}
	if got := r.Registered(); !reflect.DeepEqual(got, want) {
		t.Errorf("%s seed %d: registered %v, want %v", d.Name, seed, got, want)
	}
	return r
}

// Every run of a correct design is accepted by Replay of that design, and
// Replay ends with the same per-worker counts (P1 exactly-once: each conn
// registered by one worker).
func TestReplayAcceptsRuns(t *testing.T) {
	for _, name := range correctDesigns {
		d := mustDesign(t, name)
		for seed := uint64(0); seed < 20; seed++ {
			b := Bounds{Workers: 1 + int(seed%4), Conns: 40, Acceptors: 1 + int(seed%2), PipeCap: 1 + int(seed%3)}
			evs, final := walk(t, d, b, seed, true)
			replayRun(t, d, b, seed, evs, final)
		}
	}
}

// Replay is not limited by the explorer's bounds: a trace of 2000 conns over
// 16 (and 3) workers and 2 acceptors is accepted, and the set of model states it
// tracks stays small.
func TestReplayLongTrace(t *testing.T) {
	for i, name := range append(correctDesigns, correctDesigns...) {
		d := mustDesign(t, name)
		b := Bounds{Workers: 16, Conns: 2000, Acceptors: 2, PipeCap: 4}
		if race.Enabled {
			b.Conns = 200
		}
		if i >= len(correctDesigns) {
			b.Workers = 3 // fewer workers, so that coalescing and full pipes happen
		}
		evs, _ := walk(t, d, b, 1, false)
		r, err := Replay(d, b.Workers, b.Acceptors, evs)
		if err != nil {
			t.Fatal(err)
		}
		if r.Refused != nil {
			t.Fatalf("%s: %v", name, r.Refused)
		}
		total := 0
		for _, n := range r.Registered() {
			total += n
		}
		if total != b.Conns {
			t.Errorf("%s: %d registered, want %d", name, total, b.Conns)
		}
		if r.MaxStates > 64 {
			t.Errorf("%s: replay tracked up to %d model states", name, r.MaxStates)
		}
		t.Logf("%s at %s: %d events, at most %d model states at once", name, b, len(evs), r.MaxStates)
	}
}

// A corrupted trace is refused at the corrupted event: two pops of one
// worker swapped (P3 per-worker FIFO), a dispatch to the wrong worker (P2
// round-robin), a pop moved before its dispatch (P1 exactly-once).
func TestReplayRefusesCorruption(t *testing.T) {
	d := mustDesign(t, "memcached")
	b := Bounds{Workers: 3, Conns: 30, Acceptors: 1, PipeCap: 2}
	evs, _ := walk(t, d, b, 3, true)
	find := func(k Kind, from int, match func(Event) bool) int {
		for i := from; i < len(evs); i++ {
			if evs[i].Kind == k && match(evs[i]) {
				return i
			}
		}
		t.Fatalf("no %s after event %d", k, from)
		return -1
	}
	any := func(Event) bool { return true }

	t.Run("swapped pops", func(t *testing.T) {
		i := find(Pop, 0, any)
		j := find(Pop, i+1, func(e Event) bool { return e.Worker == evs[i].Worker })
		bad := append([]Event(nil), evs...)
		bad[i].Conn, bad[j].Conn = bad[j].Conn, bad[i].Conn
		wantRefused(t, d, b, bad, i)
	})
	t.Run("wrong worker", func(t *testing.T) {
		i := find(Dispatch, 0, func(e Event) bool { return e.Conn == 4 })
		bad := append([]Event(nil), evs...)
		bad[i].Worker = (bad[i].Worker + 1) % b.Workers
		wantRefused(t, d, b, bad, i)
	})
	t.Run("pop before dispatch", func(t *testing.T) {
		i := find(Dispatch, 0, func(e Event) bool { return e.Conn == 5 })
		j := find(Pop, i, func(e Event) bool { return e.Conn == 5 })
		bad := append(append(append([]Event(nil), evs[:i]...), evs[j]), evs[i:j]...)
		bad = append(bad, evs[j+1:]...)
		wantRefused(t, d, b, bad, i)
	})
	t.Run("unknown worker", func(t *testing.T) {
		bad := append([]Event(nil), evs...)
		i := find(Wake, 0, any)
		bad[i].Worker = b.Workers
		wantRefused(t, d, b, bad, i)
	})
}

func wantRefused(t *testing.T, d Design, b Bounds, trace []Event, at int) {
	t.Helper()
	r, err := Replay(d, b.Workers, b.Acceptors, trace)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused == nil {
		t.Fatalf("corrupted trace accepted; want refusal at event %d (%s)", at, trace[at])
	}
	if r.Refused.Index != at || r.Accepted != at {
		t.Fatalf("refused at %d (%v), want %d (%s)", r.Refused.Index, r.Refused, at, trace[at])
	}
}

// The seeded bugs' counterexamples, as an implementation with that bug
// would trace them, replayed through the correct design it departs from:
// a bug that changes the order or target of events is refused at the event
// where it shows; a bug that only loses a wake-up leaves a conn dispatched
// and never registered, which the per-worker counts expose (P4 no lost
// wake-up).
func TestReplayOfBugTraces(t *testing.T) {
	cases := []struct {
		bug, base string
		refusedAt Kind // 0: accepted, the counts differ
	}{
		{"bug-notify-before-push", "memcached", Notify},
		{"bug-racy-rr", "memcached", Accept},
		{"bug-unlocked-pop", "memcached", Pop},
		{"bug-drop-on-full-pipe", "memcached", 0},
		{"bug-eventfd-pop-one", "eventfd", 0},
		{"bug-coalesced-clear-after-drain", "coalesced", 0},
	}
	for _, c := range cases {
		bug := mustDesign(t, c.bug)
		res, err := Explore(bug, bug.DefaultBounds(), Options{})
		if err != nil || res.Violation == nil {
			t.Fatalf("%s: %v %v", c.bug, err, res.Violation)
		}
		b := bug.DefaultBounds()
		r, err := Replay(mustDesign(t, c.base), b.Workers, b.Acceptors, res.Events())
		if err != nil {
			t.Fatal(err)
		}
		if c.refusedAt != 0 {
			if r.Refused == nil || r.Refused.Event.Kind != c.refusedAt {
				t.Errorf("%s through %s: refused %v, want a %s refused", c.bug, c.base, r.Refused, c.refusedAt)
			}
			continue
		}
		if r.Refused != nil {
			t.Errorf("%s through %s: %v", c.bug, c.base, r.Refused)
			continue
		}
		reg, disp := r.Registered(), r.Dispatched()
		if reflect.DeepEqual(reg, disp) {
			t.Errorf("%s through %s: registered %v = dispatched %v; the lost conn does not show", c.bug, c.base, reg, disp)
		}
	}
}

// Replay refuses what cannot be a trace: an unknown design or system size,
// an Accept of a sequence number seen before, an event of an unknown kind.
func TestReplayBadInput(t *testing.T) {
	d := mustDesign(t, "memcached")
	if _, err := Replay(Design{Name: "nope"}, 1, 1, nil); err == nil {
		t.Error("unknown design: no error")
	}
	if _, err := Replay(d, 0, 1, nil); err == nil {
		t.Error("0 workers: no error")
	}
	acc := Event{Kind: Accept, Acceptor: 0, Worker: -1, Conn: 0}
	r, _ := Replay(d, 1, 1, []Event{acc, {Kind: Dispatch, Acceptor: 0, Worker: 0, Conn: 0}, acc})
	if r.Refused == nil || r.Refused.Index != 2 {
		t.Errorf("second Accept of c0: %v", r.Refused)
	}
	r, _ = Replay(d, 1, 1, []Event{{Kind: 42, Acceptor: -1, Worker: 0, Conn: -1}})
	if r.Refused == nil || r.Refused.Index != 0 {
		t.Errorf("unknown kind: %v", r.Refused)
	}
	if r, _ := Replay(d, 1, 1, nil); r.Refused != nil || r.Accepted != 0 {
		t.Errorf("empty trace: %+v", r)
	}
}

// ParseEvent reads back what Event.String writes.
func TestParseEvent(t *testing.T) {
	for _, e := range []Event{
		{Kind: Accept, Acceptor: 1, Worker: -1, Conn: 7},
		{Kind: Dispatch, Acceptor: 0, Worker: 2, Conn: 7},
		{Kind: Notify, Acceptor: 0, Worker: 2, Conn: -1},
		{Kind: Wake, Acceptor: -1, Worker: 2, Conn: -1, N: 3},
		{Kind: Close, Acceptor: -1, Worker: 2, Conn: 7},
	} {
		got, err := ParseEvent(e.String())
		if err != nil || got != e {
			t.Errorf("ParseEvent(%q) = %+v, %v", e.String(), got, err)
		}
	}
	for _, bad := range []string{"", "Jump w=1", "Pop w=x", "Pop q=1", "Pop w"} {
		if _, err := ParseEvent(bad); err == nil {
			t.Errorf("ParseEvent(%q): no error", bad)
		}
	}
}

// bruteReplay is Replay without its shortcuts: the explorer's step function
// (no MayIdle fold, no deferred flag clear) with the pick before each Accept
// as a hidden step (lag) instead of Replay's lazy reservation, every hidden
// step taken in every possible order. Like Replay it refuses an Accept of a
// number seen before (numbers name connections in a trace). It returns the
// index of the first event it refuses, or len(trace).
func bruteReplay(d Design, b Bounds, trace []Event) int {
	m := &Machine{d: d, b: b, lag: true}
	closure := func(set []State) []State {
		seen := map[string]bool{}
		var out []State
		add := func(s State) {
			if k := s.Key(); !seen[k] {
				seen[k] = true
				out = append(out, s)
			}
		}
		for _, s := range set {
			add(s)
		}
		for i := 0; i < len(out); i++ {
			m.successors(&out[i], nil, func(t Transition) {
				if t.Step.Hidden() {
					add(t.Next)
				}
			})
		}
		return out
	}
	set := closure([]State{m.Initial()})
	seen := map[int64]bool{}
	for i, ev := range trace {
		if ev.Kind == Accept {
			if seen[ev.Conn] {
				return i
			}
			seen[ev.Conn] = true
		}
		var next []State
		for k := range set {
			m.successors(&set[k], &ev, func(t Transition) {
				if !t.Step.Hidden() && t.Step.Event == ev {
					next = append(next, t.Next)
				}
			})
		}
		if len(next) == 0 {
			return i
		}
		set = closure(next)
	}
	return len(trace)
}

// Replay's shortcuts (the folded empty check, the deferred flag clear, the
// lazy reservation of picks, the relaxed Wake count) neither accept nor
// refuse more than taking every hidden step in every order does: on valid
// runs of every design (Accepts in number order, and, with 2 or 3
// Acceptors, emitted after a hidden pick so out of order) and on runs
// corrupted at random (an event moved up to 4 places earlier, an event
// dropped, a worker changed), both refuse at the same event.
func TestReplayMatchesBruteForce(t *testing.T) {
	seeds := uint64(30)
	if race.Enabled {
		seeds = 8
	}
	for _, d := range Designs() {
		n := seeds
		if d.Channel == Ring {
			// msgring's hidden submissions, posts and multishot ends make
			// the brute force's closures ten times larger; five seeds still
			// cover one to three Workers, one and two Acceptors, and a
			// lagging Accept.
			n = max(1, seeds/6)
		}
		for seed := uint64(0); seed < n; seed++ {
			b := Bounds{Workers: 1 + int(seed%3), Conns: 6, Acceptors: 1 + int(seed%2), PipeCap: 1 + int(seed%2)}
			m := &Machine{d: d, b: b}
			if seed%3 == 2 {
				b.Acceptors, b.Conns = 2+int(seed/3%2), 5
				m = &Machine{d: d, b: b, lag: true}
			}
			evs, _ := walkAny(m, seed)
			if len(evs) == 0 {
				continue // bug-multishot-not-rearmed: the accept ended first
			}
			r := rand.New(rand.NewPCG(seed, 11))
			for variant := 0; variant < 24; variant++ {
				trace := append([]Event(nil), evs...)
				i := r.IntN(len(trace))
				switch j := i + 1 + r.IntN(4); {
				case variant == 0:
				case variant%3 == 1 && j < len(trace):
					e := trace[j] // move event j to position i
					copy(trace[i+1:j+1], trace[i:j])
					trace[i] = e
				case variant%3 == 2:
					trace = append(trace[:i], trace[i+1:]...)
				case trace[i].Worker >= 0:
					trace[i].Worker = (trace[i].Worker + 1) % b.Workers
				}
				brute := bruteReplay(d, Bounds{Workers: b.Workers, Conns: 64, Acceptors: b.Acceptors, PipeCap: 1 << 16}, trace)
				res, err := Replay(d, b.Workers, b.Acceptors, trace)
				if err != nil {
					t.Fatal(err)
				}
				if res.Accepted != brute {
					t.Fatalf("%s seed %d variant %d: Replay accepts %d events, brute force %d\ntrace: %v\nrefusal: %v",
						d.Name, seed, variant, res.Accepted, brute, trace, res.Refused)
				}
			}
		}
	}
}

// walkAny is walk for any design, bugs included, and any Machine (with lag,
// Accepts come out of number order): it stops at quiescence or at the first
// violation.
func walkAny(m *Machine, seed uint64) ([]Event, State) {
	s := m.Initial()
	r := rand.New(rand.NewPCG(seed, 7))
	var evs []Event
	for {
		ts := m.Steps(s)
		if len(ts) == 0 {
			return evs, s
		}
		tr := ts[r.IntN(len(ts))]
		if !tr.Step.Hidden() {
			evs = append(evs, tr.Step.Event)
		}
		if tr.Violation != nil {
			return evs, tr.Next
		}
		s = tr.Next
	}
}

// P2 round-robin (spec/SPEC.md): the reactor takes a connection's number and
// its worker in one atomic add and emits Accept just after it, so with two
// acceptors acceptor 1 may push c1 onto worker 1 before acceptor 0 has
// emitted c0. The model accepts that trace; acceptor 0 then holds c0, for
// worker 0, and the run completes.
func TestReplayTwoAcceptorsPushOutOfOrder(t *testing.T) {
	d := mustDesign(t, "memcached")
	trace := []Event{
		{Kind: Accept, Acceptor: 0, Worker: -1, Conn: 0},
		{Kind: Accept, Acceptor: 1, Worker: -1, Conn: 1},
		{Kind: Dispatch, Acceptor: 1, Worker: 1, Conn: 1},
	}
	r, err := Replay(d, 2, 2, trace)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != nil {
		t.Fatalf("refused: %v", r.Refused)
	}
	if a := r.Final.Acceptors[0]; a.PC != AHold || a.Conn != 0 || a.Worker != 0 {
		t.Errorf("acceptor 0: %s, want holding c0 for worker 0", describeAcceptor(a))
	}
	rest := []Event{
		{Kind: Dispatch, Acceptor: 0, Worker: 0, Conn: 0},
		{Kind: Notify, Acceptor: 1, Worker: 1, Conn: -1},
		{Kind: Notify, Acceptor: 0, Worker: 0, Conn: -1},
		{Kind: Wake, Acceptor: -1, Worker: 0, Conn: -1, N: 1},
		{Kind: Pop, Acceptor: -1, Worker: 0, Conn: 0},
		{Kind: Register, Acceptor: -1, Worker: 0, Conn: 0},
		{Kind: Wake, Acceptor: -1, Worker: 1, Conn: -1, N: 1},
		{Kind: Pop, Acceptor: -1, Worker: 1, Conn: 1},
		{Kind: Register, Acceptor: -1, Worker: 1, Conn: 1},
	}
	r, _ = Replay(d, 2, 2, append(trace, rest...))
	if r.Refused != nil {
		t.Fatalf("refused: %v", r.Refused)
	}
	if got := r.Registered(); !reflect.DeepEqual(got, []int{1, 1}) {
		t.Errorf("registered %v, want [1 1]", got)
	}
	// c1 to worker 0 breaks P2 whichever acceptor pushes first.
	bad := append([]Event(nil), trace...)
	bad[2].Worker = 0
	wantRefused(t, d, Bounds{Workers: 2, Acceptors: 2}, bad, 2)
}

// P2 round-robin and P1 exactly-once (spec/SPEC.md) with 2 and 3
// acceptors whose Accepts are emitted after a hidden pick, as the reactor
// emits them, so Accepts and pushes come out of number order: every such
// run of a correct design is accepted, with the model's per-worker counts
// and at most a handful of model states at once; moving a Dispatch (of c3,
// c103, c203) to another worker is refused at that Dispatch.
func TestReplayAcceptorsOutOfOrder(t *testing.T) {
	for _, name := range correctDesigns {
		d := mustDesign(t, name)
		for seed := uint64(0); seed < 6; seed++ {
			b := Bounds{Workers: 2 + int(seed%2), Conns: 300, Acceptors: 2 + int(seed%3/2), PipeCap: 1 + int(seed%2)}
			if race.Enabled {
				b.Conns = 60
			}
			m := &Machine{d: d, b: b, lag: true}
			evs, final := walkAny(m, seed)
			late, last := 0, int64(-1)
			for _, e := range evs {
				if e.Kind == Accept {
					if e.Conn < last {
						late++
					}
					last = max(last, e.Conn)
				}
			}
			if late == 0 {
				t.Fatalf("%s seed %d at %s: no Accept came out of number order; the test shows nothing", name, seed, b)
			}
			r := replayRun(t, d, b, seed, evs, final)
			if r.MaxStates > 64 {
				t.Errorf("%s seed %d: replay tracked up to %d model states", name, seed, r.MaxStates)
			}
			for i, e := range evs {
				if e.Kind != Dispatch || e.Conn%100 != 3 {
					continue
				}
				bad := append([]Event(nil), evs...)
				bad[i].Worker = (e.Worker + 1) % b.Workers
				wantRefused(t, d, b, bad, i)
			}
			t.Logf("%s at %s: %d events, %d Accepts out of number order, at most %d model states", name, b, len(evs), late, r.MaxStates)
		}
	}
}

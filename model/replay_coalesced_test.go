package model

import (
	"reflect"
	"testing"

	"github.com/handoffd/handoff/internal/race"
)

// events parses one event per line, in Event.String's form.
func events(t *testing.T, lines ...string) []Event {
	t.Helper()
	out := make([]Event, len(lines))
	for i, l := range lines {
		e, err := ParseEvent(l)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		out[i] = e
	}
	return out
}

// coalescedCASRace is the shape the reactor's trace replay met (design
// coalesced, eventfd, 3 Acceptors): two Acceptors push onto worker 0's
// queue; acceptor 1's compare-and-swap flips the flag 0→1, acceptor 0's
// then fails (no token, no event) and acceptor 0 accepts its next fd, all
// before acceptor 1's Notify, which the reactor emits after its CAS, just
// before the write.
var coalescedCASRace = []string{
	"Accept a=0 c=0",
	"Accept a=1 c=1",
	"Dispatch a=1 w=0 c=1",
	"Dispatch a=0 w=0 c=0",
	"Accept a=0 c=2",
	"Notify a=1 w=0",
	"Dispatch a=0 w=0 c=2",
	"Wake w=0 n=1",
	"Pop w=0 c=1",
	"Register w=0 c=1",
	"Pop w=0 c=0",
	"Register w=0 c=0",
	"Pop w=0 c=2",
	"Register w=0 c=2",
}

// P4 no lost wake-up (spec/SPEC.md), coalesced: the flip of the flag and
// the token write are two steps, so an Acceptor whose CAS failed may go on
// to its next Accept before the winner's Notify. The trace is accepted,
// every connection registered by worker 0, as taking every hidden step in
// every order accepts it too.
func TestReplayCoalescedCASBeforeNotify(t *testing.T) {
	d := mustDesign(t, "coalesced")
	trace := events(t, coalescedCASRace...)
	r, err := Replay(d, 1, 2, trace)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != nil {
		t.Fatalf("refused: %v", r.Refused)
	}
	if got := r.Registered(); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("registered %v, want [3]", got)
	}
	if n := bruteReplay(d, Bounds{Workers: 1, Conns: 64, Acceptors: 2, PipeCap: 1 << 16}, trace); n != len(trace) {
		t.Errorf("brute force refuses event %d (%s)", n, trace[n])
	}
}

// The broken twin of TestReplayCoalescedCASBeforeNotify: acceptor 1 never
// writes its token, so worker 0 has nothing to read. Its Wake is refused
// (P4 no lost wake-up: a Worker wakes only for a token written).
func TestReplayCoalescedNoTokenRefused(t *testing.T) {
	d := mustDesign(t, "coalesced")
	trace := events(t, coalescedCASRace...)
	at := -1
	for i, e := range trace {
		if e.Kind == Notify {
			trace = append(trace[:i], trace[i+1:]...)
			at = i
			break
		}
	}
	for trace[at].Kind != Wake {
		at++
	}
	wantRefused(t, d, Bounds{Workers: 1, Acceptors: 2}, trace, at)
	if n := bruteReplay(d, Bounds{Workers: 1, Conns: 64, Acceptors: 2, PipeCap: 1 << 16}, trace); n != at {
		t.Errorf("brute force refuses event %d, want %d", n, at)
	}
}

// P4 no lost wake-up (spec/SPEC.md), coalesced: Replay defers a Worker's
// flag clear (lazyClear), but not past an Acceptor that found the flag set.
// Worker 0 is woken for nothing (its queue is empty); acceptor 1 pushes c2
// and finds the flag set (it goes on to its next Accept, so it has tested
// the flag), so the Worker's clear, and its check of the queue, come after
// that push: it must pop c2 before it can sleep and be woken by acceptor
// 0's token for c4. Its Wake is refused, as taking every hidden step in
// every order refuses it; the twin that pops c2 and c4 first is accepted.
func TestReplayCoalescedNoTokenKeepsWorkerDraining(t *testing.T) {
	d := mustDesign(t, "coalesced")
	trace := events(t,
		"Accept a=0 c=0",
		"Dispatch a=0 w=0 c=0",
		"Notify a=0 w=0",
		"Wake w=0 n=1",
		"Pop w=0 c=0",
		"Register w=0 c=0",
		"Accept a=0 c=1",
		"Dispatch a=0 w=0 c=1",
		"Notify a=0 w=0",
		"Pop w=0 c=1",
		"Register w=0 c=1",
		"Wake w=0 n=1", // woken for nothing
		"Accept a=1 c=2",
		"Dispatch a=1 w=0 c=2", // the flag is set: no token
		"Accept a=1 c=3",       // so acceptor 1 has taken its no-token step
		"Accept a=0 c=4",
		"Dispatch a=0 w=0 c=4",
		"Notify a=0 w=0",
		"Wake w=0 n=1",
	)
	at := len(trace) - 1
	wantRefused(t, d, Bounds{Workers: 1, Acceptors: 2}, trace, at)
	if n := bruteReplay(d, Bounds{Workers: 1, Conns: 64, Acceptors: 2, PipeCap: 1 << 16}, trace); n != at {
		t.Errorf("brute force refuses event %d, want %d", n, at)
	}
	ok := append(append([]Event(nil), trace[:at]...), events(t, "Pop w=0 c=2", "Register w=0 c=2",
		"Pop w=0 c=4", "Register w=0 c=4", "Wake w=0 n=1")...)
	r, err := Replay(d, 1, 2, ok)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != nil {
		t.Fatalf("the twin that drains first is refused: %v", r.Refused)
	}
}

// Replay's deferred flag clear and folded empty check neither accept nor
// refuse more than taking every hidden step in every order does, on runs
// of coalesced with 2 and 3 Acceptors on 1 or 2 Workers (so that Acceptors
// race for one flag, as in TestReplayCoalescedCASBeforeNotify): each run
// as the model makes it, with each of its Notify events dropped in turn (an
// Acceptor that flipped the flag and never wrote), and with an event moved
// up to 4 places earlier (a Wake up to 8). TestReplayMatchesBruteForce
// covers every design more thinly.
func TestReplayMatchesBruteForceCoalesced(t *testing.T) {
	d := mustDesign(t, "coalesced")
	seeds := uint64(24)
	if race.Enabled {
		seeds = 6
	}
	for seed := uint64(0); seed < seeds; seed++ {
		b := Bounds{Workers: 1 + int(seed%2), Conns: 5, Acceptors: 2 + int(seed/2%2), PipeCap: 1}
		evs, _ := walkAny(&Machine{d: d, b: b, lag: true}, seed)
		var variants [][]Event
		for j, e := range evs {
			if e.Kind == Notify {
				variants = append(variants, append(append([]Event(nil), evs[:j]...), evs[j+1:]...))
			}
			reach := 4
			if e.Kind == Wake {
				reach = 8 // past a whole drain, so that a Worker sleeps beside its queue
			}
			for i := max(0, j-reach); i < j; i++ {
				v := append([]Event(nil), evs...)
				copy(v[i+1:j+1], evs[i:j])
				v[i] = e
				variants = append(variants, v)
			}
		}
		variants = append(variants, evs)
		for k, trace := range variants {
			brute := bruteReplay(d, Bounds{Workers: b.Workers, Conns: 64, Acceptors: b.Acceptors, PipeCap: 1 << 16}, trace)
			res, err := Replay(d, b.Workers, b.Acceptors, trace)
			if err != nil {
				t.Fatal(err)
			}
			if res.Accepted != brute {
				t.Fatalf("seed %d variant %d: Replay accepts %d events, brute force %d\ntrace: %v\nrefusal: %v",
					seed, k, res.Accepted, brute, trace, res.Refused)
			}
		}
	}
}

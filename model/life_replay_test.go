package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/handoffd/handoff/internal/race"
)

// lifeReplayOK replays and checks the trace of a finished lifecycle run at
// b: both must accept it.
func lifeReplayOK(t *testing.T, b LifeBounds, evs []Event, what string) {
	t.Helper()
	d := mustDesign(t, "memcached")
	r, err := ReplayWith(d, ReplayConfig{Workers: 1, Acceptors: 1, MaxOutput: b.MaxOutput}, evs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Refused != nil {
		t.Fatalf("%s at %s: %v\n%s", what, b, r.Refused, eventLines(evs))
	}
	if err := CheckTrace(evs, TraceCheck{Workers: 1, MaxOutput: b.MaxOutput, Finished: true}); err != nil {
		t.Fatalf("%s at %s: %v\n%s", what, b, err, eventLines(evs))
	}
}

func eventLines(evs []Event) string {
	var l []string
	for i, e := range evs {
		l = append(l, fmt.Sprintf("   %s  #%d", e, i))
	}
	return strings.Join(l, "\n")
}

// Every run of the correct lifecycle design is a trace that Replay (of the
// memcached hand-off it is composed with) and CheckTrace accept, at every
// bounds of its table: the rules the replay holds a reactor's trace to are
// those the explored machine keeps (P5–P10).
func TestReplayLifeWalks(t *testing.T) {
	d, _ := LookupLifeDesign("life")
	seeds := uint64(60)
	if race.Enabled || testing.Short() {
		seeds = 15
	}
	kinds := map[Kind]bool{}
	for _, b := range d.TableBounds() {
		for seed := range seeds {
			evs := lifeWalk(t, b, seed)
			for _, e := range evs {
				kinds[e.Kind] = true
			}
			lifeReplayOK(t, b, evs, fmt.Sprintf("seed %d", seed))
		}
	}
	for k := Accept; k <= Done; k++ {
		if !kinds[k] {
			t.Errorf("no walk traced a %s", k)
		}
	}
}

// The seeded lifecycle bugs whose counterexample a trace shows are refused
// by CheckTrace of the finished run, naming the property the bug breaks;
// those that break a rule at a step are refused by Replay at that step too.
// Three cannot be seen in their shortest counterexample's trace:
// bug-close-before-onclose's close(2) and OnClose are a step apart that no
// event marks (a reactor with the fault is caught when the fd is accepted
// again before its Close event); bug-add-fail-leaks's fd is never closed but
// is traced as dropped; bug-shutdown-early's Done comes with no connection
// yet, and a Worker still running emits nothing (with one, its Close after
// Done would be refused).
func TestReplayLifeRefusesBugTraces(t *testing.T) {
	invisible := map[string]bool{"bug-close-before-onclose": true, "bug-add-fail-leaks": true, "bug-shutdown-early": true}
	atEnd := map[string]bool{"bug-task-clear-after-run": true, "bug-task-reset-after-swap": true}
	hd := mustDesign(t, "memcached")
	for _, d := range LifeDesigns() {
		if d.Correct() {
			continue
		}
		b := d.DefaultBounds()
		r := exploreLife(t, d, b)
		if r.Violation == nil {
			t.Fatalf("%s: no violation", d.Name)
		}
		evs := append(r.Events(), lifeAfter(r)...)
		res, err := ReplayWith(hd, ReplayConfig{Workers: 1, Acceptors: 1, MaxOutput: b.MaxOutput}, evs)
		if err != nil {
			t.Fatal(err)
		}
		checked := CheckTrace(evs, TraceCheck{Workers: 1, MaxOutput: b.MaxOutput, Finished: true})
		switch {
		case invisible[d.Name]:
			if res.Refused != nil || checked != nil {
				t.Errorf("%s: the trace was refused (%v, %v); the model's trace should not show this bug", d.Name, res.Refused, checked)
			}
		case atEnd[d.Name]:
			if res.Refused != nil {
				t.Errorf("%s: Replay refused %v; only the finished run shows the bug", d.Name, res.Refused)
			}
			if checked == nil || !strings.HasPrefix(checked.Error(), string(d.Expect)+":") {
				t.Errorf("%s: CheckTrace said %v, want %s\n%s", d.Name, checked, d.Expect, eventLines(evs))
			}
		default:
			if res.Refused == nil || !strings.HasPrefix(res.Refused.Reason, string(d.Expect)+":") {
				t.Errorf("%s: Replay said %v, want a refusal for %s\n%s", d.Name, res.Refused, d.Expect, eventLines(evs))
			}
			if checked == nil || !strings.HasPrefix(checked.Error(), string(d.Expect)+":") {
				t.Errorf("%s: CheckTrace said %v, want %s", d.Name, checked, d.Expect)
			}
		}
	}
}

// lifeAfter is what the reactor traces next after a counterexample that
// ends at a step it does not trace (OnClose): the Worker's next steps, up to
// its next event or to quiescence.
func lifeAfter(r *LifeResult) []Event {
	s := r.Trace[len(r.Trace)-1].State
	for range 20 {
		ts := r.m.Steps(s)
		if len(ts) == 0 || !r.Steps()[len(r.Steps())-1].Hidden() {
			return nil
		}
		i := slices.IndexFunc(ts, func(t LifeTransition) bool { return t.Step.Event.Worker == 0 })
		if i < 0 {
			i = 0
		}
		if evs := ts[i].Trace(); len(evs) > 0 {
			return evs
		}
		s = ts[i].Next
	}
	return nil
}

// Corruptions of a correct run's trace, one rule each, are refused with the
// property they break.
func TestReplayLifeRefusesCorruption(t *testing.T) {
	d, _ := LookupLifeDesign("life")
	hd := mustDesign(t, "memcached")
	find := func(evs []Event, k Kind, from int) int {
		return slices.IndexFunc(evs[from:], func(e Event) bool { return e.Kind == k }) + from
	}
	// a run with everything in it: the flow bounds, walked until a trace
	// has Kick, Data, Send and a Close at EOF
	b := d.TableBounds()[2]
	var evs []Event
	for seed := uint64(0); ; seed++ {
		evs = lifeWalk(t, b, seed)
		ok := true
		for _, k := range []Kind{Kick, Data, Send, Done} {
			ok = ok && find(evs, k, 0) >= 0 && slices.IndexFunc(evs, func(e Event) bool { return e.Kind == k }) >= 0
		}
		if ok && slices.IndexFunc(evs, func(e Event) bool { return e.Kind == Data && e.N > 0 }) >= 0 {
			break
		}
		if seed > 500 {
			t.Fatal("no walk with a Kick, a Data of input, a Send and Done")
		}
	}
	mod := func(f func([]Event) []Event) []Event { return f(slices.Clone(evs)) }
	cases := []struct {
		name string
		tr   []Event
		want Property
	}{
		{"a kick dropped", mod(func(e []Event) []Event {
			i := slices.IndexFunc(e, func(x Event) bool { return x.Kind == Submit })
			if e[i+1].Kind != Kick {
				t.Fatalf("the walk's first Submit is not followed by its Kick")
			}
			return slices.Delete(e, i+1, i+2)
		}), P8},
		{"OnData offered a byte twice", mod(func(e []Event) []Event {
			i := slices.IndexFunc(e, func(x Event) bool { return x.Kind == Data && x.N > 0 })
			e[i].N++
			return e
		}), P10},
		{"a send of more than written", mod(func(e []Event) []Event { i := find(e, Send, 0); e[i].N += 5; return e }), P9},
		{"an event after Done", mod(func(e []Event) []Event {
			return append(e, Event{Kind: Stop, Acceptor: -1, Worker: -1, Conn: -1})
		}), P7},
		{"Done before the last Close", mod(func(e []Event) []Event {
			i := find(e, Close, 0)
			done := e[len(e)-1]
			e = slices.Insert(e[:len(e)-1], i, done)
			return e[:i+1]
		}), P7},
		{"a Ready of an old generation", mod(func(e []Event) []Event {
			i := find(e, Ready, 0)
			e[i].Gen += 7
			return e
		}), P6},
	}
	for _, c := range cases {
		res, err := ReplayWith(hd, ReplayConfig{Workers: 1, Acceptors: 1, MaxOutput: b.MaxOutput}, c.tr)
		if err != nil {
			t.Fatal(err)
		}
		checked := CheckTrace(c.tr, TraceCheck{Workers: 1, MaxOutput: b.MaxOutput, Finished: true})
		if checked == nil || !strings.HasPrefix(checked.Error(), string(c.want)+":") {
			t.Errorf("%s: CheckTrace said %v, want %s", c.name, checked, c.want)
		}
		if c.want != P8 && (res.Refused == nil || !strings.HasPrefix(res.Refused.Reason, string(c.want)+":")) {
			t.Errorf("%s: Replay said %v, want a refusal for %s", c.name, res.Refused, c.want)
		}
	}
	// an fd accepted again before its connection's Close: close(2) came
	// before OnClose
	acc := []Event{
		{Kind: Accept, Acceptor: 0, Worker: -1, Conn: 0, Fd: 5},
		{Kind: Dispatch, Acceptor: 0, Worker: 0, Conn: 0},
		{Kind: Notify, Acceptor: 0, Worker: 0, Conn: -1},
		{Kind: Wake, Acceptor: -1, Worker: 0, Conn: -1, N: 1},
		{Kind: Pop, Acceptor: -1, Worker: 0, Conn: 0},
		{Kind: Register, Acceptor: -1, Worker: 0, Conn: 0, Fd: 5, Gen: 1},
		{Kind: Accept, Acceptor: 0, Worker: -1, Conn: 1, Fd: 5},
	}
	res, _ := Replay(hd, 1, 1, acc)
	if res.Refused == nil || res.Refused.Index != 6 || !strings.HasPrefix(res.Refused.Reason, string(P6)+":") {
		t.Errorf("fd reused before Close: %v", res.Refused)
	}
}

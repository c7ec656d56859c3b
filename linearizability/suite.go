package linearizability

import (
	"context"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/handoffd/handoff/impl/reactor"
)

// Plan sizes a run of every check.
type Plan struct {
	// Workers is the number of Workers of every server.
	Workers int
	// Clients and Ops size the single-Acceptor round-robin run.
	Clients, Ops int
	// Acceptors lists the K of the K-Acceptor runs (SO_REUSEPORT); each
	// makes AcceptorOps connects from Clients goroutines.
	Acceptors   []int
	AcceptorOps int
	// Timeout bounds each porcupine search.
	Timeout time.Duration
	// Dir receives the visualizations of failed checks; "" is os.TempDir().
	Dir string
	// IO is every server's backend (Config.IO); "" is the default.
	IO reactor.IO
}

// FullPlan is what lincheck runs: 10,240 connects from 64 clients to four
// Workers behind one Acceptor, then as many behind 2, 3 and 4 Acceptors.
func FullPlan() Plan {
	return Plan{Workers: 4, Clients: 64, Ops: 10240, Acceptors: []int{2, 3, 4}, AcceptorOps: 10240, Timeout: time.Minute}
}

// Verdict is a Result and what it had to be: Ok for a recorded history,
// Illegal for a broken twin.
type Verdict struct {
	Result
	Want porcupine.CheckResult
}

// Passed reports whether the check came out as it had to.
func (v Verdict) Passed() bool { return v.Outcome == v.Want }

func (v Verdict) String() string {
	s := v.Result.String()
	switch {
	case !v.Passed():
		s += fmt.Sprintf(" -- FAIL: want %s", outcome(v.Want))
	case v.Want == porcupine.Illegal:
		s += " -- refuted, as it must be"
	}
	return s
}

// Visualizations are written for the checks that did not pass: a broken
// twin that porcupine refutes is not a failure.

// check is one history to check and the verdict it must get.
type check struct {
	name    string
	model   porcupine.Model
	history []porcupine.Operation
	parties string
	want    porcupine.CheckResult
}

// recording is one server run of the plan.
type recording struct {
	setup Setup
	// twinRR adds the broken twins of the connect history.
	twinRR bool
	// twinQueue adds the broken twins of the queue history.
	twinQueue bool
	// racy adds the racy-counter twin.
	racy bool
}

// Suite records every run of p and checks each history and its broken
// twins, calling report with each verdict as it is reached. It returns an
// error only when a run could not be recorded or a twin not seeded; failed
// checks are verdicts that did not pass.
func Suite(ctx context.Context, p Plan, report func(Verdict)) ([]Verdict, error) {
	runs := []recording{{
		setup:  Setup{Workers: p.Workers, Acceptors: 1, Clients: p.Clients, Ops: p.Ops, IO: p.IO},
		twinRR: true, twinQueue: true,
	}}
	designs := []struct {
		n reactor.Notify
		w reactor.Wakeup
	}{{reactor.NotifyPipe, reactor.WakeupCoalesced}, {reactor.NotifyEventfd, reactor.WakeupPerConn}, {reactor.NotifyEventfd, reactor.WakeupCoalesced}}
	for i, k := range p.Acceptors {
		d := designs[i%len(designs)]
		runs = append(runs, recording{
			setup: Setup{Workers: p.Workers, Acceptors: k, Notify: d.n, Wakeup: d.w, Clients: p.Clients, Ops: p.AcceptorOps, IO: p.IO},
			racy:  i == 0,
		})
	}
	var out []Verdict
	for _, rc := range runs {
		checks, twinOf, err := recordChecks(ctx, rc)
		if err != nil {
			return out, err
		}
		passed := map[int]bool{}
		for i, c := range checks {
			if src, ok := twinOf[i]; ok && !passed[src] {
				continue
			}
			v := Verdict{Result: Check(c.name, c.model, c.history, c.parties, p.Timeout), Want: c.want}
			if !v.Passed() {
				v.Visualization, v.VisualizationErr = Visualize(c.name, c.model, c.history, p.Timeout, p.Dir)
			}
			passed[i] = v.Passed()
			out = append(out, v)
			if report != nil {
				report(v)
			}
		}
	}
	return out, nil
}

// recordChecks records rc's run and lists the checks of its histories.
// twinOf maps each broken twin's index to the index of the recorded
// history's check it was made from. A twin of a history that failed its
// own check is not checked: it would show nothing, and refuting a history
// that already holds a defect can take porcupine's whole timeout.
func recordChecks(ctx context.Context, rc recording) (checks []check, twinOf map[int]int, err error) {
	st := rc.setup
	run, err := Record(ctx, st)
	if err != nil {
		return nil, nil, fmt.Errorf("record %d connects to %d workers, %d acceptors: %w", st.Ops, st.Workers, st.Acceptors, err)
	}
	rrName, qName := "round-robin", "queue"
	if st.Acceptors > 1 {
		rrName = fmt.Sprintf("round-robin %d acceptors", st.Acceptors)
		qName = fmt.Sprintf("queue %d acceptors", st.Acceptors)
	}
	if st.Notify != "" {
		rrName += fmt.Sprintf(" (%s/%s)", st.Notify, st.Wakeup)
		qName += fmt.Sprintf(" (%s/%s)", st.Notify, st.Wakeup)
	}
	rr, q := RoundRobin(st.Workers), Queue()
	clients := fmt.Sprintf("%d clients", st.Clients)
	threads := fmt.Sprintf("%d workers, %d acceptors", st.Workers, st.Acceptors)
	if st.Acceptors == 1 {
		threads = fmt.Sprintf("%d workers, 1 acceptor", st.Workers)
	}
	queueOps := QueueHistory(run.Trace, run.Stats.IO == string(reactor.IOUring))
	checks = []check{
		{rrName, rr, run.Connects, clients, porcupine.Ok},
		{qName, q, queueOps, threads, porcupine.Ok},
	}
	twinOf = map[int]int{}
	type twin struct {
		name  string
		model porcupine.Model
		h     []porcupine.Operation
		ok    bool
		who   string
		of    int
	}
	var twins []twin
	if rc.twinRR {
		h, ok := SwappedWorker(run.Connects, st.Workers)
		twins = append(twins, twin{rrName + " broken: a worker id swapped", rr, h, ok, clients, 0})
		h, ok = SkippedWorker(run.Connects, st.Workers)
		twins = append(twins, twin{rrName + " broken: balancer skips a worker", rr, h, ok, clients, 0})
	}
	if rc.racy {
		h, ok := RacyRR(run.Connects)
		twins = append(twins, twin{rrName + " broken: racy counter", rr, h, ok, clients, 0})
	}
	if rc.twinQueue {
		h, ok := SwappedPops(queueOps)
		twins = append(twins, twin{qName + " broken: two pops swapped", q, h, ok, threads, 1})
		h, ok = PoppedTwice(queueOps)
		twins = append(twins, twin{qName + " broken: a conn popped twice", q, h, ok, threads, 1})
	}
	for _, t := range twins {
		if !t.ok {
			return nil, nil, fmt.Errorf("%s: history too small to seed the defect", t.name)
		}
		twinOf[len(checks)] = t.of
		checks = append(checks, check{t.name, t.model, t.h, t.who, porcupine.Illegal})
	}
	return checks, twinOf, nil
}

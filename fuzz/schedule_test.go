package fuzz

import (
	"fmt"
	"testing"

	"github.com/handoffd/handoff/model"
)

// maxScheduleSteps bounds one schedule; the designs' state spaces at the
// sizes scheduleSystem picks end far sooner.
const maxScheduleSteps = 4096

// scheduleSystem reads a design and its size from the input's first five
// bytes: which of designs, 1–3 Workers, 1–5 connections, a pipe of 1–2
// tokens, 1–2 Acceptors. The rest of the input is the schedule.
func scheduleSystem(designs []model.Design, data []byte) (model.Design, model.Bounds, []byte) {
	var h [5]byte
	copy(h[:], data)
	d := designs[int(h[0])%len(designs)]
	b := model.Bounds{
		Workers:   1 + int(h[1])%3,
		Conns:     1 + int(h[2])%5,
		PipeCap:   1 + int(h[3])%2,
		Acceptors: 1 + int(h[4])%2,
	}
	if d.DefaultBounds().Acceptors > 1 {
		b.Acceptors = d.DefaultBounds().Acceptors
	}
	return d, b, data[min(len(data), 5):]
}

// runSchedule drives design d within b from its initial state: at each
// state, the next schedule byte picks one of the enabled steps (modulo
// their number); once the schedule is spent, the first enabled step is
// taken. It returns the first property broken, by a step (P1–P3) or by the
// state where no step is enabled (P4, and P1's "never none"), and the steps
// taken.
func runSchedule(d model.Design, b model.Bounds, sched []byte) (*model.Violation, []model.Step, error) {
	m, err := model.NewMachine(d, b)
	if err != nil {
		return nil, nil, err
	}
	s := m.Initial()
	var taken []model.Step
	for i := 0; i < maxScheduleSteps; i++ {
		steps := m.Steps(s)
		if len(steps) == 0 {
			return quiescent(s, b), taken, nil
		}
		k := 0
		if i < len(sched) {
			k = int(sched[i]) % len(steps)
		}
		t := steps[k]
		taken = append(taken, t.Step)
		if t.Violation != nil {
			return t.Violation, taken, nil
		}
		s = t.Next
	}
	return nil, taken, fmt.Errorf("%s: no quiescent state after %d steps", d.Name, maxScheduleSteps)
}

// quiescent checks P4 no lost wake-up and P1's "never none" in a state
// where no step is enabled: no Acceptor holds an fd, every connection the
// clients opened was accepted (msgring: a multishot accept left ended
// strands the backlog), no queue holds one, and every accepted connection
// was registered.
func quiescent(s model.State, b model.Bounds) *model.Violation {
	for a, ac := range s.Acceptors {
		if ac.PC != model.AIdle {
			return &model.Violation{Property: model.P4, Detail: fmt.Sprintf("acceptor %d is stuck holding c%d", a, ac.Conn)}
		}
	}
	if s.Next < int64(b.Conns) {
		return &model.Violation{Property: model.P4, Detail: fmt.Sprintf("%d of %d connections accepted: the rest wait in the backlog", s.Next, b.Conns)}
	}
	registered := 0
	for w, wk := range s.Workers {
		if len(wk.Queue) > 0 {
			return &model.Violation{Property: model.P4, Detail: fmt.Sprintf("c%d waits in worker %d's queue with no token pending", wk.Queue[0], w)}
		}
		registered += wk.Registered
	}
	if int64(registered) != s.Next {
		return &model.Violation{Property: model.P1, Detail: fmt.Sprintf("%d connections accepted, %d registered", s.Next, registered)}
	}
	return nil
}

func correctDesigns() []model.Design {
	var out []model.Design
	for _, d := range model.Designs() {
		if d.Correct() {
			out = append(out, d)
		}
	}
	return out
}

// FuzzModelSchedule checks P1–P4 (spec/SPEC.md) of every correct design on
// the interleavings the input chooses.
func FuzzModelSchedule(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 0})
	f.Add([]byte{3, 1, 4, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2})
	designs := correctDesigns()
	f.Fuzz(func(t *testing.T, data []byte) {
		d, b, sched := scheduleSystem(designs, data)
		v, taken, err := runSchedule(d, b, sched)
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			t.Fatalf("%s at %v: %v\nsteps:\n%s", d.Name, b, v, stepList(taken))
		}
	})
}

// TestScheduleHarnessFindsSeededBugs feeds the harness of FuzzModelSchedule
// each seeded bug's shortest counterexample, as the schedule bytes that
// choose its steps: the harness must report the property the bug breaks,
// or finding nothing on the correct designs would prove nothing.
func TestScheduleHarnessFindsSeededBugs(t *testing.T) {
	for _, d := range model.Designs() {
		if d.Correct() {
			continue
		}
		t.Run(d.Name, func(t *testing.T) {
			b := d.DefaultBounds()
			res, err := model.Explore(d, b, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Violation == nil {
				t.Fatalf("the explorer found no counterexample")
			}
			sched, err := scheduleOf(d, b, res.Trace)
			if err != nil {
				t.Fatal(err)
			}
			v, taken, err := runSchedule(d, b, sched)
			if err != nil {
				t.Fatal(err)
			}
			if v == nil || v.Property != d.Expect {
				t.Fatalf("the harness reported %v, want %s\nsteps:\n%s", v, d.Expect, stepList(taken))
			}
		})
	}
}

// scheduleOf turns a counterexample into the schedule bytes that make
// runSchedule take its steps.
func scheduleOf(d model.Design, b model.Bounds, trace []model.TraceStep) ([]byte, error) {
	m, err := model.NewMachine(d, b)
	if err != nil {
		return nil, err
	}
	var sched []byte
	s := m.Initial()
	for _, ts := range trace[1:] {
		want := ts.State.Key()
		k := -1
		for i, t := range m.Steps(s) {
			if t.Step == ts.Step && t.Next.Key() == want {
				k = i
				break
			}
		}
		if k < 0 || k > 255 {
			return nil, fmt.Errorf("step %v is not enabled in the harness's state", ts.Step)
		}
		sched = append(sched, byte(k))
		s = ts.State
	}
	return sched, nil
}

func stepList(steps []model.Step) string {
	s := ""
	for i, st := range steps {
		s += fmt.Sprintf("  %3d %v\n", i, st)
	}
	return s
}

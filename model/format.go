package model

import (
	"fmt"
	"sort"
	"strings"
)

// Describe renders s as lines a person reads: one per Acceptor, one for the
// shared counter, one per Worker.
func (m *Machine) Describe(s State) []string {
	var out []string
	for i, a := range s.Acceptors {
		d := describeAcceptor(a)
		if a.Disarmed {
			d += ", multishot accept ended"
		}
		if len(a.Posting) > 0 {
			d += ", submitted " + connList(a.Posting)
		}
		if len(a.Retry) > 0 {
			d += ", to submit again " + connList(a.Retry)
		}
		out = append(out, fmt.Sprintf("acceptor %d: %s", i, d))
	}
	out = append(out, fmt.Sprintf("seq=%d accepted=%d", s.Seq, s.Next))
	for i, w := range s.Workers {
		out = append(out, fmt.Sprintf("worker %d: %s", i, m.describeWorker(s, i, w)))
	}
	return out
}

func describeAcceptor(a Acceptor) string {
	switch a.PC {
	case AIdle:
		return "idle"
	case AHold:
		return fmt.Sprintf("holding c%d for worker %d", a.Conn, a.Worker)
	case APicked:
		return fmt.Sprintf("holding an fd, read seq=%d (worker %d)", a.Conn, a.Worker)
	case AReserved:
		return fmt.Sprintf("took c%d for worker %d, Accept not yet emitted", a.Conn, a.Worker)
	case APushRead:
		return fmt.Sprintf("holding c%d, read worker %d's queue %s", a.Conn, a.Worker, connList(a.Stale))
	case ANotify:
		return fmt.Sprintf("pushed c%d, to notify worker %d", a.Conn, a.Worker)
	case AFlipped:
		return fmt.Sprintf("pushed c%d, flipped worker %d's flag, to write its token", a.Conn, a.Worker)
	case APush:
		return fmt.Sprintf("holding c%d, notified worker %d, to push", a.Conn, a.Worker)
	}
	return fmt.Sprintf("pc(%d)", a.PC)
}

func (m *Machine) describeWorker(s State, i int, w Worker) string {
	var b strings.Builder
	switch w.PC {
	case WPop:
		fmt.Fprintf(&b, "popping (%d token(s) to spend)", w.Pending)
	case WPopRead:
		fmt.Fprintf(&b, "popping, read queue %s", connList(w.Stale))
	case WRegister:
		fmt.Fprintf(&b, "registering c%d", w.Conn)
	case WCheck:
		b.WriteString("draining")
		if w.MayIdle {
			b.WriteString(" (or idle)")
		}
	default:
		b.WriteString(wpcNames[w.PC])
	}
	switch {
	case m.d.Channel == Ring:
		// the CQ is the queue: its head, then what the kernel holds back
		fmt.Fprintf(&b, " cq=%s/%d overflow=%s", connList(w.Queue[:w.CQ]), m.pipeCap(), connList(w.Queue[w.CQ:]))
	case m.d.Channel == Eventfd:
		fmt.Fprintf(&b, " queue=%s", connList(w.Queue))
		fmt.Fprintf(&b, " eventfd=%d", w.Tokens)
	default:
		fmt.Fprintf(&b, " queue=%s", connList(w.Queue))
		fmt.Fprintf(&b, " pipe=%d/%d", w.Tokens, m.pipeCap())
	}
	if m.d.coalesced {
		f := 0
		if w.Flag {
			f = 1
		}
		fmt.Fprintf(&b, " flag=%d", f)
	}
	if s.Conns == nil {
		fmt.Fprintf(&b, " registered=%d", w.Registered)
		return b.String()
	}
	type reg struct {
		ord int
		c   int64
	}
	var regs []reg
	for c, g := range s.Conns {
		if g.Registered && g.Worker == i {
			regs = append(regs, reg{g.Ord, int64(c)})
		}
	}
	sort.Slice(regs, func(x, y int) bool { return regs[x].ord < regs[y].ord })
	cs := make([]int64, len(regs))
	for x, r := range regs {
		cs[x] = r.c
	}
	fmt.Fprintf(&b, " registered=%s", connList(cs))
	return b.String()
}

// String reports the result as modelcheck prints it: the design and bounds,
// the verdict, the counterexample if there is one, and last the number of
// states explored.
func (r *Result) String() string { return r.report().String() }

// TraceText renders the counterexample as numbered steps, each followed by
// the state after it; step 0 is the initial state.
func (r *Result) TraceText() string { return r.report().traceText() }

// DOT renders the counterexample as a Graphviz digraph: one node per state,
// one edge per step, the last state in red.
func (r *Result) DOT() string { return r.report().dot() }

func (r *Result) report() report {
	rep := report{
		name: r.Design.Name, summary: r.Design.Summary, bounds: r.Bounds.String(),
		holds:     fmt.Sprintf("%s, %s, %s, %s", P1, P2, P3, P4),
		violation: r.Violation, transitions: r.Transitions, depth: r.Depth, explored: r.States,
	}
	for _, ts := range r.Trace {
		rep.steps = append(rep.steps, ts.Step)
		rep.states = append(rep.states, r.m.Describe(ts.State))
	}
	return rep
}

// report is what String, TraceText and DOT render of a search's result,
// whichever machine it searched: the hand-off's or the lifecycle's.
type report struct {
	name, summary, bounds string
	// holds lists the properties that hold when there is no violation.
	holds     string
	violation *Violation
	// steps[i] is the step into states[i]; steps[0], into the initial
	// state, is unused.
	steps                        []Step
	states                       [][]string
	transitions, depth, explored int
}

func (r report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "design %s: %s\n", r.name, r.summary)
	fmt.Fprintf(&b, "bounds %s\n", r.bounds)
	if r.violation == nil {
		fmt.Fprintf(&b, "all properties hold: %s\n", r.holds)
	} else {
		fmt.Fprintf(&b, "%s\n", r.violation.Error())
		fmt.Fprintf(&b, "counterexample, %d steps (a shortest one):\n", len(r.steps)-1)
		b.WriteString(r.traceText())
	}
	fmt.Fprintf(&b, "transitions: %d, depth: %d\n", r.transitions, r.depth)
	fmt.Fprintf(&b, "states explored: %d\n", r.explored)
	return b.String()
}

func (r report) traceText() string {
	var b strings.Builder
	for i, st := range r.states {
		if i == 0 {
			fmt.Fprintf(&b, "%3d. initial state\n", 0)
		} else {
			fmt.Fprintf(&b, "%3d. %s\n", i, r.steps[i])
		}
		for _, l := range st {
			fmt.Fprintf(&b, "       %s\n", l)
		}
	}
	return b.String()
}

func (r report) dot() string {
	var b strings.Builder
	b.WriteString("digraph counterexample {\n\tnode [shape=box fontname=\"monospace\"];\n")
	if r.violation != nil {
		fmt.Fprintf(&b, "\tlabel=%q;\n", r.name+": "+r.violation.Error())
	}
	for i, st := range r.states {
		label := strings.Join(st, "\\l") + "\\l"
		attr := ""
		if i == len(r.states)-1 && r.violation != nil {
			attr = " color=red"
		}
		fmt.Fprintf(&b, "\ts%d [label=\"%s\"%s];\n", i, dotEscape(label), attr)
		if i > 0 {
			style := ""
			if r.steps[i].Hidden() {
				style = " style=dashed"
			}
			fmt.Fprintf(&b, "\ts%d -> s%d [label=\"%d. %s\"%s];\n", i-1, i, i, dotEscape(r.steps[i].String()), style)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// dotEscape escapes double quotes for a DOT string; \l is kept.
func dotEscape(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }

// Violated reports whether the search found a property broken.
func (r *Result) Violated() bool { return r.Violation != nil }

// Violated reports whether the search found a property broken.
func (r *LifeResult) Violated() bool { return r.Violation != nil }

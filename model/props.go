package model

import "fmt"

// Property names one of the properties of spec/SPEC.md, by the name used
// everywhere in handoff.
type Property string

const (
	// P1: every accepted fd is handed to exactly one worker: never two, never
	// none. Checked at every pop (never twice) and at quiescence (never none).
	P1 Property = "P1 exactly-once"
	// P2: the k-th dispatched fd goes to worker k mod N. Checked at every
	// Dispatch.
	P2 Property = "P2 round-robin"
	// P3: a worker registers its fds in the order they were dispatched to
	// it. Checked at every Register.
	P3 Property = "P3 per-worker FIFO"
	// P4: in every state where no step is enabled, every accepted fd is
	// registered: no Worker sleeps beside a non-empty queue with no token
	// pending, no Acceptor is stuck holding an fd.
	P4 Property = "P4 no lost wake-up"
)

// Violation is a property that a state or step breaks, with the reason in
// words.
type Violation struct {
	Property Property
	Detail   string
}

func (v *Violation) Error() string { return fmt.Sprintf("%s violated: %s", v.Property, v.Detail) }

// checkDispatch checks P2 for a push of c onto w, before the push updates
// the Worker's count. k counts the dispatches before this one.
func checkDispatch(s *State, w int) *Violation {
	k := 0
	for _, wk := range s.Workers {
		k += wk.Dispatched
	}
	if n := len(s.Workers); w != k%n {
		return &Violation{P2, fmt.Sprintf("dispatch #%d went to worker %d, want worker %d (%d mod %d)", k, w, k%n, k, n)}
	}
	return nil
}

// checkPop checks P1's "never two" after worker w took c; the ghost is
// already updated.
func checkPop(s *State, w int, c int64) *Violation {
	if s.Conns == nil {
		return nil
	}
	if g := s.Conns[c]; g.Handed > 1 {
		return &Violation{P1, fmt.Sprintf("c%d handed out twice: first to worker %d, now to worker %d", c, g.HandedTo, w)}
	}
	return nil
}

// checkRegister checks P3 when worker w registers c, before the Worker's
// LastOrd is updated.
func checkRegister(s *State, w int, c int64) *Violation {
	if s.Conns == nil {
		return nil
	}
	g := s.Conns[c]
	if g.Worker != w {
		return &Violation{P1, fmt.Sprintf("worker %d registered c%d, which was dispatched to worker %d", w, c, g.Worker)}
	}
	if g.Ord+1 <= s.Workers[w].LastOrd {
		return &Violation{P3, fmt.Sprintf("worker %d registered c%d (its dispatch #%d) after its dispatch #%d", w, c, g.Ord, s.Workers[w].LastOrd-1)}
	}
	return nil
}

// checkQuiescent checks P4 and P1's "never none" in a state where no step
// is enabled: every accepted connection must be registered.
func checkQuiescent(s *State) *Violation {
	for i, a := range s.Acceptors {
		if a.PC != AIdle {
			return &Violation{P4, fmt.Sprintf("acceptor %d is blocked holding c%d (%s)", i, a.Conn, apcNames[a.PC])}
		}
	}
	for w, wk := range s.Workers {
		if len(wk.Queue) > 0 {
			return &Violation{P4, fmt.Sprintf("c%d waits in worker %d's queue; worker %d is %s with no token pending",
				wk.Queue[0], w, w, wpcNames[wk.PC])}
		}
	}
	for c, g := range s.Conns {
		if !g.Registered {
			return &Violation{P1, fmt.Sprintf("c%d was accepted but is in no queue and no worker registered it", c)}
		}
	}
	return nil
}

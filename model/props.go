package model

import "fmt"

// Property names one of the properties of spec/SPEC.md, by the name used
// everywhere in handoff.
type Property string

const (
	// P1: every accepted fd is handed to exactly one worker: never two, never
	// none. Checked at every pop (never twice) and at quiescence (never none).
	P1 Property = "P1 exactly-once"
	// P2: the connection accepted k-th is numbered k and goes to worker k
	// mod N: number and Worker come from one shared counter. Checked at
	// every Accept, which takes both; Dispatch pushes onto the Worker taken.
	P2 Property = "P2 round-robin"
	// P3: a worker registers its fds in the order they were dispatched to
	// it. Checked at every Register.
	P3 Property = "P3 per-worker FIFO"
	// P4: in every state where no step is enabled, every accepted fd is
	// registered: no Worker sleeps beside a non-empty queue with no token
	// pending, no Acceptor is stuck holding an fd.
	P4 Property = "P4 no lost wake-up"

	// P5: every fd the kernel gave is closed exactly once, by its owner.
	// Checked at every close(2) (the number must still be the closer's) and
	// in every state where no step is enabled (an open fd must belong to a
	// connection that is not closed).
	P5 Property = "P5 no fd leak"
	// P6: OnClose runs once, before close(2), and nothing of a connection's
	// (a callback, an event armed for its generation, a task submitted for
	// it) reaches it after OnClose or reaches a newer connection on the
	// same fd. Checked at OnClose, at every event delivered and task run,
	// and at every OnData.
	P6 Property = "P6 close before reuse"
	// P7: when Shutdown returns, every registered connection had its
	// OnClose, every fd accepted is closed (those accepted while it ran
	// too), and the Acceptors and Workers have returned. Checked at Done.
	P7 Property = "P7 clean shutdown"
	// P8: an AsyncWrite or Wake that returned nil runs on its connection,
	// or that connection's OnClose runs first: no task is stranded by a lost
	// kick. Checked where a task is dropped and in every state where no step
	// is enabled.
	P8 Property = "P8 no lost task"
	// P9: what the handler wrote reaches the peer complete and in order
	// unless the connection fails, what was written before Close included;
	// and pending output is bounded: no read while it is at MaxOutput.
	// Checked at every read, at OnClose, and where no step is enabled.
	P9 Property = "P9 output integrity"
	// P10: OnData is offered exactly the bytes received and not consumed,
	// in order, none skipped or offered again once consumed, across read
	// pauses and half-close; a close at EOF finds all consumed. Checked at
	// every OnData, at OnClose, and where no step is enabled.
	P10 Property = "P10 input integrity"
)

// Violation is a property that a state or step breaks, with the reason in
// words.
type Violation struct {
	Property Property
	Detail   string
}

func (v *Violation) Error() string { return fmt.Sprintf("%s violated: %s", v.Property, v.Detail) }

// checkAccept checks P2 when the connection accepted now (the s.Next-th,
// from 0) is given number c, and with it Worker c mod N. Numbers are
// connections' names, so a number given twice is reported here, before a
// second connection of that name reaches a queue.
func checkAccept(s *State, c int64) *Violation {
	if s.Conns == nil || c == s.Next {
		return nil
	}
	k, n := s.Next, int64(len(s.Workers))
	return &Violation{P2, fmt.Sprintf("connection #%d got number %d, already given, so worker %d; want number %d, worker %d (%d mod %d)",
		k, c, c%n, k, k%n, k, n)}
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
// is enabled: every connection the clients opened (b.Conns, in
// exploration) must be accepted and every accepted connection registered.
// A backlog left is a lost wake-up of an Acceptor: msgring's multishot
// accept ended and was not submitted again.
func checkQuiescent(s *State, b Bounds) *Violation {
	for i, a := range s.Acceptors {
		if a.PC != AIdle {
			return &Violation{P4, fmt.Sprintf("acceptor %d is blocked holding c%d (%s)", i, a.Conn, apcNames[a.PC])}
		}
	}
	if s.Conns != nil && s.Next < int64(b.Conns) {
		for i, a := range s.Acceptors {
			if a.Disarmed {
				return &Violation{P4, fmt.Sprintf("%d connection(s) wait in the listen backlog; acceptor %d's multishot accept ended and was not submitted again",
					int64(b.Conns)-s.Next, i)}
			}
		}
		return &Violation{P4, fmt.Sprintf("%d connection(s) wait in the listen backlog and no acceptor accepts", int64(b.Conns)-s.Next)}
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

package model

import (
	"fmt"
	"maps"
	"slices"
)

// lifeCheck holds a recorded trace to the lifecycle machine's server side,
// event by event: what Replay and CheckTrace check of a connection's life
// after Register. The peers, the kernel and the handler are what the trace
// does not show, so every amount they decide (how much a read returns, what
// OnData consumes, how much a send takes) is allowed, and what is checked is
// the Worker's side of the bargain, the same rules LifeMachine steps by:
//
//   - P5 no fd leak: an fd is closed once (Close or Drop), by its owner.
//   - P6 close before reuse: an fd number is accepted again only after the
//     connection that held it had its Close, which the reactor emits after
//     OnClose and before close(2); every generation a Worker registers is
//     new; an event (Ready) or a task (Run) reaches only the connection and
//     generation it was armed or submitted for, and nothing (Ready, Read,
//     Data, Write, Send, Run) reaches a connection after its Close.
//   - P7 clean shutdown: at Done every connection is closed or dropped, every
//     fd accepted is closed, and nothing follows.
//   - P8 no lost task: a Submit that sets the pending flag is followed by a
//     Kick under the same lock; a Worker's Tasks takes the whole list; the
//     tasks it took run in order, each on its connection, and only one whose
//     connection is closed is dropped; at the end of a finished run (Done,
//     or TraceCheck.Finished) every task submitted was run or dropped.
//   - P9 output integrity: a send takes no more than was written; a close
//     by the handler or at EOF leaves nothing written unsent; with
//     MaxOutput known, no read while that much is pending.
//   - P10 input integrity: OnData is offered exactly what was read and not
//     consumed, and consumes no more; nothing is read after EOF; a close at
//     EOF follows an EOF read, and either all was consumed or OnData was
//     offered all of it after the EOF.
//
// A field a trace leaves out (an fd, a generation, a cause) is not checked,
// so that a trace recorded before the lifecycle was traced is held to what
// it shows and no more.
type lifeCheck struct {
	maxOutput int
	conns     map[int64]*connView
	// fds maps an fd number to the connection holding it.
	fds     map[int]int64
	workers map[int]*workerView
	// sawRead: the trace has Read events, so a close at EOF must follow
	// one.
	sawRead       bool
	stopped, done bool
}

// connView is what the trace has shown of one connection.
type connView struct {
	worker   int
	fd       int
	gen      uint32
	phase    ConnPhase
	accepted bool
	// recv and used are bytes read and consumed; eof: a Read of 0; shown:
	// OnData was offered all of recv-used after the EOF.
	recv, used  int
	eof, shown  bool
	wrote, sent int
}

// workerView is what the trace has shown of one Worker's task list.
type workerView struct {
	gen uint32
	// list is submitted and not taken; taken is taken and not yet run or
	// dropped, oldest first.
	list, taken []taskView
	// pending is the list's flag; owed: a Submit set it and its Kick has
	// not come yet.
	pending, owed bool
}

type taskView struct {
	conn int64
	gen  uint32
}

func newLifeCheck(maxOutput int) *lifeCheck {
	return &lifeCheck{maxOutput: maxOutput, conns: map[int64]*connView{}, fds: map[int]int64{}, workers: map[int]*workerView{}}
}

func (l *lifeCheck) worker(w int) *workerView {
	v := l.workers[w]
	if v == nil {
		v = &workerView{}
		l.workers[w] = v
	}
	return v
}

// conn returns the connection the event names, registered on the Worker
// that emits it and not closed; when it is not, the error says why, named
// by the property that the event breaks (P6).
func (l *lifeCheck) open(e Event) (*connView, error) {
	c := l.conns[e.Conn]
	switch {
	case c == nil || c.phase < ConnOpen:
		return nil, fmt.Errorf("%s: %s for c%d, which is not registered", P6, e.Kind, e.Conn)
	case c.worker != e.Worker:
		return nil, fmt.Errorf("%s: %s by worker %d for c%d, which worker %d registered", P6, e.Kind, e.Worker, e.Conn, c.worker)
	case c.phase != ConnOpen:
		return nil, fmt.Errorf("%s: %s for c%d after its Close", P6, e.Kind, e.Conn)
	}
	return c, nil
}

// leaveTasks checks, when Worker w does something other than run its
// tasks, that every task it took was run or may be dropped (P8).
func (l *lifeCheck) leaveTasks(w int, e Event) error {
	wv := l.worker(w)
	for _, t := range wv.taken {
		if c := l.conns[t.conn]; c != nil && c.phase == ConnOpen && c.gen == t.gen {
			return fmt.Errorf("%s: worker %d went on (%s) with the task it took for c%d (g%d) neither run nor dropped", P8, w, e, t.conn, t.gen)
		}
	}
	wv.taken = nil
	return nil
}

// step checks one event and takes it into the views.
func (l *lifeCheck) step(e Event) error {
	if l.done {
		return fmt.Errorf("%s: %s after Done: Shutdown returned while the server was still running", P7, e)
	}
	switch e.Kind {
	case Wake, Pop, Register, Ready, Read, Tasks:
		if err := l.leaveTasks(e.Worker, e); err != nil {
			return err
		}
	}
	switch e.Kind {
	case Accept:
		if e.Fd != 0 {
			if h, ok := l.fds[e.Fd]; ok {
				return fmt.Errorf("%s: fd%d accepted for c%d while c%d holds it: its Close has not come, so close(2) came before OnClose", P6, e.Fd, e.Conn, h)
			}
			l.fds[e.Fd] = e.Conn
		}
		l.conns[e.Conn] = &connView{worker: -1, fd: e.Fd, phase: ConnQueued, accepted: true}
	case Dispatch:
		if c := l.conns[e.Conn]; c != nil {
			c.worker = e.Worker
		}
	case Pop:
		if c := l.conns[e.Conn]; c != nil {
			c.phase = ConnPopped
		}
	case Register:
		c := l.conns[e.Conn]
		if c == nil {
			c = &connView{worker: e.Worker, fd: e.Fd}
			l.conns[e.Conn] = c
		}
		if e.Fd != 0 && c.fd != 0 && e.Fd != c.fd {
			return fmt.Errorf("%s: c%d registered on fd%d, accepted on fd%d", P6, e.Conn, e.Fd, c.fd)
		}
		wv := l.worker(e.Worker)
		if e.Gen != 0 {
			if e.Gen <= wv.gen {
				return fmt.Errorf("%s: worker %d registered c%d with generation %d, not newer than its last, %d", P6, e.Worker, e.Conn, e.Gen, wv.gen)
			}
			wv.gen = e.Gen
			c.gen = e.Gen
		}
		c.worker = e.Worker
		c.phase = ConnOpen
	case Ready:
		c, err := l.open(e)
		if err != nil {
			return err
		}
		if e.Gen != 0 && c.gen != 0 && e.Gen != c.gen {
			return fmt.Errorf("%s: an event armed for generation %d delivered to c%d of generation %d", P6, e.Gen, e.Conn, c.gen)
		}
		if e.Fd != 0 && c.fd != 0 && e.Fd != c.fd {
			return fmt.Errorf("%s: an event of fd%d delivered to c%d on fd%d", P6, e.Fd, e.Conn, c.fd)
		}
	case Read:
		c, err := l.open(e)
		if err != nil {
			return err
		}
		l.sawRead = true
		switch {
		case c.eof:
			return fmt.Errorf("%s: c%d read after its EOF", P10, e.Conn)
		case l.maxOutput > 0 && c.wrote-c.sent >= l.maxOutput:
			return fmt.Errorf("%s: c%d read with %d bytes of output pending, MaxOutput %d: reading is not paused", P9, e.Conn, c.wrote-c.sent, l.maxOutput)
		case e.N == 0:
			c.eof = true
		default:
			c.recv += e.N
		}
	case Data:
		c, err := l.open(e)
		if err != nil {
			return err
		}
		if held := c.recv - c.used; e.N != held || e.Consumed < 0 || e.Consumed > e.N {
			return fmt.Errorf("%s: OnData of c%d offered %d bytes and consumed %d; %d were read and not consumed", P10, e.Conn, e.N, e.Consumed, held)
		}
		if c.eof {
			c.shown = true
		}
		c.used += e.Consumed
	case Write:
		c, err := l.open(e)
		if err != nil {
			return err
		}
		c.wrote += e.N
	case Send:
		c, err := l.open(e)
		if err != nil {
			return err
		}
		if e.N > c.wrote-c.sent {
			return fmt.Errorf("%s: c%d sent %d bytes with %d written and not sent", P9, e.Conn, e.N, c.wrote-c.sent)
		}
		c.sent += e.N
	case Close:
		return l.close(e)
	case Drop:
		return l.drop(e)
	case Submit:
		return l.submit(e)
	case Kick:
		wv := l.worker(e.Worker)
		switch {
		case wv.owed:
			wv.owed = false
		case !l.stopped:
			return fmt.Errorf("%s: a Kick of worker %d that no Submit setting the pending flag asked for", P8, e.Worker)
		}
	case Tasks:
		wv := l.worker(e.Worker)
		switch {
		case wv.owed:
			return fmt.Errorf("%s: worker %d took its tasks before the Kick its pending flag owes", P8, e.Worker)
		case e.N != len(wv.list):
			return fmt.Errorf("%s: worker %d took %d tasks of the %d listed", P8, e.Worker, e.N, len(wv.list))
		}
		wv.taken, wv.list = wv.list, nil
		wv.pending = false
	case Run:
		return l.run(e)
	case Stop:
		l.stopped = true
	case Done:
		if err := l.doneCheck(); err != nil {
			return err
		}
		l.done = true
	}
	return nil
}

func (l *lifeCheck) close(e Event) error {
	c, err := l.open(e)
	if err != nil {
		return err
	}
	switch {
	case e.Fd != 0 && c.fd != 0 && e.Fd != c.fd:
		return fmt.Errorf("%s: Close of c%d names fd%d, but it was accepted on fd%d", P5, e.Conn, e.Fd, c.fd)
	case e.Gen != 0 && c.gen != 0 && e.Gen != c.gen:
		return fmt.Errorf("%s: Close of c%d names generation %d, but it is %d", P6, e.Conn, e.Gen, c.gen)
	case (e.Why == CauseHandler || e.Why == CauseEOF) && c.wrote > c.sent:
		return fmt.Errorf("%s: c%d closed (%s) with %d bytes written and not sent: they are lost", P9, e.Conn, e.Why, c.wrote-c.sent)
	case e.Why == CauseEOF && l.sawRead && !c.eof:
		return fmt.Errorf("%s: c%d closed at EOF, but no EOF was read", P10, e.Conn)
	case e.Why == CauseEOF && c.recv > c.used && !c.shown:
		return fmt.Errorf("%s: c%d closed at EOF with %d bytes read that OnData was not offered after the EOF", P10, e.Conn, c.recv-c.used)
	}
	c.phase = ConnClosed
	l.free(c.fd, e.Conn)
	return nil
}

// free releases fd number n from connection c.
func (l *lifeCheck) free(n int, c int64) {
	if h, ok := l.fds[n]; ok && h == c {
		delete(l.fds, n)
	}
}

func (l *lifeCheck) drop(e Event) error {
	if e.Conn < 0 {
		if h, ok := l.fds[e.Fd]; ok && e.Fd != 0 {
			return fmt.Errorf("%s: the acceptor dropped fd%d, which c%d holds", P5, e.Fd, h)
		}
		return nil
	}
	c := l.conns[e.Conn]
	switch {
	case c == nil:
		return fmt.Errorf("%s: Drop of c%d, which was never accepted", P5, e.Conn)
	case c.phase >= ConnOpen:
		return fmt.Errorf("%s: Drop of c%d, which is registered: it needs OnClose (Close)", P5, e.Conn)
	case e.Fd != 0 && c.fd != 0 && e.Fd != c.fd:
		return fmt.Errorf("%s: Drop of c%d names fd%d, but it was accepted on fd%d", P5, e.Conn, e.Fd, c.fd)
	}
	c.phase = ConnDropped
	l.free(c.fd, e.Conn)
	return nil
}

func (l *lifeCheck) submit(e Event) error {
	wv := l.worker(e.Worker)
	c := l.conns[e.Conn]
	switch {
	case wv.owed:
		return fmt.Errorf("%s: a Submit to worker %d before the Kick the last one owes", P8, e.Worker)
	case c == nil || c.phase < ConnOpen:
		return fmt.Errorf("%s: a task submitted for c%d, which was never registered", P6, e.Conn)
	case c.worker != e.Worker:
		return fmt.Errorf("%s: a task for c%d submitted to worker %d; worker %d registered it", P6, e.Conn, e.Worker, c.worker)
	case e.Gen != 0 && c.gen != 0 && e.Gen > c.gen:
		return fmt.Errorf("%s: a task for c%d of generation %d, newer than c%d's %d", P6, e.Conn, e.Gen, e.Conn, c.gen)
	}
	g := e.Gen
	if g == 0 {
		g = c.gen
	}
	wv.list = append(wv.list, taskView{conn: e.Conn, gen: g})
	if !wv.pending {
		wv.pending, wv.owed = true, true
	}
	return nil
}

// run checks a Run against the tasks Worker e.Worker took: those before it
// whose connection is closed were dropped; the next must be this one.
func (l *lifeCheck) run(e Event) error {
	wv := l.worker(e.Worker)
	for len(wv.taken) > 0 {
		t := wv.taken[0]
		wv.taken = wv.taken[1:]
		if t.conn == e.Conn && (e.Gen == 0 || t.gen == e.Gen) {
			if _, err := l.open(e); err != nil {
				return err
			}
			if c := l.conns[e.Conn]; c.gen != 0 && t.gen != c.gen {
				return fmt.Errorf("%s: a task for c%d of generation %d runs on generation %d", P6, e.Conn, t.gen, c.gen)
			}
			return nil
		}
		if c := l.conns[t.conn]; c != nil && c.phase == ConnOpen && c.gen == t.gen {
			return fmt.Errorf("%s: worker %d dropped its task for c%d, which is open, and ran one for c%d", P8, e.Worker, t.conn, e.Conn)
		}
	}
	return fmt.Errorf("%s: worker %d runs a task for c%d that it did not take", P8, e.Worker, e.Conn)
}

// doneCheck is P7, and P8's end, when Shutdown returns.
func (l *lifeCheck) doneCheck() error {
	for _, n := range slices.Sorted(maps.Keys(l.conns)) {
		c := l.conns[n]
		if c.phase != ConnClosed && c.phase != ConnDropped {
			return fmt.Errorf("%s: Shutdown returned with c%d %s", P7, n, connPhaseNames[c.phase])
		}
	}
	for _, fd := range slices.Sorted(maps.Keys(l.fds)) {
		return fmt.Errorf("%s: Shutdown returned with fd%d (c%d) open", P7, fd, l.fds[fd])
	}
	return l.finish()
}

// finish checks what a finished run owes: no kick owed, no task listed
// and never taken (its kick was lost), none taken and never run (P8).
func (l *lifeCheck) finish() error {
	for _, w := range slices.Sorted(maps.Keys(l.workers)) {
		wv := l.workers[w]
		if wv.owed {
			return fmt.Errorf("%s: worker %d's pending flag was set by a Submit whose Kick never came", P8, w)
		}
		if len(wv.list) > 0 {
			t := wv.list[0]
			return fmt.Errorf("%s: the task submitted for c%d (g%d) was never taken by worker %d: its kick was lost", P8, t.conn, t.gen, w)
		}
		if err := l.leaveTasks(w, Event{Kind: Done, Acceptor: -1, Worker: -1, Conn: -1}); err != nil {
			return err
		}
	}
	return nil
}

package model

import "fmt"

// connSteps emits the Worker's step on its current connection (Worker.Conn):
// the parts of worker.onEvent, onConnEvent, readConn, deliver, settle and
// finalize that make a system call or call the handler. What lies between
// them, decisions on the Worker's own state, is taken at once (advance).
func (m *LifeMachine) connSteps(s *LifeState, emit lifeEmit) {
	switch s.Worker.PC {
	case WReady:
		m.readyStep(s, emit)
	case WFlush:
		m.flushStep(s, emit)
	case WRead:
		m.readStep(s, emit)
	case WDeliver:
		m.deliverStep(s, emit)
	case WMod:
		m.modStep(s, emit)
	case WOnClose:
		m.onCloseStep(s, emit)
	case WClose:
		m.closeStep(s, emit)
	case WShutFlush:
		m.shutFlushStep(s, emit)
	}
}

// wev is an event of the Worker about connection c.
func wev(k Kind, c int8) Event { return Event{Kind: k, Acceptor: -1, Worker: 0, Conn: int64(c)} }

// readyStep emits the delivery of the batch event Worker.Ev (worker.onEvent):
// to the connection registered on its fd if that connection's generation is
// the one the event was armed with (Ready), else it is dropped: the fd was
// closed, and maybe given to a newer connection, since epoll_wait returned.
// bug-stale-event delivers it whatever its generation.
func (m *LifeMachine) readyStep(s *LifeState, emit lifeEmit) {
	ev := s.Worker.Ev
	c := s.onFd(ev.Fd)
	n := *s
	if c < 0 || s.Conns[c].Gen != ev.Gen && !m.d.noEventGen {
		n.Worker.PC = WNext
		note := fmt.Sprintf("fd%d/g%d: no connection on fd%d now", ev.Fd, ev.Gen, ev.Fd)
		if c >= 0 {
			note = fmt.Sprintf("fd%d/g%d: fd%d is c%d of g%d now", ev.Fd, ev.Gen, ev.Fd, c, s.Conns[c].Gen)
		}
		emit(LifeTransition{Step: Step{Event: wev(Ready, -1), Part: PartStale, Note: note}, Next: n}, true)
		return
	}
	var v *Violation
	if g := s.Conns[c].Gen; g != ev.Gen {
		v = &Violation{P6, fmt.Sprintf("an event armed for g%d on fd%d is delivered to c%d of g%d, the newer connection on that fd", ev.Gen, ev.Fd, c, g)}
	}
	n.Worker.Conn = c
	n.Worker.Ctx = CtxEvent
	n.Worker.PC = WFlush
	note := m.advance(&n)
	e := wev(Ready, c)
	e.Fd, e.Gen = int(ev.Fd), uint32(ev.Gen)
	emit(LifeTransition{Step: Step{Event: e, Note: batchText([]LifeEvent{ev}) + note}, Next: n, Violation: v}, true)
}

// flushStep emits onConnEvent's flush of the pending output on a writable
// (or failed) socket: send takes what fits (Send), or EAGAIN, or EPIPE,
// which finalizes the connection at once. Then, if the output went under
// MaxOutput, the input held back is offered.
func (m *LifeMachine) flushStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	k, p := s.Conns[c], s.Peers[s.Conns[c].Peer]
	n := *s
	if p.Rst {
		m.finalize(&n, CauseReset)
		emit(LifeTransition{Step: Step{Event: wev(Send, c), Part: PartFailed, Note: "send: EPIPE"}, Next: n}, false)
		return
	}
	sent := min(k.Out, int8(m.b.SendBuf)-p.Tx)
	nk := &n.Conns[c]
	nk.Out -= sent
	n.Peers[k.Peer].Tx += sent
	n.Worker.PC = WRead
	if nk.Held > 0 && int(nk.Out) < m.b.MaxOutput && !nk.Closing {
		n.Worker.Fresh = 0
		n.Worker.After = WRead
		n.Worker.PC = WDeliver
	}
	note := m.advance(&n)
	if sent == 0 {
		emit(LifeTransition{Step: Step{Event: wev(Send, c), Part: PartEagain, Note: "send: EAGAIN" + note}, Next: n}, false)
		return
	}
	e := wev(Send, c)
	e.N = int(sent)
	emit(LifeTransition{Step: Step{Event: e, Note: note}, Next: n}, false)
}

// mayRead is onConnEvent's condition for a read: the event reported input
// (or an error), the Worker is reading the connection, it has not failed
// nor been closed by the handler, and its output is under MaxOutput
// (bug-read-over-bound drops that last part).
func (m *LifeMachine) mayRead(ev LifeEvent, k *LifeConn) bool {
	return (ev.In || ev.ErrOrHup) && k.ReadOn && k.Err == CauseNone && !k.Closing &&
		(int(k.Out) < m.b.MaxOutput || m.d.readOverBound)
}

// readStep emits readConn's one read: Read of what the peer sent, or of 0
// at its EOF (bug-halfclose-drops-input then discards the input held
// back), or ECONNRESET. P9's bound is checked here: no read while the
// output is at MaxOutput.
func (m *LifeMachine) readStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	k, p := s.Conns[c], s.Peers[s.Conns[c].Peer]
	var v *Violation
	if int(k.Out) >= m.b.MaxOutput {
		v = &Violation{P9, fmt.Sprintf("read(2) on c%d with %d unit(s) of output pending, MaxOutput %d: reading is not paused", c, k.Out, m.b.MaxOutput)}
	}
	n := *s
	nk := &n.Conns[c]
	n.Worker.PC = WSettle
	switch {
	case p.Rst:
		nk.Err = CauseReset
		note := m.advance(&n)
		emit(LifeTransition{Step: Step{Event: wev(Read, c), Part: PartFailed, Note: "read: ECONNRESET" + note}, Next: n, Violation: v}, false)
	case p.Rx > 0:
		n.Peers[k.Peer].Rx = 0
		nk.Recv += p.Rx
		n.Worker.Fresh = p.Rx
		n.Worker.After = WSettle
		n.Worker.PC = WDeliver
		e := wev(Read, c)
		e.N = int(p.Rx)
		emit(LifeTransition{Step: Step{Event: e}, Next: n, Violation: v}, false)
	case p.Fin:
		nk.RdClosed = true
		note := ""
		if m.d.halfCloseDropsInput && nk.Held > 0 {
			note = fmt.Sprintf(": %d held unit(s) discarded", nk.Held)
			nk.Held = 0
		}
		note += m.advance(&n)
		emit(LifeTransition{Step: Step{Event: wev(Read, c), Note: "EOF" + note}, Next: n, Violation: v}, false)
	default:
		note := m.advance(&n)
		emit(LifeTransition{Step: Step{Event: wev(Read, c), Part: PartEagain, Note: "read: EAGAIN" + note}, Next: n, Violation: v}, false)
	}
}

// deliverStep emits OnData (worker.deliver, Data): the handler is offered
// the input held back followed by what was just read, and P10 wants that
// to be exactly the units received and not yet consumed; an offer of all
// of them after the EOF is recorded (LifeConn.Shown). The handler is
// memcached's (impl/memcache's Protocol): it takes one unit at a time,
// writes Echo units for it, and stops when output is left pending; a quit
// closes the connection (Conn.Close) and consumes the rest. A request is
// ReqLen units, so that a part of one is declined until the rest arrives.
// Called with no input (a Wake with nothing held) it writes one unit. What
// it leaves is held, unless the connection failed.
func (m *LifeMachine) deliverStep(s *LifeState, emit lifeEmit) {
	w := s.Worker
	c := w.Conn
	k := s.Conns[c]
	offer := k.Held + w.Fresh
	var v *Violation
	switch {
	case k.Phase != ConnOpen:
		v = &Violation{P6, fmt.Sprintf("OnData for c%d after its OnClose", c)}
	case offer != k.Recv-k.Used:
		v = &Violation{P10, fmt.Sprintf("OnData offered c%d's units %d..%d; received %d, consumed %d", c, k.Used, k.Used+offer-1, k.Recv, k.Used)}
	}
	n := *s
	if k.RdClosed && offer == k.Recv-k.Used {
		n.Conns[c].Shown = true
	}
	var evs []Event
	used, note := m.handler(&n, c, offer, &evs)
	n.Worker.Fresh = 0
	n.Worker.PC = w.After
	note += m.advance(&n)
	e := wev(Data, c)
	e.N, e.Consumed = int(offer), int(used)
	evs = append(evs, e)
	emit(LifeTransition{Step: Step{Event: e, Note: note}, Events: evs, Next: n, Violation: v}, false)
}

// handler is OnData for connection c offered offer units, on n in place,
// with deliver's keeping of what it leaves; it returns the units consumed
// and what it did.
func (m *LifeMachine) handler(n *LifeState, c int8, offer int8, evs *[]Event) (int8, string) {
	k := &n.Conns[c]
	p := &n.Peers[k.Peer]
	if offer == 0 {
		return 0, "OnData(empty): " + m.write(n, c, 1, evs)
	}
	used := int8(0)
	note := ""
	r := int8(max(m.b.ReqLen, 1))
	for used+r <= offer {
		pos := k.Used + used + r - 1
		used += r
		if p.Quit && pos == p.Sent-1 {
			k.Closing = true
			used = offer
			note += " quit: Close"
			break
		}
		note += " " + m.write(n, c, int8(m.b.Echo), evs)
		if k.Err != CauseNone {
			used = offer
			break
		}
		if k.Out > 0 {
			break
		}
	}
	k.Used += used
	if k.Err != CauseNone || k.Phase != ConnOpen {
		k.Held = 0
	} else {
		k.Held = offer - used
	}
	if note == "" {
		return used, "an incomplete request: nothing consumed"
	}
	return used, note[1:]
}

// write is Conn.Write of units on n in place: refused once the connection
// is closing, failed or closed; sent at once as far as the send buffer has
// room if nothing is pending (an EPIPE fails the connection), the rest
// buffered. It returns what happened, for a step's note.
func (m *LifeMachine) write(n *LifeState, c int8, units int8, evs *[]Event) string {
	k := &n.Conns[c]
	p := &n.Peers[k.Peer]
	if k.Phase != ConnOpen || k.Closing || k.Err != CauseNone {
		return fmt.Sprintf("Write(%d): ErrClosed", units)
	}
	k.Wrote += units
	e := wev(Write, c)
	e.N = int(units)
	*evs = append(*evs, e)
	note := fmt.Sprintf("Write(%d)", units)
	if k.Out == 0 {
		if p.Rst {
			k.Err = CauseReset
			return note + ": EPIPE"
		}
		sent := min(units, int8(m.b.SendBuf)-p.Tx)
		p.Tx += sent
		units -= sent
		if sent > 0 {
			e := wev(Send, c)
			e.N = int(sent)
			*evs = append(*evs, e)
			note += fmt.Sprintf(" sent %d", sent)
		}
	}
	k.Out += units
	if units > 0 {
		note += fmt.Sprintf(" buffered %d", units)
	}
	return note
}

// want is settle's interest for k: In while not closing, not half-closed
// and under MaxOutput (bug-read-over-bound: whatever the output), Out while
// output is pending.
func (m *LifeMachine) want(k *LifeConn) (in, out bool) {
	in = !k.Closing && !k.RdClosed && (int(k.Out) < m.b.MaxOutput || m.d.readOverBound)
	return in, k.Out > 0
}

// advance takes, on n in place, the Worker's steps that make no system call
// and emit no event, up to the next one that does or that is a choice:
// onConnEvent's tests between its parts, settle, and the return to the
// batch, the task list or the shutdown. It returns what it did, for the
// note of the step that led there.
func (m *LifeMachine) advance(n *LifeState) string {
	note := ""
	for {
		w := &n.Worker
		switch w.PC {
		case WFlush:
			k := &n.Conns[w.Conn]
			if (w.Ev.Out || w.Ev.ErrOrHup) && k.Out > 0 {
				return note
			}
			w.PC = WRead
		case WRead:
			k := &n.Conns[w.Conn]
			if m.mayRead(w.Ev, k) {
				return note
			}
			if w.Ev.ErrOrHup && !k.ReadOn && k.Out == 0 && k.Err == CauseNone {
				k.Err = CauseReset
				note += "; poll error: reset"
			}
			w.PC = WSettle
		case WSettle, WSettleLoop:
			c := w.Conn
			k := &n.Conns[c]
			if k.Phase != ConnOpen {
				m.ret(n)
				continue
			}
			if k.Err != CauseNone {
				m.finalize(n, k.Err)
				return note + "; finalize (" + k.Err.String() + ")"
			}
			loop := k.RdClosed && !k.Closing && k.Out == 0 && k.Held > 0
			if w.PC == WSettleLoop && k.Held >= w.Mark {
				loop = false
			}
			if loop {
				w.Mark = k.Held
				w.Fresh = 0
				w.After = WSettleLoop
				w.PC = WDeliver
				return note + "; half-closed: offer the held input"
			}
			if (k.Closing || k.RdClosed) && (k.Out == 0 || m.d.closeDropsOutput && k.Closing) {
				why := CauseEOF
				if k.Closing {
					why = CauseHandler
				}
				m.finalize(n, why)
				return note + "; finalize (" + why.String() + ")"
			}
			in, out := m.want(k)
			if in == k.ReadOn && out == k.WriteOn {
				m.ret(n)
				continue
			}
			if m.b.CtlFail {
				w.PC = WMod
				return note
			}
			k.ReadOn, k.WriteOn = in, out
			note += "; interest " + interest(in, out)
			m.ret(n)
		case WPopNext:
			if w.Tokens > 0 && n.QLen > 0 {
				return note
			}
			w.Tokens = 0
			w.PC = WNext
		default:
			return note
		}
	}
}

// interest renders an interest set as "in,out".
func interest(in, out bool) string {
	switch {
	case in && out:
		return "in,out"
	case in:
		return "in"
	case out:
		return "out"
	}
	return "none"
}

// modStep emits settle's epoll_ctl MOD, which, with CtlFail, may fail and
// finalize the connection.
func (m *LifeMachine) modStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	n := *s
	in, out := m.want(&n.Conns[c])
	n.Conns[c].ReadOn, n.Conns[c].WriteOn = in, out
	m.ret(&n)
	note := m.advance(&n)
	emit(LifeTransition{Step: Step{Event: wev(0, c), Part: PartMod, Note: "interest " + interest(in, out) + note}, Next: n}, true)
	n = *s
	m.finalize(&n, CauseEpoll)
	emit(LifeTransition{Step: Step{Event: wev(0, c), Part: PartMod, Note: "epoll_ctl MOD failed"}, Next: n}, true)
}

// finalize starts worker.finalize of the current connection for why, on n
// in place: OnClose first, then close(2) (bug-close-before-onclose: the
// other way round).
func (m *LifeMachine) finalize(n *LifeState, why Cause) {
	n.Worker.Why = why
	n.Worker.PC = WOnClose
	if m.d.closeBeforeOnClose {
		n.Worker.PC = WClose
	}
}

// onCloseStep emits OnClose: the connection is marked closed (and gone for
// other goroutines) and its handler's OnClose runs. P6 wants this once, and
// before close(2), so that the fd still names this connection's socket; P9
// wants a close by the handler or at EOF to find no output pending; P10
// wants a close at EOF to find every unit received consumed, or offered
// once more after the EOF and declined.
func (m *LifeMachine) onCloseStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	k := s.Conns[c]
	why := s.Worker.Why
	var v *Violation
	switch {
	case k.OnClose > 0:
		v = &Violation{P6, fmt.Sprintf("OnClose of c%d runs a second time", c)}
	case k.FdClosed || s.Fds[k.Fd-1] != k.Peer+1:
		now := "free"
		if o := s.Fds[k.Fd-1]; o != 0 && o != k.Peer+1 {
			now = fmt.Sprintf("p%d's socket", o-1)
		}
		v = &Violation{P6, fmt.Sprintf("OnClose of c%d runs after close(2) of its fd%d (the number is %s now)", c, k.Fd, now)}
	case (why == CauseHandler || why == CauseEOF) && k.Out > 0:
		v = &Violation{P9, fmt.Sprintf("c%d is closed (%s) with %d unit(s) written and not sent: they are lost", c, why, k.Out)}
	case why == CauseEOF && k.Used != k.Recv && !k.Shown:
		v = &Violation{P10, fmt.Sprintf("c%d is closed at EOF with %d unit(s) received that OnData was not offered after the EOF", c, k.Recv-k.Used)}
	}
	n := *s
	nk := &n.Conns[c]
	nk.Phase = ConnClosed
	nk.OnClose++
	nk.Why = why
	if nk.Out > 0 {
		nk.Lost = true
	}
	n.Worker.PC = WClose
	if m.d.closeBeforeOnClose {
		nk.Out, nk.Held = 0, 0
		m.ret(&n)
	}
	note := m.advance(&n)
	emit(LifeTransition{Step: Step{Event: wev(0, c), Part: PartOnClose, Note: fmt.Sprintf("OnClose(c%d, %s)", c, why) + note}, Next: n, Violation: v}, false)
}

// closeStep emits close(2) of the current connection's fd (Close): the
// number is free for the next accept4, the admission slot is released.
// P5 wants the fd to be this connection's still.
func (m *LifeMachine) closeStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	k := s.Conns[c]
	v := m.checkFdClose(s, c)
	n := *s
	nk := &n.Conns[c]
	nk.FdClosed = true
	m.closeSocket(&n, k.Peer)
	n.Open--
	if m.d.closeBeforeOnClose {
		nk.Phase = ConnClosed
		n.Worker.PC = WOnClose
	} else {
		nk.Out, nk.Held = 0, 0
		m.ret(&n)
	}
	note := m.advance(&n)
	e := wev(Close, c)
	e.Fd, e.Gen, e.Why = int(k.Fd), uint32(k.Gen), s.Worker.Why
	emit(LifeTransition{Step: Step{Event: e, Note: "close(2)" + note}, Next: n, Violation: v}, false)
}

// shutFlushStep emits worker.shutdown's one attempt to flush a connection's
// output (Send, or EAGAIN, or EPIPE), after which it is finalized whatever
// is left.
func (m *LifeMachine) shutFlushStep(s *LifeState, emit lifeEmit) {
	c := s.Worker.Conn
	k, p := s.Conns[c], s.Peers[s.Conns[c].Peer]
	n := *s
	m.finalize(&n, CauseShutdown)
	if p.Rst {
		emit(LifeTransition{Step: Step{Event: wev(Send, c), Part: PartFailed, Note: "send: EPIPE"}, Next: n}, false)
		return
	}
	sent := min(k.Out, int8(m.b.SendBuf)-p.Tx)
	if sent == 0 {
		emit(LifeTransition{Step: Step{Event: wev(Send, c), Part: PartEagain, Note: "send: EAGAIN"}, Next: n}, false)
		return
	}
	n.Conns[c].Out -= sent
	n.Peers[k.Peer].Tx += sent
	e := wev(Send, c)
	e.N = int(sent)
	emit(LifeTransition{Step: Step{Event: e, Note: "the one flush at shutdown"}, Next: n}, false)
}

package reactor

import (
	"bytes"
	"slices"
	"strings"

	"github.com/handoffd/handoff/model"
)

// The properties a simulation run is checked against, by what the handler
// and the peers saw and what the simulated kernel recorded (spec/SPEC.md
// §3): checkQuiet once every loop has finished its work, checkEnd after
// Shutdown.

// checkQuiet checks the connections still open once the loops are quiet,
// every peer having taken what was sent to it: P8 no lost task (every
// AsyncWrite that returned nil has reached the peer, every Wake has brought
// an OnData), P9 output integrity (every byte the handler wrote has reached
// the peer), P10 input integrity (what the peer sent is what the handler
// consumed, then what it holds, then what the socket holds).
func (sm *sim) checkQuiet() {
	for _, id := range sm.h.order {
		sc := sm.h.conns[id]
		if sc.closes > 0 {
			continue
		}
		i, p := sm.peerOf(sc.socket)
		if p == nil {
			sm.problem("conn %d has no peer", id)
			continue
		}
		if sm.gone[i] {
			continue // its peer left: what was in flight may be lost
		}
		handler, async, rest := parseReceived(p.Received)
		if !slices.Equal(handler, sc.writes) {
			sm.problem("P9: open conn %d: peer %d received %d of the handler's %d messages: %q, want %q", id, i, len(handler), len(sc.writes), handler, sc.writes)
		}
		if !slices.Equal(async, sm.asyncs[id]) {
			sm.problem("P8: open conn %d: peer %d received asynchronous writes %q, want the %d accepted %q", id, i, async, len(sm.asyncs[id]), sm.asyncs[id])
		}
		if rest != "" {
			c := sc.c
			sm.problem("P9: open conn %d: peer %d received %q that no one wrote (it holds %d bytes of output, interest %#x, dirty %v)",
				id, i, rest, c.OutputLen(), c.events, c.dirty)
		}
		if sc.closeAsked {
			sm.problem("conn %d, closed by another connection's callback, is still open once the loops are quiet", id)
		}
		for _, at := range sm.wakes[id] {
			if sc.datas <= at {
				sm.problem("P8: open conn %d: a Wake accepted after %d OnData calls brought none (still %d)", id, at, sc.datas)
			}
		}
		held := slices.Concat(sc.consumed, sc.c.in)
		if !bytes.HasPrefix(sm.sent[i], held) {
			sm.problem("P10: open conn %d: consumed %q then held %q, but peer %d sent %q", id, sc.consumed, sc.c.in, i, sm.sent[i])
		}
	}
}

// checkEnd checks a stopped run: no misuse of the kernel, every fd closed
// and each accepted socket once (P5 no fd leak, P7 clean shutdown), every
// connection opened once and closed once (P1, P6, P7), what each peer
// received (P6: nothing of another connection's; P9: the handler's
// messages in order, all of them if the connection closed cleanly), what
// each connection consumed (P10), and the trace, through the model's
// design of the same name (P1–P4) and CheckTrace.
func (sm *sim) checkEnd() {
	for _, v := range sm.k.Violations {
		sm.problem("P5/P6: the reactor misused the kernel: %s", v)
	}
	if open := sm.k.Open(); len(open) > 0 {
		sm.problem("P5/P7: fds %v still open after Shutdown", open)
	}
	for i, p := range sm.peers {
		if n := sm.k.Closed[p.ID()]; p.Accepted() && n != 1 {
			sm.problem("P5: peer %d's socket, accepted, was closed %d times", i, n)
		}
	}
	served := map[int]uint64{}
	for _, id := range sm.h.order {
		sc := sm.h.conns[id]
		served[sc.socket] = id
		if sc.opens != 1 || sc.closes != 1 {
			sm.problem("P7: conn %d had %d OnOpen and %d OnClose, want 1 each", id, sc.opens, sc.closes)
		}
		i, p := sm.peerOf(sc.socket)
		if p == nil {
			continue
		}
		handler, async, rest := parseReceived(p.Received)
		if len(handler) > len(sc.writes) || !slices.Equal(handler, sc.writes[:len(handler)]) {
			sm.problem("P9: conn %d: peer %d received %q, not a prefix of the handler's %q", id, i, handler, sc.writes)
		}
		if sc.closeErr == nil && !sm.gone[i] && len(handler) != len(sc.writes) {
			sm.problem("P9: conn %d closed cleanly, but peer %d received %d of its %d messages", id, i, len(handler), len(sc.writes))
		}
		if !isSubsequence(async, sm.asyncs[id]) {
			sm.problem("P6/P8: conn %d: peer %d received asynchronous writes %q, not among those accepted for it, in order: %q", id, i, async, sm.asyncs[id])
		}
		// A connection that failed, or whose peer left, may have sent part
		// of a message last.
		if rest != "" && ((sc.closeErr == nil && !sm.gone[i]) || !cutShort(rest, append(sc.writes, sc.failedWrite), len(handler), sm.asyncs[id])) {
			sm.problem("P9: conn %d: peer %d received %q that no one wrote", id, i, rest)
		}
		if !bytes.HasPrefix(sm.sent[i], sc.consumed) {
			sm.problem("P10: conn %d consumed %q, not a prefix of what peer %d sent, %q", id, sc.consumed, i, sm.sent[i])
		}
		// A peer that half-closed and waited: its input is offered until
		// the handler takes it all or takes nothing more of what is left.
		if rest := sm.sent[i][min(len(sc.consumed), len(sm.sent[i])):]; sc.closeErr == nil && sm.halfClosed[i] && !sm.gone[i] &&
			!sc.qd && !sc.closeAsked && !sc.panicked && len(rest) > 0 && (sc.lastN != 0 || !bytes.Equal(sc.lastIn, rest)) {
			sm.problem("P10: conn %d closed after peer %d's half-close with %q never offered whole (last offered %q, consumed %d)", id, i, rest, sc.lastIn, sc.lastN)
		}
	}
	for i, p := range sm.peers {
		// A rejected connection gets the reject line, or as much of it as
		// a socket buffer this small takes at once.
		if _, ok := served[p.ID()]; !ok && p.Accepted() && !strings.HasPrefix(sm.s.cfg.RejectLine, string(p.Received)) {
			sm.problem("peer %d was never opened but received %q, not the reject line", i, p.Received)
		}
	}
	if st := sm.s.Stats(); st.CurrConns != 0 || st.Admitted != 0 {
		sm.problem("P7: after Shutdown Stats has %d connections open and %d admitted", st.CurrConns, st.Admitted)
	}
	sm.checkTrace()
}

// checkTrace replays the run's trace through the model's design for its
// notify and wake-up (every event must be a step the model can take), and,
// for a run that quiesced before Shutdown, checks P1–P3 on it whole.
func (sm *sim) checkTrace() {
	events := sm.trace.Events()
	d, err := model.DesignOf(string(sm.cfg.notify), string(sm.cfg.wakeup))
	if err != nil {
		sm.problem("%v", err)
		return
	}
	res, err := model.ReplayWith(d, model.ReplayConfig{Workers: sm.cfg.workers, Acceptors: sm.cfg.acceptors, MaxOutput: sm.cfg.maxOutput}, events)
	if err != nil {
		sm.problem("replay: %v", err)
	} else if res.Refused != nil {
		sm.problem("replay through %s: %v", d.Name, res.Refused)
	}
	if !sm.cfg.quiesce {
		return
	}
	var clients []model.Served
	for _, id := range sm.h.order {
		clients = append(clients, model.Served{Conn: int64(id), Worker: sm.h.conns[id].worker})
	}
	if err := model.CheckTrace(events, model.TraceCheck{Workers: sm.cfg.workers, RoundRobin: true, Closed: true, Clients: clients, MaxOutput: sm.cfg.maxOutput}); err != nil {
		sm.problem("%v", err)
	}
}

// cutShort reports whether rest is the start of the handler's message after
// the first got, or of one of the asynchronous writes.
func cutShort(rest string, writes []string, got int, asyncs []string) bool {
	if got < len(writes) && strings.HasPrefix(writes[got], rest) {
		return true
	}
	return slices.ContainsFunc(asyncs, func(a string) bool { return strings.HasPrefix(a, rest) })
}

// isSubsequence reports whether got is drawn from want in want's order.
func isSubsequence(got, want []string) bool {
	j := 0
	for _, g := range got {
		for j < len(want) && want[j] != g {
			j++
		}
		if j == len(want) {
			return false
		}
		j++
	}
	return true
}

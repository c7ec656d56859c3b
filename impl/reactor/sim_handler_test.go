package reactor

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/handoffd/handoff/internal/kernel"
)

// simHandler is the simulation's handler: it echoes what it consumes in
// messages "<id.seq:bytes>", consumes all of its input or a part the seed
// picks, closes at a 'q', panics at a 'p', holds everything back once it
// has seen an 'h', and records what each connection saw, so that the
// properties can be checked against what the peers saw.
type simHandler struct {
	sm    *sim
	r     *rand.Rand
	conns map[uint64]*simConn
	order []uint64
	// calls counts every callback, for the simulation's quiescence test.
	calls int
}

// simConn is what the handler saw of one connection.
type simConn struct {
	c                    *Conn
	socket, fd, worker   int
	opens, closes, datas int
	closeErr             error
	consumed             []byte
	writes               []string
	// failedWrite is a message whose Write failed, part of which may have
	// reached the peer before the socket failed.
	failedWrite string
	// lastIn is what the last OnData was offered and lastN what it
	// consumed of it.
	lastIn                []byte
	lastN                 int
	holding, panicked, qd bool
	// closeAsked: another connection's callback closed this one.
	closeAsked bool
}

func newSimHandler(sm *sim, r *rand.Rand) *simHandler {
	return &simHandler{sm: sm, r: r, conns: map[uint64]*simConn{}}
}

// live returns c's record, reporting a callback that comes after OnClose
// (P6: nothing reaches a connection after its OnClose).
func (h *simHandler) live(c *Conn, what string) *simConn {
	h.calls++
	sc := h.conns[c.ID()]
	if sc == nil {
		h.sm.problem("%s for conn %d, which never had OnOpen", what, c.ID())
		return &simConn{}
	}
	if sc.closes > 0 {
		h.sm.problem("P6: %s for conn %d after its OnClose", what, c.ID())
	}
	return sc
}

func (h *simHandler) OnOpen(c *Conn) {
	h.calls++
	sc := h.conns[c.ID()]
	if sc != nil {
		h.sm.problem("P1: OnOpen twice for conn %d", c.ID())
		sc.opens++
		return
	}
	sc = &simConn{c: c, socket: h.sm.k.SocketID(c.fd), fd: c.fd, worker: c.Worker(), opens: 1}
	if sc.socket < 0 {
		h.sm.problem("OnOpen for conn %d on fd %d, which holds no socket", c.ID(), c.fd)
	}
	h.conns[c.ID()] = sc
	h.order = append(h.order, c.ID())
}

func (h *simHandler) OnData(c *Conn, in []byte) int {
	sc := h.live(c, "OnData")
	sc.datas++
	if (sc.qd || sc.closeAsked) && len(in) > 0 {
		h.sm.problem("conn %d offered %q after it was closed with Conn.Close", c.ID(), in)
	}
	n := h.consume(c, sc, in)
	sc.lastIn, sc.lastN = append(sc.lastIn[:0], in...), n
	return n
}

// consume is OnData's choice of what to take of in, and its echo.
func (h *simHandler) consume(c *Conn, sc *simConn, in []byte) int {
	if len(in) == 0 || sc.holding || sc.qd {
		return 0
	}
	n := len(in)
	if h.r.IntN(3) == 0 {
		n = h.r.IntN(len(in) + 1)
	}
	for i, b := range in[:n] {
		switch b {
		case 'p':
			sc.panicked = true
			panic(fmt.Sprintf("simulated handler panic on conn %d", c.ID()))
		case 'h':
			sc.holding = true
			n = i
		case 'q':
			sc.qd = true
			n = i + 1
		case 'x':
			h.crossWrite(c, sc)
		case 'z':
			h.crossClose(c, sc)
		}
		if sc.holding || sc.qd {
			break
		}
	}
	if n > 0 {
		msg := fmt.Sprintf("<%d.%d:%s>", c.ID(), len(sc.writes), in[:n])
		if err := c.Write([]byte(msg)); err == nil {
			sc.writes = append(sc.writes, msg)
		} else if sc.failedWrite == "" {
			sc.failedWrite = msg
		}
		sc.consumed = append(sc.consumed, in[:n]...)
	}
	if sc.qd {
		_ = c.Close()
	}
	return n
}

func (h *simHandler) OnClose(c *Conn, err error) {
	h.calls++
	sc := h.conns[c.ID()]
	if sc == nil {
		h.sm.problem("OnClose for conn %d, which never had OnOpen", c.ID())
		return
	}
	sc.closes++
	sc.closeErr = err
	if sc.closes > 1 {
		h.sm.problem("P6: OnClose %d times for conn %d", sc.closes, c.ID())
	}
	// P6 close before reuse: the fd is still open, and still this
	// connection's socket, while OnClose runs.
	if got := h.sm.k.SocketID(c.fd); got != sc.socket {
		h.sm.problem("P6: in OnClose, conn %d's fd %d holds socket %d, not its own %d", c.ID(), c.fd, got, sc.socket)
	}
	// A farewell to another connection, as a chat server tells the others
	// one has left, now and then: a write from OnClose.
	if h.r.IntN(3) == 0 {
		h.crossWrite(c, sc)
	}
}

// other draws another open connection of c's Worker, or nil.
func (h *simHandler) other(c *Conn, sc *simConn) *simConn {
	var them []*simConn
	for _, id := range h.order {
		o := h.conns[id]
		if o != sc && o.closes == 0 && o.worker == sc.worker && !o.qd && !o.closeAsked {
			them = append(them, o)
		}
	}
	if len(them) == 0 {
		return nil
	}
	return them[h.r.IntN(len(them))]
}

// crossWrite writes, from c's callback, a message to another connection of
// the same Worker: its output, which no event of its own will flush, must
// reach its peer all the same (P9).
func (h *simHandler) crossWrite(c *Conn, sc *simConn) {
	o := h.other(c, sc)
	if o == nil {
		return
	}
	msg := fmt.Sprintf("<%d.%d:x%d>", o.c.ID(), len(o.writes), c.ID())
	if err := o.c.Write([]byte(msg)); err == nil {
		o.writes = append(o.writes, msg)
	} else if o.failedWrite == "" {
		o.failedWrite = msg
	}
}

// crossClose closes, from c's callback, another connection of the same
// Worker, which must close once its output is flushed.
func (h *simHandler) crossClose(c *Conn, sc *simConn) {
	if o := h.other(c, sc); o != nil && o.c.Close() == nil {
		o.closeAsked = true
	}
}

// checkBounds checks the memory bounds on w's connections between
// callbacks: held input at most MaxInput, and output at most MaxOutput
// plus what one callback and the asynchronous writes in flight may add,
// since the Worker stops reading a connection over MaxOutput.
func (h *simHandler) checkBounds(w *worker) {
	for _, c := range w.conns {
		if c == nil {
			continue
		}
		if len(c.in) > w.maxInput {
			h.sm.problem("conn %d holds %d bytes of input, over MaxInput %d", c.id, len(c.in), w.maxInput)
		}
		if c.OutputLen() >= w.maxOutput && c.events&kernel.In != 0 {
			h.sm.problem("conn %d reads on with %d bytes of output, MaxOutput %d: its read is not paused", c.id, c.OutputLen(), w.maxOutput)
		}
		if limit := 2*w.maxOutput + simMaxCallbackOutput; c.OutputLen() > limit {
			h.sm.problem("conn %d buffers %d bytes of output, over %d: the Worker read on while its output was full", c.id, c.OutputLen(), limit)
		}
	}
}

// simMaxCallbackOutput bounds one OnData's message: its input (held input
// under MaxInput plus one read of a socket buffer) and the framing.
const simMaxCallbackOutput = 64 + 64 + 32

// parseReceived splits a peer's bytes into the handler's and the
// asynchronous messages, in order; rest is anything that is neither.
func parseReceived(b []byte) (handler, async []string, rest string) {
	s := string(b)
	for len(s) > 0 {
		var end byte
		switch s[0] {
		case '<':
			end = '>'
		case '{':
			end = '}'
		default:
			return handler, async, s
		}
		i := strings.IndexByte(s, end)
		if i < 0 {
			return handler, async, s
		}
		if end == '>' {
			handler = append(handler, s[:i+1])
		} else {
			async = append(async, s[:i+1])
		}
		s = s[i+1:]
	}
	return handler, async, ""
}

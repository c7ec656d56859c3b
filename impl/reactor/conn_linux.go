package reactor

import (
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Conn is one connection, owned by the Worker that registered it. Methods
// marked (worker) may only be called on that Worker's goroutine: from inside
// a Handler callback for this connection or for another connection of the
// same Worker (Conn.Worker tells which); the others from any goroutine.
type Conn struct {
	// w, fd, id, gen and peer are set at registration and never change.
	w  *worker
	fd int
	id uint64
	// gen is the registration's generation, carried in its epoll events.
	// A new connection on a reused fd gets a new Conn and a new gen, so
	// neither a stale event nor a stale handle (AsyncWrite) reaches it.
	gen  uint32
	peer peerAddr
	ctx  any

	// The fields below are owned by the Worker's goroutine.

	// in holds the input the handler left unconsumed, nil when there is none
	// (no per-connection read buffer at rest). Invariant: len(in) <= MaxInput
	// between callbacks.
	in []byte
	// out[outOff:] is the output the socket has not taken yet; out is nil
	// when there is none. The Worker stops reading while it is MaxOutput or
	// more.
	out    []byte
	outOff int
	// events is the interest set registered with epoll.
	events uint32
	// closing: Close was called; flush, then close.
	closing bool
	// rdClosed: the peer half-closed (read returned 0); flush, then close.
	rdClosed bool
	// closed: OnClose has run (or is running); nothing reaches c after it.
	closed bool
	// err, when set, closes the connection at once, output discarded.
	err error
	// dirty: c is on its Worker's dirty list, to be settled after the
	// current event because a callback of another connection wrote to it
	// or closed it.
	dirty bool
	// lastActive is the Worker's clock when c last received bytes, for
	// IdleTimeout.
	lastActive int64

	// gone mirrors closed for other goroutines (AsyncWrite).
	gone atomic.Bool
	// asyncBytes counts AsyncWrite bytes handed over and not yet run.
	// Invariant: asyncBytes <= MaxOutput.
	asyncBytes atomic.Int64
}

// Write (worker) sends p: at once if nothing is pending, the rest copied to
// the output buffer and flushed when the socket is writable. It returns
// ErrClosed after Close or OnClose, and the write error if the socket failed
// (the connection is then closed after the callback returns).
//
// Write does not refuse bytes over MaxOutput: a callback's reply is never cut
// in half. The bound holds because the Worker stops reading, so stops calling
// OnData, while the buffer is at MaxOutput or over; a handler that writes more
// than it reads checks OutputLen and returns early.
func (c *Conn) Write(p []byte) error {
	if c.closed || c.closing || c.err != nil {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	if c.OutputLen() == 0 {
		n, err := c.writeSome(p)
		if err != nil {
			c.err = err
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
	}
	if c.outOff > 0 && c.outOff >= len(c.out)/2 {
		c.out = c.out[:copy(c.out, c.out[c.outOff:])]
		c.outOff = 0
	}
	c.out = append(c.out, p...)
	c.w.markDirty(c)
	return nil
}

// Close (worker) closes the connection once its pending output is flushed:
// OnClose runs, then close(2). It returns ErrClosed if OnClose already ran.
func (c *Conn) Close() error {
	if c.closed {
		return ErrClosed
	}
	c.closing = true
	c.w.markDirty(c)
	return nil
}

// OutputLen (worker) returns the bytes buffered and not yet written.
func (c *Conn) OutputLen() int { return len(c.out) - c.outOff }

// AsyncWrite sends a copy of p from any goroutine: it is queued on the
// Worker's task list, which has its own wake-up, and written by the Worker
// like Write. It returns ErrClosed when the connection is gone (a stale
// handle never reaches a newer connection on a reused fd), ErrOutputFull when
// MaxOutput bytes of asynchronous writes are already in flight. Bytes queued
// when the connection closes are dropped.
func (c *Conn) AsyncWrite(p []byte) error {
	if c.gone.Load() {
		return ErrClosed
	}
	if len(p) == 0 {
		return nil
	}
	n := int64(len(p))
	if c.asyncBytes.Add(n) > int64(c.w.s.cfg.MaxOutput) {
		c.asyncBytes.Add(-n)
		return ErrOutputFull
	}
	if err := c.w.tasks.add(task{c: c, p: append([]byte(nil), p...)}, c.w.taskfd); err != nil {
		c.asyncBytes.Add(-n)
		return err
	}
	return nil
}

// Wake asks c's Worker, from any goroutine, to call OnData for c on the
// Worker's goroutine, offering the input it holds (possibly none: then in is
// empty and OnData must return 0). Work finished elsewhere — a result another
// goroutine computed — is so acted on where c's state lives, without a lock.
// Like AsyncWrite it goes through the Worker's task list, never the
// connection queue. It returns ErrClosed when the connection is gone.
func (c *Conn) Wake() error {
	if c.gone.Load() {
		return ErrClosed
	}
	return c.w.tasks.add(task{c: c, wake: true}, c.w.taskfd)
}

// Worker returns the index of the Worker serving c.
func (c *Conn) Worker() int { return c.w.id }

// ID returns c's global accept sequence number (model.Event.Conn).
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr returns the peer's address: "127.0.0.1:5555", "[::1]:5555", or
// a unix peer's path ("" when unnamed, "@name" when abstract).
func (c *Conn) RemoteAddr() string { return c.peer.String() }

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores v with the connection for the handler's use.
func (c *Conn) SetContext(v any) { c.ctx = v }

// writeSome writes as much of p as the socket takes now. MSG_NOSIGNAL: a
// peer that is gone yields EPIPE here rather than a SIGPIPE delivered to a
// program that may have asked for it with signal.Notify.
func (c *Conn) writeSome(p []byte) (int, error) {
	total := 0
	for total < len(p) {
		n, err := rawSend(c.fd, p[total:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return total, os.NewSyscallError("sendmsg", err)
		}
		total += n
	}
	if total > 0 {
		c.w.stats.bytesOut.Add(uint64(total))
	}
	return total, nil
}

// flush writes pending output; the buffer is released once empty.
func (c *Conn) flush() error {
	if c.OutputLen() == 0 {
		return nil
	}
	n, err := c.writeSome(c.out[c.outOff:])
	c.outOff += n
	if c.outOff == len(c.out) {
		c.out, c.outOff = nil, 0
	}
	return err
}

// onConnEvent handles one epoll event for c.
func (w *worker) onConnEvent(c *Conn, ev uint32) {
	const errHup = unix.EPOLLERR | unix.EPOLLHUP
	if ev&(unix.EPOLLOUT|errHup) != 0 && c.OutputLen() > 0 {
		if err := c.flush(); err != nil {
			w.finalize(c, err)
			return
		}
		// Output went under the bound: offer the input held back while it
		// was over (or that the handler declined while output was pending).
		// A half-closed peer's held requests are offered too: it sent them
		// before its FIN and waits for their replies.
		if len(c.in) > 0 && c.OutputLen() < w.s.cfg.MaxOutput && !c.closing {
			w.deliver(c, nil)
		}
	}
	if ev&(unix.EPOLLIN|errHup) != 0 && c.events&unix.EPOLLIN != 0 && c.err == nil && !c.closing &&
		c.OutputLen() < w.s.cfg.MaxOutput {
		w.readConn(c)
	} else if ev&errHup != 0 && c.events&unix.EPOLLIN == 0 && c.OutputLen() == 0 && c.err == nil {
		// Neither a read nor a write is pending to report the failure.
		c.err = sockError(c.fd)
	}
	w.settle(c)
}

// readConn reads once into the Worker's shared buffer and offers the bytes.
// One read per event keeps a busy connection from starving the others; the
// level-triggered epoll set reports it again.
func (w *worker) readConn(c *Conn) {
	var n int
	for {
		var err error
		n, err = rawRead(c.fd, w.rbuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			c.err = os.NewSyscallError("read", err)
			return
		case n == 0:
			c.rdClosed = true
			return
		}
		break
	}
	w.stats.bytesIn.Add(uint64(n))
	c.lastActive = w.now
	w.deliver(c, w.rbuf[:n])
}

// deliver offers the held input followed by data to OnData and keeps what
// it leaves, copied out of the shared buffer.
func (w *worker) deliver(c *Conn, data []byte) {
	buf := data
	held := len(c.in) > 0
	if held {
		c.in = append(c.in, data...)
		buf = c.in
	}
	if len(buf) == 0 {
		return
	}
	n := w.callData(c, buf)
	if c.err != nil || c.closed {
		c.in = nil
		return
	}
	switch rest := len(buf) - n; {
	case n < 0 || n > len(buf):
		c.in = nil
		c.err = fmt.Errorf("reactor: OnData consumed %d of %d bytes", n, len(buf))
	case rest == 0:
		c.in = nil
	case rest > w.s.cfg.MaxInput:
		c.in = nil
		c.err = ErrInputTooLarge
	case held:
		c.in = c.in[:copy(c.in, c.in[n:])]
	default:
		c.in = append([]byte(nil), buf[n:]...)
	}
}

// markDirty puts c on the Worker's dirty list so that its epoll interest is
// updated (or it is closed) after the current event, even when the write or
// Close came from a callback of another connection.
func (w *worker) markDirty(c *Conn) {
	if !c.dirty {
		c.dirty = true
		w.dirty = append(w.dirty, c)
	}
}

// settleDirty settles every connection on the dirty list.
func (w *worker) settleDirty() {
	for i, c := range w.dirty {
		c.dirty = false
		w.settle(c)
		w.dirty[i] = nil
	}
	w.dirty = w.dirty[:0]
}

// settle brings c's epoll interest in line with its state, or closes it:
// read while not closing and output is under MaxOutput; wait for writable
// while output is pending; close once closing (or half-closed) and flushed.
func (w *worker) settle(c *Conn) {
	if c.closed {
		return
	}
	if c.err != nil {
		w.finalize(c, c.err)
		return
	}
	out := c.OutputLen()
	// The peer half-closed while input was held back: offer it until the
	// handler produces output (flushed on writable, then offered again) or
	// consumes nothing more (an incomplete request, dropped with the close).
	for c.rdClosed && !c.closing && out == 0 && len(c.in) > 0 {
		held := len(c.in)
		w.deliver(c, nil)
		if c.closed {
			return
		}
		if c.err != nil {
			w.finalize(c, c.err)
			return
		}
		out = c.OutputLen()
		if len(c.in) >= held {
			break
		}
	}
	if (c.closing || c.rdClosed) && out == 0 {
		w.finalize(c, nil)
		return
	}
	var want uint32
	if !c.closing && !c.rdClosed && out < w.s.cfg.MaxOutput {
		want |= unix.EPOLLIN
	}
	if out > 0 {
		want |= unix.EPOLLOUT
	}
	if want == c.events {
		return
	}
	ev := unix.EpollEvent{Events: want, Fd: int32(c.fd), Pad: int32(c.gen)}
	if err := rawEpollCtl(w.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		w.finalize(c, os.NewSyscallError("epoll_ctl mod", err))
		return
	}
	c.events = want
}

// finalize runs OnClose, then closes the fd (P6 close before reuse): until
// close(2) returns, no new connection can get this fd number.
func (w *worker) finalize(c *Conn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.gone.Store(true)
	if faultFdClosedBeforeOnClose {
		_ = unix.Close(c.fd)
	}
	w.callClose(c, err)
	delete(w.conns, c.fd)
	w.s.traceClose(w.id, c.id)
	// CurrConns drops before close(2), so that whoever sees the fd gone (a
	// test counting /proc/self/fd) sees the count down too.
	w.stats.currConns.Add(-1)
	// close(2) also drops the fd from the epoll set; it is not retried on
	// EINTR, because the fd is released either way.
	switch {
	case faultFdLeaked:
		_ = rawEpollCtl(w.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	case !faultFdClosedBeforeOnClose:
		_ = rawClose(c.fd)
	}
	c.in, c.out, c.outOff = nil, nil, 0
	w.load.Add(-1)
	w.s.connClosed()
}

// sockError returns the socket's pending error (SO_ERROR), or ECONNRESET if
// there is none to report for a hang-up.
func sockError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && v != 0 {
		return os.NewSyscallError("read", unix.Errno(v))
	}
	return os.NewSyscallError("read", unix.ECONNRESET)
}

func (w *worker) callOpen(c *Conn) {
	defer w.recoverHandler(c, "OnOpen")
	w.s.h.OnOpen(c)
}

func (w *worker) callData(c *Conn, in []byte) (n int) {
	defer w.recoverHandler(c, "OnData")
	return w.s.h.OnData(c, in)
}

func (w *worker) callClose(c *Conn, err error) {
	defer w.recoverHandler(c, "OnClose")
	w.s.h.OnClose(c, err)
}

// recoverHandler turns a handler panic into the connection's close: one
// connection's bug must not take the Worker, and all its other connections,
// down with it.
func (w *worker) recoverHandler(c *Conn, where string) {
	r := recover()
	if r == nil {
		return
	}
	w.s.stats.handlerPanics.Add(1)
	w.s.log.Error("reactor: handler panic", "callback", where, "conn", c.id, "worker", w.id, "panic", r)
	if c.err == nil {
		c.err = fmt.Errorf("reactor: handler panic in %s: %v", where, r)
	}
}

package reactor

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/handoffd/handoff/internal/kernel"
	"github.com/handoffd/handoff/model"
)

// worker is one Worker: a goroutine locked to its OS thread, with its own
// poll set over the read end of its notify channel, its task eventfd and its
// connections. What its connections reach of it is in owner.
type worker struct {
	owner
	h Handler
	// maxInput and idle are the server's input bound and idle timeout.
	maxInput int
	idle     time.Duration

	// epfd, note and taskfd are created by newWorker and closed by close,
	// after every goroutine that uses them has exited.
	epfd int
	note *notifier
	// rw is the io_uring backend's ring and buffers, nil for epoll; then
	// epfd and note are not made.
	rw *ringWorker

	q queue
	// load counts connections dispatched to this Worker and not yet closed,
	// queued ones included: the least-connections balancer's measure.
	load atomic.Int64
	// stopFlag is set by stop; the loop then closes what it holds and
	// exits, flushing each connection's output once unless discard is set.
	stopFlag atomic.Bool
	discard  atomic.Bool

	// The fields below are owned by the Worker's goroutine.

	// conns[fd] is the connection registered on fd, nil if none: memcached's
	// conns array. Indexed by fd, it is looked up without hashing on every
	// event, and walked in fd order, so that what closeIdle and shutdown do
	// depends on nothing but the connections.
	conns []*Conn
	// rbuf is the read buffer shared by every connection of this Worker.
	rbuf []byte
	// heldSpare is the array of input a connection held and then handed
	// back, kept for the next connection that must hold input, so that
	// pipelined input split across reads costs no allocation in the steady
	// state, and no garbage for the collector. Invariant: it is no
	// connection's in, and its capacity is at most maxHeldSpare.
	heldSpare []byte
	tok       [notifyBatch]byte
	// gen numbers registrations; it goes into each poll event so that an
	// event queued for a closed connection never reaches a newer one on the
	// same fd.
	gen uint32
	// spare is the task slice handed back to tasks on the next swap.
	spare []task
	// now and nextIdle drive IdleTimeout; now is the kernel's clock, read
	// after each wait only when IdleTimeout is set.
	now      int64
	nextIdle int64
}

// taskKeep is the largest task slice kept after a swap.
const taskKeep = 1024

// workerOpts are the server's settings a Worker runs by.
type workerOpts struct {
	maxOutput, maxInput, readBuffer int
	idle                            time.Duration
	// eventfd and coalesced choose the notify channel and wake-up policy.
	eventfd, coalesced bool
	// ring selects the io_uring backend.
	ring bool
}

// newWorker creates Worker id of the server srv (kept for Conn.Server).
func newWorker(sh *shared, srv any, h Handler, id int, o workerOpts) (*worker, error) {
	w := &worker{
		owner:    owner{shared: sh, id: id, maxOutput: o.maxOutput, taskfd: -1, srv: srv},
		h:        h,
		maxInput: o.maxInput,
		idle:     o.idle,
		epfd:     -1,
		rbuf:     make([]byte, o.readBuffer),
	}
	var err error
	if o.ring {
		if w.rw, err = newRingWorker(o.readBuffer); err != nil {
			return nil, err
		}
		w.owner.ring = true
		w.rbuf = nil
		if w.taskfd, err = w.k.Eventfd(); err != nil {
			w.close()
			return nil, err
		}
		return w, nil
	}
	if w.epfd, err = w.k.PollCreate(); err != nil {
		return nil, err
	}
	if w.note, err = newNotifier(w.k, o.eventfd, o.coalesced); err != nil {
		w.close()
		return nil, err
	}
	if w.taskfd, err = w.k.Eventfd(); err != nil {
		w.close()
		return nil, err
	}
	for _, fd := range []int{w.note.rfd, w.taskfd} {
		if err := w.k.PollCtl(w.epfd, kernel.Add, fd, kernel.In, 0); err != nil {
			w.close()
			return nil, os.NewSyscallError("epoll_ctl add", err)
		}
	}
	return w, nil
}

// dispatch is called by an Acceptor: push, then notify (memcached's
// dispatch_conn_new). Push before notify is what lets a woken Worker always
// find the item its token stands for.
func (w *worker) dispatch(a int, it item) {
	w.load.Add(1)
	w.stats.dispatched.Add(1)
	w.q.mu.Lock()
	w.q.pushLocked(it)
	w.tr.dispatch(a, w.id, it.seq)
	w.stats.queueLen.Store(int64(w.q.n))
	w.q.mu.Unlock()
	if !w.note.arm() {
		return
	}
	w.tr.notify(a, w.id)
	if err := w.note.signal(w.adm.stopped); err != nil {
		w.log.Error("reactor: notify", "worker", w.id, "err", err)
	}
}

// run is the Worker's loop; it returns after stop, once it has closed every
// queued fd and every connection.
func (w *worker) run() {
	if w.rw != nil {
		w.runRing()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]kernel.Event, 256)
	for w.turn(events) {
	}
}

// turn is one pass of the loop: wait for events (at most until the next
// idle check), act on them, close idle connections when it is time, and
// settle what all that touched. It reports false once the Worker has shut
// down. A simulated kernel's tests call it one pass at a time.
func (w *worker) turn(events []kernel.Event) bool {
	timeout := -1
	if w.idle > 0 {
		timeout = int(w.idleTick() / time.Millisecond)
	}
	n, err := w.k.PollWait(w.epfd, events, timeout)
	if err != nil && err != syscall.EINTR {
		// EBADF or EINVAL: only on a bug. Stop serving rather than spin;
		// Shutdown still closes what this Worker holds.
		w.log.Error("reactor: worker loop", "worker", w.id, "err", os.NewSyscallError("epoll_wait", err))
		for !w.stopFlag.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		w.shutdown()
		return false
	}
	if w.idle > 0 {
		w.now = w.k.Now()
	}
	for i := range n {
		w.onEvent(&events[i])
	}
	if w.idle > 0 && w.now >= w.nextIdle {
		w.closeIdle(int64(w.idle))
		w.nextIdle = w.now + int64(w.idleTick())
	}
	// Last, so that what the events' and the idle closes' callbacks did to
	// other connections is settled too.
	w.settleDirty()
	if w.stopFlag.Load() {
		w.shutdown()
		return false
	}
	return true
}

// idleTick is how often the Worker looks for idle connections: a quarter of
// IdleTimeout, between 10 ms and a second.
func (w *worker) idleTick() time.Duration {
	return min(max(w.idle/4, 10*time.Millisecond), time.Second)
}

// onEvent acts on one event of the Worker's poll set. A connection's event
// is delivered only if the connection on its fd is the one it was armed for
// (P6): the generation in the event must be the Conn's. An earlier event of
// the same batch may have closed that connection and registered a new one on
// the same fd number, and the new one must not get the old one's hang-up.
func (w *worker) onEvent(ev *kernel.Event) {
	switch fd := int(ev.Fd); fd {
	case w.note.rfd:
		w.onNotify()
	case w.taskfd:
		w.onTasks()
	default:
		if c := w.conn(fd); c != nil && c.gen == uint32(ev.Pad) {
			w.tr.ready(w.id, c.id, fd, c.gen)
			w.onConnEvent(c, ev.Events)
		}
	}
}

// onNotify reads the tokens (Wake) and pops: one item per token for
// per-conn wake-ups (memcached; eventfd: the whole counter), or, coalesced,
// clears the flag and then pops until the queue is empty.
func (w *worker) onNotify() {
	n, err := w.note.read(&w.tok)
	if err != nil {
		w.log.Error("reactor: read notify", "worker", w.id, "err", err)
		return
	}
	if n == 0 {
		return
	}
	w.tr.wake(w.id, n)
	if w.note.coalesced {
		w.note.disarm()
		for {
			it, ok := w.pop()
			if !ok {
				return
			}
			w.register(it)
		}
	}
	for range n {
		it, ok := w.pop()
		if !ok {
			// Push happens before notify, so this is a broken invariant.
			w.log.Error("reactor: notify token without a queued connection", "worker", w.id)
			return
		}
		w.register(it)
	}
}

// conn returns the connection registered on fd, nil if none.
func (w *worker) conn(fd int) *Conn {
	if fd < 0 || fd >= len(w.conns) {
		return nil
	}
	return w.conns[fd]
}

func (w *worker) pop() (item, bool) {
	w.q.mu.Lock()
	it, ok := w.q.popLocked()
	if ok {
		w.tr.pop(w.id, it.seq)
	}
	w.stats.queueLen.Store(int64(w.q.n))
	w.q.mu.Unlock()
	return it, ok
}

// register adds the popped fd to the poll set, then runs OnOpen.
func (w *worker) register(it item) {
	w.gen++
	c := &Conn{o: &w.owner, fd: it.fd, id: it.seq, gen: w.gen, peer: it.peer, lastActive: w.now, events: kernel.In}
	if err := w.k.PollCtl(w.epfd, kernel.Add, it.fd, kernel.In, w.gen); err != nil {
		w.log.Error("reactor: register connection", "worker", w.id, "conn", it.seq, "err", os.NewSyscallError("epoll_ctl add", err))
		w.tr.drop(-1, w.id, int64(it.seq), it.fd, model.CauseEpoll)
		_ = w.k.Close(it.fd)
		w.load.Add(-1)
		w.adm.release()
		return
	}
	w.opened(c)
}

// opened makes c, just registered with a new generation, the connection
// on its fd, on either backend: the Register, the count, OnOpen, and the
// settle that arms its reading.
func (w *worker) opened(c *Conn) {
	w.tr.register(w.id, c.id, c.fd, c.gen)
	if c.fd >= len(w.conns) {
		w.conns = append(w.conns, make([]*Conn, c.fd+1-len(w.conns))...)
	}
	w.conns[c.fd] = c
	w.stats.currConns.Add(1)
	w.stats.totalConns.Add(1)
	w.callOpen(c)
	w.settle(c)
}

// onTasks runs the work other goroutines handed over.
func (w *worker) onTasks() {
	kernel.Reset(w.k, w.taskfd)
	w.tasks.mu.Lock()
	list := w.tasks.list
	w.tasks.list = w.spare
	w.tasks.pending = false
	w.tr.tasks(w.id, len(list))
	w.tasks.mu.Unlock()
	w.runTasks(list)
}

// runTasks runs list in order. A task for a connection that is closed, or
// whose fd now belongs to another connection, is dropped: its handle is
// stale (P6).
func (w *worker) runTasks(list []task) {
	for i, t := range list {
		c := t.c
		c.asyncBytes.Add(-int64(len(t.p)))
		if !c.closed && w.conn(c.fd) == c {
			w.tr.run(w.id, c.id, c.gen)
			if t.wake {
				w.runWake(c)
			} else {
				_ = c.Write(t.p)
			}
			w.settle(c)
		}
		list[i] = task{}
	}
	if cap(list) <= taskKeep {
		w.spare = list[:0]
	} else {
		w.spare = nil
	}
}

// runWake runs a Wake task: OnData with the held input, or with none. A
// connection the handler has closed is offered nothing more, by a Wake as
// by a read.
func (w *worker) runWake(c *Conn) {
	if c.closing {
		return
	}
	if len(c.in) > 0 {
		w.deliver(c, nil)
		return
	}
	if n := w.callData(c, c.in[:0]); n != 0 && c.err == nil && !c.closed {
		c.err = fmt.Errorf("reactor: OnData consumed %d of 0 bytes", n)
	}
}

// closeIdle closes the connections that received nothing for IdleTimeout
// (memcached's idle_timeout, which also counts only what clients send).
func (w *worker) closeIdle(idle int64) {
	for _, c := range w.conns {
		if c != nil && w.now-c.lastActive >= idle {
			w.srvStats.idleClosed.Add(1)
			w.finalize(c, ErrIdleTimeout)
		}
	}
}

// stop tells the Worker to close what it holds and exit, flushing each
// connection's output once unless discard is set. The Acceptors have
// stopped by then, so nothing more is pushed onto its queue.
func (w *worker) stop(discard bool) {
	w.discard.Store(discard)
	w.stopFlag.Store(true)
	w.tasks.mu.Lock()
	if !w.tasks.closed {
		w.tr.kick(w.id)
		kernel.Kick(w.k, w.taskfd)
	}
	w.tasks.mu.Unlock()
}

// shutdown closes every fd still queued (never registered, so no OnClose),
// runs the pending tasks, makes one attempt to flush each connection's
// output, and closes every connection with ErrServerClosed (P5, P7).
func (w *worker) shutdown() {
	for {
		w.q.mu.Lock()
		it, ok := w.q.popLocked()
		w.stats.queueLen.Store(int64(w.q.n))
		w.q.mu.Unlock()
		if !ok {
			break
		}
		w.tr.drop(-1, w.id, int64(it.seq), it.fd, model.CauseShutdown)
		_ = w.k.Close(it.fd)
		w.load.Add(-1)
		w.adm.release()
	}
	w.runTasks(w.closeTasks())
	discard := w.discard.Load()
	for _, c := range w.conns {
		if c != nil {
			w.closeAtShutdown(c, discard)
		}
	}
}

// closeTasks shuts the task list at shutdown and returns what it held:
// nothing is added to it after, and its eventfd is not kicked again.
func (w *worker) closeTasks() []task {
	w.tasks.mu.Lock()
	defer w.tasks.mu.Unlock()
	w.tasks.closed = true
	list := w.tasks.list
	w.tasks.list = nil
	w.tr.tasks(w.id, len(list))
	return list
}

// closeAtShutdown makes the one attempt to flush c's output, unless
// discard, and closes it with ErrServerClosed; a connection that had
// already failed is closed for its failure.
func (w *worker) closeAtShutdown(c *Conn, discard bool) {
	if c.err == nil && !discard {
		_ = c.flush()
	}
	err := ErrServerClosed
	if c.err != nil {
		err = c.err
	}
	w.finalize(c, err)
}

func (w *worker) close() {
	w.rw.close()
	w.rw = nil
	if w.epfd >= 0 {
		_ = w.k.Close(w.epfd)
		w.epfd = -1
	}
	if w.note != nil {
		w.note.close()
	}
	if w.taskfd >= 0 {
		_ = w.k.Close(w.taskfd)
		w.taskfd = -1
	}
}

// onConnEvent handles one poll event for c.
func (w *worker) onConnEvent(c *Conn, ev uint32) {
	const errHup = kernel.Err | kernel.Hup
	if ev&(kernel.Out|errHup) != 0 && c.OutputLen() > 0 {
		if err := c.flush(); err != nil {
			w.finalize(c, err)
			return
		}
		// Output went under the bound: offer the input held back while it
		// was over (or that the handler declined while output was pending).
		// A half-closed peer's held requests are offered too: it sent them
		// before its FIN and waits for their replies.
		if len(c.in) > 0 && c.OutputLen() < w.maxOutput && !c.closing {
			w.deliver(c, nil)
		}
	}
	if ev&(kernel.In|errHup) != 0 && c.events&kernel.In != 0 && c.err == nil && !c.closing &&
		c.OutputLen() < w.maxOutput {
		w.readConn(c)
	} else if ev&errHup != 0 && c.events&kernel.In == 0 && c.OutputLen() == 0 && c.err == nil {
		// Neither a read nor a write is pending to report the failure.
		c.err = w.k.PeerError(c.fd)
	}
	w.settle(c)
}

// readConn reads once into the Worker's shared buffer and offers the bytes.
// One read per event keeps a busy connection from starving the others; the
// level-triggered poll set reports it again.
func (w *worker) readConn(c *Conn) {
	var n int
	for {
		var err error
		n, err = w.k.Read(c.fd, w.rbuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			c.err = os.NewSyscallError("read", err)
			return
		case n == 0:
			c.rdClosed = true
			w.tr.read(w.id, c.id, 0)
			return
		}
		break
	}
	w.stats.bytesIn.Add(uint64(n))
	w.tr.read(w.id, c.id, n)
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
		if held && cap(c.in) <= maxHeldSpare && cap(c.in) > cap(w.heldSpare) {
			w.heldSpare = c.in[:0]
		}
		c.in = nil
	case rest > w.maxInput:
		c.in = nil
		c.err = ErrInputTooLarge
	case held:
		c.in = c.in[:copy(c.in, c.in[n:])]
	default:
		c.in = append(w.heldSpare[:0:cap(w.heldSpare)], buf[n:]...)
		w.heldSpare = nil
	}
}

// maxHeldSpare bounds the held-input array a Worker keeps for reuse: a
// read buffer's worth and a partial item beside it.
const maxHeldSpare = 256 << 10

// settleDirty settles every connection on the dirty list, those a settle
// puts on it included: settling one connection can run a callback (the
// half-close's OnData, OnClose) that writes to or closes another, which
// must be settled too, or its output would wait for an event of its own.
func (w *worker) settleDirty() {
	for i := 0; i < len(w.dirty); i++ {
		c := w.dirty[i]
		c.dirty = false
		w.settle(c)
		w.dirty[i] = nil
	}
	w.dirty = w.dirty[:0]
}

// settle brings c's poll interest in line with its state, or closes it:
// read while not closing and output is under MaxOutput; wait for writable
// while output is pending; close once closing (or half-closed) and flushed.
func (w *worker) settle(c *Conn) {
	if w.rw != nil {
		w.settleRing(c)
		return
	}
	out, ok := w.settleInput(c)
	if !ok {
		return
	}
	if (c.closing || c.rdClosed) && out == 0 {
		w.finalize(c, nil)
		return
	}
	var want uint32
	if !c.closing && !c.rdClosed && out < w.maxOutput {
		want |= kernel.In
	}
	if out > 0 {
		want |= kernel.Out
	}
	if want == c.events {
		return
	}
	if err := w.k.PollCtl(w.epfd, kernel.Mod, c.fd, want, c.gen); err != nil {
		w.finalize(c, os.NewSyscallError("epoll_ctl mod", err))
		return
	}
	c.events = want
}

// settleInput begins every settle, on either backend: it reports false
// for a connection closed, or failed (and now closed), else its output's
// length once the held input of a half-closed peer was offered. That input
// is offered until the handler produces output (flushed, then offered
// again) or consumes nothing more (an incomplete request, dropped with the
// close).
func (w *worker) settleInput(c *Conn) (out int, ok bool) {
	if c.closed {
		return 0, false
	}
	if c.err != nil {
		w.finalize(c, c.err)
		return 0, false
	}
	out = c.OutputLen()
	for c.rdClosed && !c.closing && out == 0 && len(c.in) > 0 {
		held := len(c.in)
		w.deliver(c, nil)
		if c.closed {
			return 0, false
		}
		if c.err != nil {
			w.finalize(c, c.err)
			return 0, false
		}
		out = c.OutputLen()
		if len(c.in) >= held {
			break
		}
	}
	return out, true
}

// finalize runs OnClose, then closes the fd (P6 close before reuse): until
// close(2) returns, no new connection can get this fd number.
func (w *worker) finalize(c *Conn, err error) {
	if c.closed {
		return
	}
	if w.rw != nil {
		w.finalizeRing(c, err)
		return
	}
	c.closed = true
	c.gone.Store(true)
	w.callClose(c, err)
	w.conns[c.fd] = nil
	w.tr.close(w.id, c.id, c.fd, c.gen, causeOf(c, err))
	// CurrConns drops before close(2), so that whoever sees the fd gone (a
	// test counting /proc/self/fd) sees the count down too.
	w.stats.currConns.Add(-1)
	// close(2) also drops the fd from the poll set.
	_ = w.k.Close(c.fd)
	c.in, c.out, c.outOff = nil, nil, 0
	w.load.Add(-1)
	w.adm.release()
}

func (w *worker) callOpen(c *Conn) {
	defer w.recoverHandler(c, "OnOpen")
	w.h.OnOpen(c)
}

func (w *worker) callData(c *Conn, in []byte) (n int) {
	defer w.recoverHandler(c, "OnData")
	n = w.h.OnData(c, in)
	w.tr.data(w.id, c.id, len(in), n)
	return n
}

func (w *worker) callClose(c *Conn, err error) {
	defer c.forgetAddrs()
	defer w.recoverHandler(c, "OnClose")
	w.h.OnClose(c, err)
}

// recoverHandler turns a handler panic into the connection's close: one
// connection's bug must not take the Worker, and all its other connections,
// down with it. The panic is logged with its stack, for the bug's owner.
func (w *worker) recoverHandler(c *Conn, where string) {
	r := recover()
	if r == nil {
		return
	}
	w.srvStats.handlerPanics.Add(1)
	w.log.Error("reactor: handler panic", "callback", where, "conn", c.id, "worker", w.id, "panic", r, "stack", string(debug.Stack()))
	if c.err == nil {
		c.err = fmt.Errorf("reactor: handler panic in %s: %v", where, r)
	}
}

// causeOf names why a connection closed with err, in the trace's words: a
// clean close by the handler or at the peer's end of file, the idle timeout,
// the stop, a failed epoll_ctl, a failed read or send, or another error (a
// handler's panic, input over MaxInput).
func causeOf(c *Conn, err error) model.Cause {
	var se *os.SyscallError
	switch {
	case err == nil && c.closing:
		return model.CauseHandler
	case err == nil:
		return model.CauseEOF
	case errors.Is(err, ErrIdleTimeout):
		return model.CauseIdle
	case errors.Is(err, ErrServerClosed):
		return model.CauseShutdown
	case errors.As(err, &se) && se.Syscall == "epoll_ctl mod":
		return model.CauseEpoll
	case errors.As(err, &se):
		return model.CauseReset
	}
	return model.CauseError
}

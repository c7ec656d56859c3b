package reactor

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/handoffd/handoff/internal/loopwait"
	"github.com/handoffd/handoff/internal/uring"
	"github.com/handoffd/handoff/model"
)

// ringWorker is a Worker's io_uring backend: its ring, which the
// Acceptors' MSG_RING posts connections into (model/'s msgring: the CQ is
// the Worker's queue and its notify channel at once), and its provided
// receive buffers. Owned by the Worker's goroutine.
type ringWorker struct {
	ring *uring.Ring
	bufs *uring.BufRing
	cqes []uring.CQE
	// inline counts the closes and cancels queued since the last enter,
	// which complete during it: its wait counts on them (ringWait).
	inline int
	// stopping is set once shutdown has begun: a receive that completes
	// then hands its buffer back and is offered to no handler.
	stopping bool
	// limit is a multishot receive's Limit, a buffer's size; 0 where the
	// kernel has none, and each receive is armed for one completion.
	limit uint32
}

// recvLimit reports, once for the process, whether the kernel ends a
// multishot receive at its Limit.
var recvLimit = sync.OnceValue(uring.ProbeRecvLimit)

// The Worker ring's sizes: submissions per turn before a Submit of its own
// (ringEntries; the CQ is twice that, and the kernel holds back what does
// not fit), and its receive buffers, bufCount of at most bufMax bytes
// (1 MiB a Worker): a busy connection takes a buffer per completion and
// gives it back in the same turn.
const (
	ringEntries = 1024
	bufCount    = 128
	bufMax      = 8 << 10
)

// A ring's user data: the kind in the top byte; for a connection's
// requests its generation and fd below it, so that a completion for a
// closed connection never reaches a newer one on the same fd (P6); for a
// hand-off the posting Acceptor's index in the next byte and the
// connection's number below it.
const (
	tagHandoff uint64 = iota + 1
	tagRecv
	tagSend
	tagCancel
	tagTasks
	tagAccept
	tagKick
	tagPost
	tagClose

	tagShift      = 56
	acceptorShift = 48
	fdMask        = 1<<24 - 1
	seqMask       = 1<<acceptorShift - 1
	indexMask     = 1<<tagShift - 1
)

func connTag(kind uint64, c *Conn) uint64 {
	return kind<<tagShift | uint64(c.gen)<<24 | uint64(c.fd)&fdMask
}

// newRingWorker sets up w's ring and buffers.
func newRingWorker(readBuffer int) (*ringWorker, error) {
	r, err := uring.New(ringEntries)
	if err != nil {
		return nil, err
	}
	b, err := r.RegisterBufRing(0, bufCount, min(readBuffer, bufMax))
	if err != nil {
		r.Close()
		return nil, err
	}
	rw := &ringWorker{ring: r, bufs: b, cqes: make([]uring.CQE, 256)}
	if recvLimit() {
		rw.limit = uint32(min(readBuffer, bufMax))
	}
	return rw, nil
}

func (rw *ringWorker) close() {
	if rw == nil || rw.ring == nil {
		return
	}
	_ = rw.bufs.Close()
	_ = rw.ring.Close()
	rw.ring = nil
}

// wait is a loop turn's io_uring_enter: submit, then wait for one
// completion beyond those the submission makes (ringWait), up to timeout
// when timed, first in a raw wait when raw.
func (rw *ringWorker) wait(raw, timed bool, timeout time.Duration) (int, error) {
	n, err := ringWait(rw.ring, raw, timed, timeout, rw.inline)
	rw.inline = 0
	return n, err
}

// ringWait waits on r as wait says, for inline+1 completions. inline
// counts requests that complete whatever any peer does, during the
// submission as a rule (a close, a cancel, a MSG_RING post): waiting for
// one completion would return at once with theirs, for a turn that does
// nothing but reap them, and one more enter. A send is not counted: to a
// socket whose buffer is full it waits for the peer to read, which may
// itself wait for this loop, and a wait that counted on it could last for
// ever; its completion ends the wait, at the cost of a turn.
func ringWait(r *uring.Ring, raw, timed bool, timeout time.Duration, inline int) (int, error) {
	if !timed {
		timeout = -1
	}
	min := uint32(1 + inline)
	switch {
	case raw:
		return r.WaitRaw(min, timeout, loopwait.RawMax)
	case timed:
		return r.Wait(min, timeout)
	}
	return r.Submit(min)
}

// sqe returns a submission entry of the Worker's ring.
func (w *worker) sqe() *uring.SQE { return nextSQE(w.rw.ring, w.log, "worker", w.id) }

// nextSQE returns a submission entry of r, submitting what r holds first
// if it is full; a failed submit (only on a bug: EBADF, EINVAL) is logged
// for the loop named who.
func nextSQE(r *uring.Ring, log *slog.Logger, who string, id int) *uring.SQE {
	for {
		e, err := r.SQE()
		if err == nil {
			return e
		}
		if _, err := r.Submit(0); err != nil && !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EBUSY) {
			log.Error("reactor: io_uring submit", who, id, "err", err)
		}
	}
}

// runRing is the io_uring Worker's loop: one io_uring_enter per turn that
// submits what the last turn queued and waits for a completion (or the
// idle timer), then acts on every completion, closes idle connections and
// settles what all that touched.
func (w *worker) runRing() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w.sqe().PollMultishot(w.taskfd, tagTasks<<tagShift)
	for {
		_, err := w.rw.wait(w.rawWait, w.idle > 0, w.idleTick())
		switch {
		case err == nil, errors.Is(err, syscall.EINTR), errors.Is(err, syscall.ETIME):
		case errors.Is(err, syscall.EBUSY):
			// The CQ is full and the kernel holds completions back:
			// reaping makes room, and the next enter moves them in.
		default:
			w.log.Error("reactor: worker loop", "worker", w.id, "err", err)
			for !w.stopFlag.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			w.shutdownRing()
			return
		}
		if w.idle > 0 {
			w.now = w.k.Now()
		}
		w.reapAll()
		if w.idle > 0 && w.now >= w.nextIdle {
			w.closeIdle(int64(w.idle))
			w.nextIdle = w.now + int64(w.idleTick())
		}
		w.settleDirty()
		w.rw.bufs.Publish()
		if w.stopFlag.Load() {
			w.shutdownRing()
			return
		}
	}
}

// reapAll acts on every completion the CQ holds, a batch at a time. The
// connections posted into a batch are traced first: each post (Dispatch),
// in the CQ's order, then the Wake that counts them. A post is traced here,
// after the kernel made it, because no one but this Worker can see it
// before it reaps: placed here, every other thread's events are still in
// an order they could have had (model/'s msgring: the Acceptor's
// submission is hidden, the kernel's post is the Dispatch).
func (w *worker) reapAll() {
	for {
		n := w.rw.ring.Reap(w.rw.cqes)
		if n == 0 {
			return
		}
		batch := w.rw.cqes[:n]
		woke := 0
		for i := range batch {
			if d := batch[i].UserData; d>>tagShift == tagHandoff {
				w.tr.dispatch(int(d>>acceptorShift&0xff), w.id, d&seqMask)
				woke++
			}
		}
		if woke > 0 {
			w.tr.wake(w.id, woke)
		}
		for i := range batch {
			w.onCQE(&batch[i])
		}
	}
}

// onCQE acts on one completion.
func (w *worker) onCQE(cq *uring.CQE) {
	switch cq.UserData >> tagShift {
	case tagHandoff:
		seq := cq.UserData & seqMask
		w.stats.queueLen.Add(-1)
		if w.rw.stopping || w.stopFlag.Load() {
			// Told to stop: what is still posted is closed unregistered,
			// as the epoll Worker closes what is still queued (no Pop).
			w.dropQueued(int(cq.Res), seq)
			return
		}
		w.tr.pop(w.id, seq)
		w.registerRing(item{fd: int(cq.Res), seq: seq})
	case tagTasks:
		if cq.Flags&uring.CQEFMore == 0 {
			w.sqe().PollMultishot(w.taskfd, tagTasks<<tagShift)
		}
		if !w.rw.stopping {
			w.onTasks()
		}
	case tagClose:
		if cq.Res < 0 {
			// EBADF: a bug, the fd was closed twice; the number may have
			// been another connection's.
			w.log.Error("reactor: io_uring close", "worker", w.id, "fd", cq.UserData&fdMask, "err", syscall.Errno(-cq.Res))
		}
	case tagRecv, tagSend:
		fd := int(cq.UserData & fdMask)
		gen := uint32(cq.UserData >> 24)
		c := w.conn(fd)
		if c == nil || c.gen != gen {
			// Never: a connection's fd is closed only once its requests
			// have completed. A buffer is handed back all the same.
			if id, ok := uring.BufferID(*cq); ok {
				w.rw.bufs.Provide(id)
			}
			w.log.Error("reactor: io_uring completion for no connection", "worker", w.id, "fd", fd)
			return
		}
		if cq.UserData>>tagShift == tagRecv {
			w.onRecv(c, cq)
		} else {
			w.onSent(c, cq)
		}
		if c.closed {
			w.closeWhenIdle(c)
			return
		}
		w.settle(c)
	}
}

// registerRing takes a connection posted into the ring: a Conn with a new
// generation, OnOpen, then its first receive armed by settle. The multishot
// accept gives no peer address: RemoteAddr asks for it.
func (w *worker) registerRing(it item) {
	w.gen++
	c := &Conn{o: &w.owner, fd: it.fd, id: it.seq, gen: w.gen, peerAsk: true, lastActive: w.now}
	w.opened(c)
}

// dropQueued closes a connection posted into the ring but never
// registered: at shutdown, as the epoll Worker closes what is queued.
func (w *worker) dropQueued(fd int, seq uint64) {
	w.tr.drop(-1, w.id, int64(seq), fd, model.CauseShutdown)
	_ = w.k.Close(fd)
	w.load.Add(-1)
	w.adm.release()
}

// onRecv acts on a receive's completion: bytes offered to OnData (or held
// while output is at MaxOutput), the peer's EOF, or the receive's end.
func (w *worker) onRecv(c *Conn, cq *uring.CQE) {
	if cq.Flags&uring.CQEFMore == 0 {
		c.recv, c.cancelling = false, false
	}
	switch {
	case cq.Res > 0:
		id, _ := uring.BufferID(*cq)
		data := w.rw.bufs.Buf(id, int(cq.Res))
		w.stats.bytesIn.Add(uint64(cq.Res))
		w.tr.read(w.id, c.id, int(cq.Res))
		c.lastActive = w.now
		switch {
		case c.closed || c.err != nil || w.rw.stopping:
		case c.closing || c.OutputLen() >= w.maxOutput:
			// Received after the pause was decided and before its cancel
			// ran: held, as a read that came in before the pause would be.
			c.in = append(c.in, data...)
			if len(c.in) > w.maxInput {
				c.in, c.err = nil, ErrInputTooLarge
			}
		default:
			w.deliver(c, data)
		}
		w.rw.bufs.Provide(id)
	case cq.Res == 0:
		c.rdClosed = true
		w.tr.read(w.id, c.id, 0)
	case cq.Res == -int32(syscall.ENOBUFS), cq.Res == -int32(syscall.ECANCELED):
		// ENOBUFS: every buffer is in use; settle arms the receive again
		// after this turn hands them back, and nothing was consumed.
		// ECANCELED: paused or closing.
	default:
		if c.err == nil {
			c.err = os.NewSyscallError("recv", syscall.Errno(-cq.Res))
		}
	}
}

// onSent acts on a send's completion: the bytes taken leave the output,
// the rest is sent by the next; output under MaxOutput again offers the
// input held back.
func (w *worker) onSent(c *Conn, cq *uring.CQE) {
	c.sending = nil
	switch {
	case cq.Res > 0:
		w.tr.send(w.id, c.id, int(cq.Res))
		w.stats.bytesOut.Add(uint64(cq.Res))
		c.outOff += int(cq.Res)
		if c.outOff >= len(c.out) {
			c.out, c.outOff = nil, 0
		}
	case cq.Res == 0, cq.Res == -int32(syscall.ECANCELED):
	default:
		if c.err == nil {
			c.err = os.NewSyscallError("sendmsg", syscall.Errno(-cq.Res))
		}
		return
	}
	if len(c.in) > 0 && c.OutputLen() < w.maxOutput && !c.closing && !c.closed && c.err == nil && !w.rw.stopping {
		w.deliver(c, nil)
	}
}

// settleRing brings c's requests in line with its state, or closes it:
// a receive armed while it reads (not closing, output under MaxOutput),
// cancelled while it does not; one send of the pending output in flight;
// closed once closing (or half-closed) and flushed.
func (w *worker) settleRing(c *Conn) {
	out, ok := w.settleInput(c)
	if !ok {
		return
	}
	if (c.closing || c.rdClosed) && out == 0 && c.sending == nil {
		w.finalize(c, nil)
		return
	}
	read := !c.closing && !c.rdClosed && out < w.maxOutput && !w.rw.stopping
	switch {
	case read && !c.recv:
		// A multishot receive that ends after a buffer's worth, armed
		// again when it ends: one without the limit would go on filling
		// buffers until a cancel ran, past the output bound (P9), so
		// where the kernel has none, one receive at a time. The multishot
		// one is not PollFirst: armed so on a socket that holds data and
		// then a reset, it reports the data and never the reset (Linux
		// 6.18; TestResets), and the connection would stay open.
		e := w.sqe()
		if w.rw.limit > 0 {
			e.RecvMultishot(c.fd, 0, connTag(tagRecv, c))
			e.Limit(w.rw.limit)
		} else {
			e.Recv(c.fd, 0, connTag(tagRecv, c))
			e.PollFirst()
		}
		c.recv = true
	case !read && c.recv && !c.cancelling:
		w.sqe().Cancel(connTag(tagRecv, c), tagCancel<<tagShift)
		w.rw.inline++
		c.cancelling = true
	}
	// Stopping, shutdownRing makes the one attempt to flush, once every
	// request has ended.
	if out > 0 && c.sending == nil && !w.rw.stopping {
		c.sending = c.out[c.outOff:]
		w.sqe().Send(c.fd, c.sending, connTag(tagSend, c))
	}
}

// finalizeRing runs OnClose; the fd is closed once the connection's
// requests have completed (closeWhenIdle), cancelled now if any is in
// flight. Until then its number is not free, and the connection stays in
// conns, closed, so that their completions find it (P6).
func (w *worker) finalizeRing(c *Conn, err error) {
	c.closed = true
	c.gone.Store(true)
	w.callClose(c, err)
	w.tr.close(w.id, c.id, c.fd, c.gen, causeOf(c, err))
	w.stats.currConns.Add(-1)
	c.in = nil
	w.cancelAll(c)
	w.closeWhenIdle(c)
}

// cancelAll cancels every request in flight on c's fd, once: the receive
// (whatever pause already cancelled it) and a send a slow reader holds.
func (w *worker) cancelAll(c *Conn) {
	if (c.recv || c.sending != nil) && !c.cancelled {
		w.sqe().CancelFd(c.fd, tagCancel<<tagShift)
		w.rw.inline++
		c.cancelled = true
	}
}

// closeWhenIdle closes a finalized connection's fd once no request of its
// is in flight: by the ring, in the next turn's io_uring_enter, and by
// close(2) once shutdown has begun (no enter may follow). Its slot in conns
// and in MaxConns is free at once: until the close runs, the number is
// still this process's, so no connection posted here can have it.
func (w *worker) closeWhenIdle(c *Conn) {
	if c.recv || c.sending != nil || w.conns[c.fd] != c {
		return
	}
	w.conns[c.fd] = nil
	if w.rw.stopping {
		_ = w.k.Close(c.fd)
	} else {
		w.sqe().Close(c.fd, tagClose<<tagShift|uint64(c.fd)&fdMask)
		w.rw.inline++
	}
	c.out, c.outOff = nil, 0
	w.load.Add(-1)
	w.adm.release()
}

// shutdownRing is shutdown for the io_uring Worker: what the ring holds
// posted is closed unregistered, the pending tasks run, every request is
// cancelled and waited for, then each connection gets one attempt to flush
// its output and is closed with ErrServerClosed (P5, P7).
func (w *worker) shutdownRing() {
	list := w.closeTasks()
	w.rw.stopping = true
	w.reapAll()
	w.runTasks(list)
	w.settleDirty()
	for _, c := range w.conns {
		if c != nil {
			w.cancelAll(c)
		}
	}
	// The closes queued before the stop, and the cancels, go in now, even
	// with nothing in flight to wait for: EINTR is tried again, and EBUSY
	// (completions the kernel holds back) after reaping.
	for range 100 {
		_, err := w.rw.ring.Submit(0)
		if err == nil || !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EBUSY) {
			if err != nil {
				w.log.Error("reactor: worker shutdown", "worker", w.id, "err", err)
			}
			break
		}
		w.reapAll()
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.inFlight() && time.Now().Before(deadline) {
		if _, err := w.rw.ring.Wait(1, 100*time.Millisecond); err != nil && !errors.Is(err, syscall.ETIME) && !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EBUSY) {
			w.log.Error("reactor: worker shutdown", "worker", w.id, "err", err)
			break
		}
		w.reapAll()
	}
	if w.inFlight() {
		w.log.Error("reactor: worker shutdown: requests still in flight after 5s", "worker", w.id)
	}
	discard := w.discard.Load()
	for _, c := range w.conns {
		if c == nil {
			continue
		}
		// Whatever is still in flight after the wait is given up on.
		c.recv, c.sending = false, nil
		if c.closed {
			w.closeWhenIdle(c)
			continue
		}
		w.closeAtShutdown(c, discard)
	}
}

// inFlight reports whether any connection has a request in flight.
func (w *worker) inFlight() bool {
	for _, c := range w.conns {
		if c != nil && (c.recv || c.sending != nil) {
			return true
		}
	}
	return false
}

// ringFd is the fd an Acceptor's MSG_RING posts w's connections to.
func (w *worker) ringFd() int { return w.rw.ring.Fd() }

package reactor

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/internal/loopwait"
)

// worker is one Worker: a goroutine locked to its OS thread, with its own
// epoll set over the read end of its notify channel, its task eventfd and its
// connections.
type worker struct {
	id int
	s  *Server
	// epfd, note and taskfd are created by newWorker and closed by close,
	// after every goroutine that uses them has exited.
	epfd   int
	note   notifier
	taskfd int

	q queue
	// wakeFlag is the coalesced wake-up flag: 1 while a token is pending or
	// the Worker has not yet cleared it. The Acceptor writes a token only on
	// its 0→1 flip; the Worker clears it before draining the queue, so an item
	// pushed after the drain's last pop finds it 0 and writes a token
	// (clear-then-recheck, P4 no lost wake-up).
	wakeFlag atomic.Uint32
	// load counts connections dispatched to this Worker and not yet closed,
	// queued ones included: the least-connections balancer's measure.
	load  atomic.Int64
	stats workerStats
	// stopFlag is set by stop; the loop then closes what it holds and exits.
	stopFlag atomic.Bool
	tasks    taskList

	// The fields below are owned by the Worker's goroutine.

	// conns maps a registered fd to its connection.
	conns map[int]*Conn
	// rbuf is the read buffer shared by every connection of this Worker.
	rbuf []byte
	tok  [notifyBatch]byte
	// gen numbers registrations; it goes into each epoll event so that an
	// event queued for a closed connection never reaches a newer one on the
	// same fd.
	gen uint32
	// dirty lists the connections to settle after the current batch of
	// events (see markDirty).
	dirty []*Conn
	// spare is the task slice handed back to tasks on the next swap.
	spare []task
	// epoch, now and nextIdle drive IdleTimeout; now is refreshed after each
	// epoll_wait only when IdleTimeout is set.
	epoch    time.Time
	now      int64
	nextIdle int64
}

// taskList carries work from other goroutines (AsyncWrite) to the Worker. It
// has its own eventfd so that it never consumes or fakes a connection token:
// a trace stays exactly the hand-off the model describes.
type taskList struct {
	mu sync.Mutex
	// list is guarded by mu; pending is true while a kick is unread; closed
	// is set by the Worker on shutdown, after which nothing is added and the
	// eventfd is not written (it is about to be closed).
	list    []task
	pending bool
	closed  bool
}

// task is an AsyncWrite of p to c, or, with wake set, a Wake of c.
type task struct {
	c    *Conn
	p    []byte
	wake bool
}

// add appends t and kicks taskfd unless a kick is already unread. It returns
// ErrClosed once the Worker has shut its task list.
func (l *taskList) add(t task, taskfd int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.list = append(l.list, t)
	if !l.pending {
		l.pending = true
		kick(taskfd)
	}
	return nil
}

// taskKeep is the largest task slice kept after a swap.
const taskKeep = 1024

func newWorker(s *Server, id int) (*worker, error) {
	w := &worker{
		id:     id,
		s:      s,
		epfd:   -1,
		note:   notifier{rfd: -1, wfd: -1},
		taskfd: -1,
		conns:  make(map[int]*Conn),
		rbuf:   make([]byte, s.cfg.ReadBuffer),
		epoch:  time.Now(),
	}
	var err error
	if w.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if w.note, err = newNotifier(s.cfg.Notify); err != nil {
		w.close()
		return nil, err
	}
	if w.taskfd, err = newEventfd(); err != nil {
		w.close()
		return nil, err
	}
	for _, fd := range []int{w.note.rfd, w.taskfd} {
		if err := epollAdd(w.epfd, fd, unix.EPOLLIN, 0); err != nil {
			w.close()
			return nil, err
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
	if faultNotifyBeforePush {
		w.s.traceNotify(a, w.id)
		_ = w.note.signal(w.s.stopping.Load)
		faultWindow()
	}
	w.q.mu.Lock()
	w.q.pushLocked(it)
	w.s.traceDispatch(a, w.id, it.seq)
	w.stats.queueLen.Store(int64(w.q.n))
	w.q.mu.Unlock()
	if faultNotifyBeforePush {
		return
	}
	if w.s.cfg.Wakeup == WakeupCoalesced && !w.wakeFlag.CompareAndSwap(0, 1) {
		return
	}
	w.s.traceNotify(a, w.id)
	if err := w.note.signal(w.s.stopping.Load); err != nil {
		w.s.log.Error("reactor: notify", "worker", w.id, "err", err)
	}
}

// run is the Worker's loop; it returns after stop, once it has closed every
// queued fd and every connection.
func (w *worker) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 256)
	idle := int64(w.s.cfg.IdleTimeout)
	timeout := -1
	if idle > 0 {
		tick := min(max(w.s.cfg.IdleTimeout/4, 10*time.Millisecond), time.Second)
		timeout = int(tick / time.Millisecond)
	}
	for {
		n, err := loopwait.Wait(w.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			// EBADF/EINVAL: only on a bug. Stop serving rather than spin;
			// Shutdown still closes what this Worker holds.
			w.s.log.Error("reactor: worker loop", "worker", w.id, "err", os.NewSyscallError("epoll_wait", err))
			for !w.stopFlag.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			w.shutdown()
			return
		}
		if idle > 0 {
			w.now = int64(time.Since(w.epoch))
		}
		for i := 0; i < n; i++ {
			w.onEvent(&events[i])
		}
		w.settleDirty()
		if w.stopFlag.Load() {
			w.shutdown()
			return
		}
		if idle > 0 && w.now >= w.nextIdle {
			w.closeIdle(idle)
			w.nextIdle = w.now + int64(timeout)*int64(time.Millisecond)
		}
	}
}

// onEvent acts on one event of the Worker's epoll set. A connection's event
// is delivered only if the connection on its fd is the one it was armed for
// (P6): the generation in the event must be the Conn's. An earlier event of
// the same batch may have closed that connection and registered a new one on
// the same fd number, and the new one must not get the old one's hang-up.
func (w *worker) onEvent(ev *unix.EpollEvent) {
	switch fd := int(ev.Fd); fd {
	case w.note.rfd:
		w.onNotify()
	case w.taskfd:
		w.onTasks()
	default:
		if c := w.conns[fd]; c != nil && (c.gen == uint32(ev.Pad) || faultStaleEventDelivered) {
			w.onConnEvent(c, ev.Events)
		}
	}
}

// onNotify reads the tokens and pops: one item per token for per-conn
// wake-ups (memcached; eventfd: the whole counter), or, coalesced, clears the
// flag and then pops until the queue is empty.
func (w *worker) onNotify() {
	n, err := w.note.drain(&w.tok)
	if err != nil {
		w.s.log.Error("reactor: read notify", "worker", w.id, "err", err)
		return
	}
	if n == 0 {
		return
	}
	w.s.traceWake(w.id, n)
	if w.s.cfg.Wakeup == WakeupCoalesced {
		if !faultClearAfterDrain {
			w.wakeFlag.Store(0)
		}
		for {
			it, ok := w.pop()
			if !ok {
				if faultClearAfterDrain {
					faultWindow()
					w.wakeFlag.Store(0)
				}
				return
			}
			w.register(it)
		}
	}
	if faultEventfdPopOne && w.note.kind == NotifyEventfd {
		n = 1
	}
	for i := 0; i < n; i++ {
		it, ok := w.pop()
		if !ok {
			// Push happens before notify, so this is a broken invariant.
			w.s.log.Error("reactor: notify token without a queued connection", "worker", w.id)
			return
		}
		w.register(it)
	}
}

func (w *worker) pop() (item, bool) {
	if faultUnlockedPop {
		return w.popUnlocked()
	}
	w.q.mu.Lock()
	var it item
	var ok bool
	if faultNewestFirstPop {
		it, ok = w.q.popNewestLocked()
	} else {
		it, ok = w.q.popLocked()
	}
	if ok {
		w.s.tracePop(w.id, it.seq)
	}
	w.stats.queueLen.Store(int64(w.q.n))
	w.q.mu.Unlock()
	return it, ok
}

// register adds the popped fd to the epoll set, then runs OnOpen.
func (w *worker) register(it item) {
	w.gen++
	c := &Conn{w: w, fd: it.fd, id: it.seq, gen: w.gen, peer: it.peer, lastActive: w.now, events: unix.EPOLLIN}
	if err := epollAdd(w.epfd, it.fd, unix.EPOLLIN, int32(w.gen)); err != nil {
		w.s.log.Error("reactor: register connection", "worker", w.id, "conn", it.seq, "err", err)
		_ = unix.Close(it.fd)
		w.load.Add(-1)
		w.s.connClosed()
		return
	}
	w.s.traceRegister(w.id, it.seq)
	if faultRegisteredTwice {
		w.s.traceRegister(w.id, it.seq)
		w.callOpen(c)
	}
	w.conns[it.fd] = c
	w.stats.currConns.Add(1)
	w.stats.totalConns.Add(1)
	w.callOpen(c)
	w.settle(c)
}

// onTasks runs the work other goroutines handed over. A task for a
// connection that is closed, or whose fd now belongs to another connection,
// is dropped: its handle is stale.
func (w *worker) onTasks() {
	reset(w.taskfd)
	w.tasks.mu.Lock()
	list := w.tasks.list
	w.tasks.list = w.spare
	w.tasks.pending = false
	w.tasks.mu.Unlock()
	w.runTasks(list)
}

func (w *worker) runTasks(list []task) {
	for i, t := range list {
		c := t.c
		c.asyncBytes.Add(-int64(len(t.p)))
		if faultStaleTaskRuns && w.conns[c.fd] != nil {
			c = w.conns[c.fd]
		}
		// The task's connection may have closed since it was queued, and
		// its fd gone to a newer connection: run it only on its own (P6).
		if !c.closed && w.conns[c.fd] == c {
			if t.wake {
				w.wake(c)
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

// wake runs a Wake: OnData with the held input, or with none.
func (w *worker) wake(c *Conn) {
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
		if w.now-c.lastActive >= idle {
			w.s.stats.idleClosed.Add(1)
			w.finalize(c, ErrIdleTimeout)
		}
	}
}

// stop tells the Worker to close what it holds and exit. The Acceptors have
// stopped by then, so nothing more is pushed onto its queue.
func (w *worker) stop() {
	w.stopFlag.Store(true)
	w.tasks.mu.Lock()
	if !w.tasks.closed {
		kick(w.taskfd)
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
		if !faultQueuedLeftOpen {
			_ = unix.Close(it.fd)
		}
		w.load.Add(-1)
		w.s.connClosed()
	}
	w.tasks.mu.Lock()
	w.tasks.closed = true
	list := w.tasks.list
	w.tasks.list = nil
	w.tasks.mu.Unlock()
	w.runTasks(list)
	for _, c := range w.conns {
		if c.err == nil {
			_ = c.flush()
		}
		w.finalize(c, ErrServerClosed)
	}
}

func (w *worker) close() {
	if w.epfd >= 0 {
		_ = unix.Close(w.epfd)
		w.epfd = -1
	}
	w.note.close()
	if w.taskfd >= 0 {
		_ = unix.Close(w.taskfd)
		w.taskfd = -1
	}
}

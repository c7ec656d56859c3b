package reactor

import (
	"os"
	"runtime"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
	"github.com/handoffd/handoff/model"
)

// acceptor is one Acceptor: a goroutine locked to its OS thread, with its own
// poll set over its listeners and its kick eventfd.
type acceptor struct {
	*shared
	id int
	// bal is the server's, shared by every Acceptor.
	bal        *balancer
	rejectLine []byte
	// epfd and kickfd are created by newAcceptor and closed by close, after
	// every goroutine that uses them has exited. A kick of kickfd interrupts
	// the wait: to stop, or to re-arm the listeners.
	epfd   int
	kickfd int
	lns    []*listener
	byFD   map[int]*listener
	// paused is true while the listeners are out of the poll set after
	// EMFILE or ENFILE; owned by the Acceptor's goroutine, mirrored in adm
	// for the Workers, which kick a paused Acceptor when a connection closes.
	paused bool
	// episode is true from the first EMFILE or ENFILE until the next
	// successful accept: one ListenDisabled count and one log record per
	// episode, however many 10 ms retries fail in between.
	episode bool
	// ra is the io_uring backend's ring, nil for epoll.
	ra *ringAcceptor
}

// rearmMillis is how long a paused Acceptor waits before retrying accept,
// as memcached's maxconns_handler does.
const rearmMillis = 10

func newAcceptor(sh *shared, id int, lns []*listener, bal *balancer, rejectLine string, ring bool) (*acceptor, error) {
	a := &acceptor{
		shared: sh, id: id, bal: bal, rejectLine: []byte(rejectLine),
		epfd: -1, kickfd: -1, lns: lns, byFD: make(map[int]*listener),
	}
	var err error
	if ring {
		if a.ra, err = newRingAcceptor(len(lns)); err != nil {
			return nil, err
		}
		if a.kickfd, err = a.k.Eventfd(); err != nil {
			a.close()
			return nil, err
		}
		return a, nil
	}
	if a.epfd, err = a.k.PollCreate(); err != nil {
		return nil, err
	}
	if a.kickfd, err = a.k.Eventfd(); err != nil {
		a.close()
		return nil, err
	}
	if err := a.k.PollCtl(a.epfd, kernel.Add, a.kickfd, kernel.In, 0); err != nil {
		a.close()
		return nil, os.NewSyscallError("epoll_ctl add", err)
	}
	for _, ln := range lns {
		a.byFD[ln.fd] = ln
	}
	if err := a.setListening(true); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// run is the Acceptor's loop; it returns once the server is stopping.
func (a *acceptor) run() {
	if a.ra != nil {
		a.runRing()
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]kernel.Event, 64)
	for a.turn(events) {
	}
}

// turn is one pass of the loop: wait for a listener (or the retry timer
// while paused) and accept what is there. It reports false once the server
// is stopping. A simulated kernel's tests call it one pass at a time.
func (a *acceptor) turn(events []kernel.Event) bool {
	timeout := -1
	if a.paused {
		timeout = rearmMillis
	}
	n, err := a.k.PollWait(a.epfd, events, timeout)
	if a.adm.stopped() {
		return false
	}
	if err != nil {
		if err == syscall.EINTR {
			return true
		}
		// Only EBADF and EINVAL are possible, and only on a bug; returning
		// beats spinning.
		a.log.Error("reactor: acceptor stopped", "acceptor", a.id, "err", os.NewSyscallError("epoll_wait", err))
		return false
	}
	if a.paused {
		// The 10 ms timer fired or a Worker closed a connection: put the
		// listeners back and try each at once.
		if err := a.setListening(true); err != nil {
			a.log.Error("reactor: re-arm listeners", "acceptor", a.id, "err", err)
			return true
		}
		for _, ln := range a.lns {
			if a.paused {
				break
			}
			a.acceptAll(ln)
		}
	}
	for i := range n {
		fd := int(events[i].Fd)
		if fd == a.kickfd {
			kernel.Reset(a.k, a.kickfd)
			continue
		}
		if ln := a.byFD[fd]; ln != nil && !a.paused {
			a.acceptAll(ln)
		}
	}
	return true
}

// acceptAll accepts from ln until EAGAIN, admitting each new fd, or until
// the server stops: a storm of connections faster than the Acceptor takes
// them must not hold Shutdown back.
func (a *acceptor) acceptAll(ln *listener) {
	for !a.adm.stopped() {
		fd, peer, err := a.k.Accept(ln.fd)
		switch err {
		case nil:
		case syscall.EAGAIN:
			return
		case syscall.EINTR, syscall.ECONNABORTED:
			// ECONNABORTED: the peer gave up while queued; try the next.
			continue
		case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
			// Out of fds or socket memory: retrying now would spin. Take the
			// listeners out and come back in 10 ms or when a conn closes.
			a.exhausted(err)
			return
		default:
			// EPERM (a firewall rule), EPROTO and the like concern one
			// connection attempt; the listener is still good.
			a.log.Warn("reactor: accept", "acceptor", a.id, "addr", ln.addr, "err", os.NewSyscallError("accept4", err))
			return
		}
		if a.episode {
			a.episode = false
			a.log.Info("reactor: accepting again", "acceptor", a.id)
		}
		a.admit(fd, peer)
	}
}

// admit applies MaxConns, then numbers, balances and dispatches fd.
func (a *acceptor) admit(fd int, peer kernel.Peer) {
	if seq, w, ok := a.number(fd); ok {
		w.dispatch(a.id, item{fd: fd, seq: seq, peer: peer})
	}
}

// number applies MaxConns to a new fd, then gives it its number and its
// Worker (Accept), on either backend; at the limit it sends the reject
// line, closes fd and reports false.
func (a *acceptor) number(fd int) (seq uint64, w *worker, ok bool) {
	a.srvStats.accepted.Add(1)
	if !a.adm.admit() {
		a.srvStats.rejected.Add(1)
		// A fresh socket's send buffer is empty, so the line fits; a failed
		// send loses nothing but the courtesy.
		_, _ = a.k.Send(fd, a.rejectLine)
		a.tr.drop(a.id, -1, -1, fd, model.CauseMaxConns)
		_ = a.k.Close(fd)
		return 0, nil, false
	}
	seq, w = a.bal.pick()
	a.tr.accept(a.id, seq, fd)
	return seq, w, true
}

func (a *acceptor) exhausted(err error) {
	if err := a.setListening(false); err != nil {
		a.log.Error("reactor: disable listeners", "acceptor", a.id, "err", err)
	}
	if !a.episode {
		a.episode = true
		a.srvStats.listenDisabled.Add(1)
		a.log.Warn("reactor: listeners disabled, retrying every 10ms", "acceptor", a.id, "err", os.NewSyscallError("accept4", err))
	}
}

// setListening adds the listeners to the poll set or removes them. A
// listener already in (EEXIST) or already out (ENOENT) is where it should
// be, so a retry after a partial failure converges.
func (a *acceptor) setListening(on bool) error {
	for _, ln := range a.lns {
		if on {
			if err := a.k.PollCtl(a.epfd, kernel.Add, ln.fd, kernel.In, 0); err != nil && err != syscall.EEXIST {
				return os.NewSyscallError("epoll_ctl add", err)
			}
		} else if err := a.k.PollCtl(a.epfd, kernel.Del, ln.fd, 0, 0); err != nil && err != syscall.ENOENT {
			return os.NewSyscallError("epoll_ctl del", err)
		}
	}
	if a.paused == on {
		a.adm.pause(a.id, !on)
	}
	a.paused = !on
	return nil
}

func (a *acceptor) close() {
	a.ra.close()
	if a.epfd >= 0 {
		_ = a.k.Close(a.epfd)
		a.epfd = -1
	}
	if a.kickfd >= 0 {
		_ = a.k.Close(a.kickfd)
		a.kickfd = -1
	}
}

package reactor

import (
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/internal/loopwait"
)

// acceptor is one Acceptor: a goroutine locked to its OS thread, with its own
// epoll set over its listeners and its wake eventfd.
type acceptor struct {
	id int
	s  *Server
	// epfd and wakefd are created by newAcceptor and closed by close, after
	// every goroutine that uses them has exited.
	epfd   int
	wakefd int
	lns    []*listener
	byFD   map[int]*listener
	// disabled is true while the listeners are out of the epoll set after
	// EMFILE/ENFILE; owned by the Acceptor's goroutine. isDisabled mirrors it
	// for the Workers, which wake a disabled Acceptor when a connection closes.
	disabled   bool
	isDisabled atomic.Bool
	// episode is true from the first EMFILE/ENFILE until the next successful
	// accept: one ListenDisabled count and one log record per episode, however
	// many 10 ms retries fail in between.
	episode bool
	// rsa receives each accepted peer's address.
	rsa unix.RawSockaddrAny
}

// rearmMillis is how long a disabled Acceptor waits before retrying accept,
// as memcached's maxconns_handler does.
const rearmMillis = 10

func newAcceptor(s *Server, id int, lns []*listener) (*acceptor, error) {
	a := &acceptor{id: id, s: s, epfd: -1, wakefd: -1, lns: lns, byFD: make(map[int]*listener)}
	var err error
	if a.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if a.wakefd, err = newEventfd(); err != nil {
		a.close()
		return nil, err
	}
	if err := epollAdd(a.epfd, a.wakefd, unix.EPOLLIN, 0); err != nil {
		a.close()
		return nil, err
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
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, 64)
	for {
		timeout := -1
		if a.disabled {
			timeout = rearmMillis
		}
		n, err := loopwait.Wait(a.epfd, events, timeout)
		if a.s.stopping.Load() {
			return
		}
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// Only EBADF/EINVAL are possible, and only on a bug; returning
			// beats spinning.
			a.s.log.Error("reactor: acceptor stopped", "acceptor", a.id, "err", os.NewSyscallError("epoll_wait", err))
			return
		}
		if a.disabled {
			// The 10 ms timer fired or a Worker closed a connection: put
			// the listeners back and try each at once.
			if err := a.setListening(true); err != nil {
				a.s.log.Error("reactor: re-arm listeners", "acceptor", a.id, "err", err)
				continue
			}
			for _, ln := range a.lns {
				if a.disabled {
					break
				}
				a.acceptAll(ln)
			}
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == a.wakefd {
				reset(a.wakefd)
				continue
			}
			if ln := a.byFD[fd]; ln != nil && !a.disabled {
				a.acceptAll(ln)
			}
		}
	}
}

// acceptAll accepts from ln until EAGAIN, admitting each new fd.
func (a *acceptor) acceptAll(ln *listener) {
	for {
		fd, peer, err := accept4(ln.fd, &a.rsa)
		switch err {
		case nil:
		case unix.EAGAIN:
			return
		case unix.EINTR, unix.ECONNABORTED:
			// ECONNABORTED: the peer gave up while queued; try the next.
			continue
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of fds or socket memory: retrying now would spin. Take the
			// listeners out and come back in 10 ms or when a conn closes.
			a.exhausted(err)
			return
		default:
			// EPERM (a firewall rule), EPROTO and the like concern one
			// connection attempt; the listener is still good.
			a.s.log.Warn("reactor: accept", "acceptor", a.id, "addr", ln.addr, "err", os.NewSyscallError("accept4", err))
			return
		}
		if a.episode {
			a.episode = false
			a.s.log.Info("reactor: accepting again", "acceptor", a.id)
		}
		a.admit(fd, peer)
	}
}

// admit applies MaxConns, then numbers, balances and dispatches fd.
func (a *acceptor) admit(fd int, peer peerAddr) {
	s := a.s
	s.stats.accepted.Add(1)
	if s.open.Add(1) > int64(s.cfg.MaxConns) {
		s.open.Add(-1)
		s.stats.rejected.Add(1)
		// A fresh socket's send buffer is empty, so the line fits; a failed
		// write loses nothing but the courtesy.
		_, _ = unix.SendmsgN(fd, []byte(s.cfg.RejectLine), nil, nil, unix.MSG_NOSIGNAL)
		_ = unix.Close(fd)
		return
	}
	seq, w := s.bal.pick()
	s.traceAccept(a.id, seq)
	w.dispatch(a.id, item{fd: fd, seq: seq, peer: peer})
}

func (a *acceptor) exhausted(err error) {
	if err := a.setListening(false); err != nil {
		a.s.log.Error("reactor: disable listeners", "acceptor", a.id, "err", err)
	}
	if !a.episode {
		a.episode = true
		a.s.stats.listenDisabled.Add(1)
		a.s.log.Warn("reactor: listeners disabled, retrying every 10ms", "acceptor", a.id, "err", os.NewSyscallError("accept4", err))
	}
}

// setListening adds the listeners to the epoll set or removes them. A
// listener already in (EEXIST) or already out (ENOENT) is where it should
// be, so a retry after a partial failure converges.
func (a *acceptor) setListening(on bool) error {
	for _, ln := range a.lns {
		if on {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ln.fd)}
			if err := unix.EpollCtl(a.epfd, unix.EPOLL_CTL_ADD, ln.fd, &ev); err != nil && err != unix.EEXIST {
				return os.NewSyscallError("epoll_ctl add", err)
			}
		} else if err := unix.EpollCtl(a.epfd, unix.EPOLL_CTL_DEL, ln.fd, nil); err != nil && err != unix.ENOENT {
			return os.NewSyscallError("epoll_ctl del", err)
		}
	}
	if a.disabled == on {
		if on {
			a.s.disabled.Add(-1)
		} else {
			a.s.disabled.Add(1)
		}
	}
	a.disabled = !on
	a.isDisabled.Store(!on)
	return nil
}

// wake interrupts the Acceptor's epoll_wait: to stop, or to re-arm.
func (a *acceptor) wake() { kick(a.wakefd) }

func (a *acceptor) close() {
	if a.epfd >= 0 {
		_ = unix.Close(a.epfd)
		a.epfd = -1
	}
	if a.wakefd >= 0 {
		_ = unix.Close(a.wakefd)
		a.wakefd = -1
	}
}

// epollAdd adds fd to epfd with events; data goes into the event's Pad word
// (a Worker's connection generation).
func epollAdd(epfd, fd int, events uint32, data int32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: data}
	if err := rawEpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	return nil
}

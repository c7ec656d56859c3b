package reactor

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/handoffd/handoff/internal/kernel"
	"github.com/handoffd/handoff/internal/uring"
	"github.com/handoffd/handoff/model"
)

// ringAcceptor is an Acceptor's io_uring backend: one multishot accept per
// listener on its ring, and the MSG_RING that posts each connection into
// the picked Worker's ring. Owned by the Acceptor's goroutine.
type ringAcceptor struct {
	ring *uring.Ring
	cqes []uring.CQE
	// armed[i]: listener i's multishot accept is in flight. The kernel
	// ends it (a completion without CQEFMore) on an error, EMFILE among
	// them; it is submitted again at once, or, out of fds, after the
	// pause (model/'s rearm).
	armed []bool
	// posts are the MSG_RINGs submitted and not yet completed, by slot;
	// free lists the slots not in use. A post that fails (EOVERFLOW: the
	// Worker's CQ and the kernel's overflow list full) is submitted again
	// from its slot, the fd still the Acceptor's (model/'s ARetry).
	posts []post
	free  []int
	// retry holds the slots of failed posts, submitted again next turn.
	retry []int
	// inline counts the posts queued since the last enter, which complete
	// during it: its wait counts on them (ringWait), timed so that a
	// failed one is retried.
	inline int
}

// post is one connection on its way to a Worker's ring.
type post struct {
	w   *worker
	fd  int
	seq uint64
}

func newRingAcceptor(n int) (*ringAcceptor, error) {
	r, err := uring.New(256)
	if err != nil {
		return nil, err
	}
	return &ringAcceptor{ring: r, cqes: make([]uring.CQE, 256), armed: make([]bool, n)}, nil
}

func (ra *ringAcceptor) close() {
	if ra == nil || ra.ring == nil {
		return
	}
	_ = ra.ring.Close()
	ra.ring = nil
}

// asqe returns a submission entry of the Acceptor's ring.
func (a *acceptor) asqe() *uring.SQE { return nextSQE(a.ra.ring, a.log, "acceptor", a.id) }

// runRing is the io_uring Acceptor's loop: one io_uring_enter a turn
// submits the MSG_RINGs of the last and waits for the next accept (or the
// retry timer while paused or holding a failed post).
func (a *acceptor) runRing() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a.asqe().PollMultishot(a.kickfd, tagKick<<tagShift)
	a.armAll()
	for !a.adm.stopped() {
		// Timed while posts are in this enter too: the wait counts on
		// their completions, and one that fails (EOVERFLOW) leaves its fd
		// here, to be submitted again within the pause whether or not
		// another connection comes (P4).
		timed := a.paused || len(a.ra.retry) > 0 || a.ra.inline > 0
		_, err := ringWait(a.ra.ring, a.rawWait, timed, rearmMillis*time.Millisecond, a.ra.inline)
		a.ra.inline = 0
		switch {
		case err == nil, errors.Is(err, syscall.EINTR), errors.Is(err, syscall.ETIME), errors.Is(err, syscall.EBUSY):
		default:
			a.log.Error("reactor: acceptor stopped", "acceptor", a.id, "err", err)
			a.stopRing()
			return
		}
		if a.adm.stopped() {
			break
		}
		if a.paused {
			a.paused = false
			a.adm.pause(a.id, false)
			a.armAll()
		}
		for _, slot := range a.ra.retry {
			a.submitPost(slot)
		}
		a.ra.retry = a.ra.retry[:0]
		a.reapRing()
	}
	a.stopRing()
}

// armAll submits the multishot accept of every listener not armed.
func (a *acceptor) armAll() {
	for i, ln := range a.lns {
		if !a.ra.armed[i] {
			a.asqe().AcceptMultishot(ln.fd, tagAccept<<tagShift|uint64(i))
			a.ra.armed[i] = true
		}
	}
}

// reapRing acts on every completion of the Acceptor's ring.
func (a *acceptor) reapRing() { a.reapWith(a.onCQE) }

// reapWith calls act on every completion the Acceptor's ring holds.
func (a *acceptor) reapWith(act func(*uring.CQE)) {
	for {
		n := a.ra.ring.Reap(a.ra.cqes)
		if n == 0 {
			return
		}
		for i := range a.ra.cqes[:n] {
			act(&a.ra.cqes[i])
		}
	}
}

func (a *acceptor) onCQE(cq *uring.CQE) {
	switch cq.UserData >> tagShift {
	case tagKick:
		kernel.Reset(a.k, a.kickfd)
		if cq.Flags&uring.CQEFMore == 0 {
			a.asqe().PollMultishot(a.kickfd, tagKick<<tagShift)
		}
	case tagAccept:
		i := int(cq.UserData & indexMask)
		if cq.Flags&uring.CQEFMore == 0 {
			a.ra.armed[i] = false
		}
		if cq.Res >= 0 {
			if a.episode {
				a.episode = false
				a.log.Info("reactor: accepting again", "acceptor", a.id)
			}
			a.admitRing(int(cq.Res))
		} else {
			a.acceptFailed(i, syscall.Errno(-cq.Res))
		}
		if !a.ra.armed[i] && !a.paused && !a.adm.stopped() {
			a.asqe().AcceptMultishot(a.lns[i].fd, tagAccept<<tagShift|uint64(i))
			a.ra.armed[i] = true
		}
	case tagPost:
		slot := int(cq.UserData & indexMask)
		if cq.Res >= 0 {
			a.ra.posts[slot] = post{}
			a.ra.free = append(a.ra.free, slot)
			return
		}
		// EOVERFLOW: the Worker's CQ and the kernel's list are full; the
		// Worker is reaping, so the post is tried again next turn.
		a.ra.retry = append(a.ra.retry, slot)
	}
}

// acceptFailed handles a failed accept completion as acceptAll handles
// accept4's errors.
func (a *acceptor) acceptFailed(i int, err syscall.Errno) {
	switch err {
	case syscall.EINTR, syscall.ECONNABORTED, syscall.EAGAIN:
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		// Out of fds or socket memory: the kernel ended the accept; it is
		// submitted again after 10 ms or when a connection closes.
		if !a.paused {
			a.paused = true
			a.adm.pause(a.id, true)
		}
		if !a.episode {
			a.episode = true
			a.srvStats.listenDisabled.Add(1)
			a.log.Warn("reactor: listeners disabled, retrying every 10ms", "acceptor", a.id, "err", os.NewSyscallError("accept4", err))
		}
	default:
		a.log.Warn("reactor: accept", "acceptor", a.id, "addr", a.lns[i].addr, "err", os.NewSyscallError("accept4", err))
	}
}

// admitRing applies MaxConns, then numbers, balances and posts fd.
func (a *acceptor) admitRing(fd int) {
	seq, w, ok := a.number(fd)
	if !ok {
		return
	}
	w.load.Add(1)
	w.stats.dispatched.Add(1)
	w.stats.queueLen.Add(1)
	slot := len(a.ra.posts)
	if n := len(a.ra.free); n > 0 {
		slot = a.ra.free[n-1]
		a.ra.free = a.ra.free[:n-1]
		a.ra.posts[slot] = post{w: w, fd: fd, seq: seq}
	} else {
		a.ra.posts = append(a.ra.posts, post{w: w, fd: fd, seq: seq})
	}
	a.submitPost(slot)
}

// submitPost queues the MSG_RING of the post in slot: the connection's fd
// as the completion's result, this Acceptor and the connection's number in
// the user data. The Worker traces the post (Dispatch) when it reaps it.
func (a *acceptor) submitPost(slot int) {
	p := a.ra.posts[slot]
	data := tagHandoff<<tagShift | uint64(a.id)<<acceptorShift | p.seq&seqMask
	a.asqe().MsgRing(p.w.ringFd(), uint32(p.fd), data, tagPost<<tagShift|uint64(slot))
	a.ra.inline++
}

// stopRing ends the Acceptor: its accepts are cancelled, and whatever it
// still holds, accepted and not posted or posted and refused, is closed
// (P7: every fd accepted is closed). Posts submitted are completed by the
// time their io_uring_enter returns, each into a Worker's ring or back
// here with an error.
func (a *acceptor) stopRing() {
	for i := range a.lns {
		if a.ra.armed[i] {
			a.asqe().Cancel(tagAccept<<tagShift|uint64(i), tagCancel<<tagShift)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.ringBusy() && time.Now().Before(deadline) {
		if _, err := a.ra.ring.Wait(1, 100*time.Millisecond); err != nil && !errors.Is(err, syscall.ETIME) && !errors.Is(err, syscall.EINTR) && !errors.Is(err, syscall.EBUSY) {
			a.log.Error("reactor: acceptor shutdown", "acceptor", a.id, "err", err)
			break
		}
		a.reapWith(a.onStopCQE)
	}
	for _, slot := range a.ra.retry {
		p := a.ra.posts[slot]
		a.tr.drop(a.id, -1, int64(p.seq), p.fd, model.CauseShutdown)
		_ = a.k.Close(p.fd)
		p.w.load.Add(-1)
		p.w.stats.queueLen.Add(-1)
		a.adm.release()
	}
	a.ra.retry = nil
}

// ringBusy reports whether an accept or a post is still in flight.
func (a *acceptor) ringBusy() bool {
	for _, on := range a.ra.armed {
		if on {
			return true
		}
	}
	return len(a.ra.free)+len(a.ra.retry) < len(a.ra.posts)
}

// onStopCQE acts on a completion while the Acceptor stops: a connection
// accepted now is closed, a post's result taken as in onCQE.
func (a *acceptor) onStopCQE(cq *uring.CQE) {
	switch cq.UserData >> tagShift {
	case tagAccept:
		if cq.Flags&uring.CQEFMore == 0 {
			a.ra.armed[int(cq.UserData&indexMask)] = false
		}
		if cq.Res >= 0 {
			a.srvStats.accepted.Add(1)
			a.tr.drop(a.id, -1, -1, int(cq.Res), model.CauseShutdown)
			_ = a.k.Close(int(cq.Res))
		}
	case tagPost:
		a.onCQE(cq)
	}
}

package reactor

import (
	"encoding/binary"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
)

// notifier is a Worker's notify channel, a pipe (memcached) or an eventfd,
// and its wake-up policy, per-conn or coalesced. Both are chosen once, by
// newNotifier; the Acceptors write tokens, the Worker reads them.
type notifier struct {
	k kernel.Kernel
	// rfd is watched by the Worker's poll set; wfd is written by Acceptors.
	// For an eventfd both are the same fd. Immutable until close.
	rfd, wfd int
	// eventfd: a token is 1 added to a counter, and a read takes them all;
	// otherwise a token is one byte, and a read takes up to notifyBatch.
	eventfd bool
	// coalesced: a token is written only when notified flips 0→1, and the
	// Worker drains its whole queue per wake-up.
	coalesced bool
	// notified is the coalesced policy's flag: 1 while a token is pending or
	// the Worker has not yet cleared it. The Worker clears it before
	// draining the queue, so an item pushed after the drain's last pop
	// finds it 0 and writes a token (clear-then-recheck, P4 no lost
	// wake-up).
	notified atomic.Uint32
}

// notifyBatch is the most bytes a Worker reads from its pipe per wake-up, as
// memcached's thread_libevent_process does.
const notifyBatch = 32

func newNotifier(k kernel.Kernel, eventfd, coalesced bool) (*notifier, error) {
	n := &notifier{k: k, rfd: -1, wfd: -1, eventfd: eventfd, coalesced: coalesced}
	var err error
	if n.eventfd {
		n.rfd, err = k.Eventfd()
		n.wfd = n.rfd
	} else {
		n.rfd, n.wfd, err = k.Pipe()
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// arm reports whether a connection just pushed needs a token: always for
// per-conn, only on the flag's 0→1 flip for coalesced.
func (n *notifier) arm() bool {
	return !n.coalesced || n.notified.CompareAndSwap(0, 1)
}

// disarm clears the coalesced flag; the Worker calls it before it drains
// its queue.
func (n *notifier) disarm() { n.notified.Store(0) }

// signal writes one token. The write end is non-blocking; a full pipe (more
// tokens pending than its capacity) is waited out, because a token dropped
// here would strand a queued connection (P4 no lost wake-up). The wait ends
// when the server stops: Shutdown closes whatever is still queued.
func (n *notifier) signal(stopped func() bool) error {
	var b [8]byte
	p := b[:1]
	if n.eventfd {
		binary.NativeEndian.PutUint64(b[:], 1)
		p = b[:]
	} else {
		b[0] = 'c'
	}
	for {
		_, err := n.k.Write(n.wfd, p)
		switch err {
		case nil:
			return nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if stopped() {
				return nil
			}
			if err := n.k.WaitWritable(n.wfd, 100); err != nil && err != syscall.EINTR {
				return os.NewSyscallError("poll", err)
			}
		default:
			return os.NewSyscallError("write notify", err)
		}
	}
}

// read takes the pending tokens and returns how many: up to notifyBatch
// bytes from a pipe (the rest stay readable, so the level-triggered poll set
// reports the pipe again), or the whole eventfd counter, which the read
// resets. 0 means nothing was pending.
func (n *notifier) read(buf *[notifyBatch]byte) (int, error) {
	for {
		var got int
		var err error
		if n.eventfd {
			var b [8]byte
			_, err = n.k.Read(n.rfd, b[:])
			got = int(binary.NativeEndian.Uint64(b[:]))
		} else {
			got, err = n.k.Read(n.rfd, buf[:])
		}
		switch err {
		case nil:
			return got, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, os.NewSyscallError("read notify", err)
		}
	}
}

func (n *notifier) close() {
	if n.rfd >= 0 {
		_ = n.k.Close(n.rfd)
	}
	if n.wfd >= 0 && n.wfd != n.rfd {
		_ = n.k.Close(n.wfd)
	}
	n.rfd, n.wfd = -1, -1
}

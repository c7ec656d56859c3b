package reactor

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// notifier is a Worker's notify channel: the pipe (memcached) or an eventfd.
// The Acceptors write tokens, the Worker reads them.
type notifier struct {
	kind Notify
	// rfd is watched by the Worker's epoll set; wfd is written by Acceptors.
	// For an eventfd both are the same fd. Immutable until close.
	rfd, wfd int
}

// notifyBatch is the most bytes a Worker reads from its pipe per wake-up, as
// memcached's thread_libevent_process does.
const notifyBatch = 32

func newNotifier(kind Notify) (notifier, error) {
	if kind == NotifyEventfd {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			return notifier{rfd: -1, wfd: -1}, os.NewSyscallError("eventfd", err)
		}
		return notifier{kind: kind, rfd: fd, wfd: fd}, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return notifier{rfd: -1, wfd: -1}, os.NewSyscallError("pipe2", err)
	}
	return notifier{kind: kind, rfd: p[0], wfd: p[1]}, nil
}

// signal writes one token. The write end is non-blocking; a full pipe (more
// tokens pending than its capacity) is waited out with poll, because a token
// dropped here would strand a queued connection (P4 no lost wake-up). The
// wait ends when the server stops: Shutdown closes whatever is still queued.
func (n *notifier) signal(stopping func() bool) error {
	var b [8]byte
	p := b[:1]
	if n.kind == NotifyEventfd {
		binary.NativeEndian.PutUint64(b[:], 1)
		p = b[:]
	} else {
		b[0] = 'c'
	}
	if faultDropOnFullPipe && n.kind == NotifyPipe {
		if pending, err := unix.IoctlGetInt(n.rfd, unix.TIOCINQ); err == nil && pending > 0 {
			return nil
		}
	}
	for {
		_, err := rawWrite(n.wfd, p)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if stopping() {
				return nil
			}
			fds := []unix.PollFd{{Fd: int32(n.wfd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
				return os.NewSyscallError("poll", err)
			}
		default:
			return os.NewSyscallError("write notify", err)
		}
	}
}

// drain reads the pending tokens and returns how many: up to notifyBatch
// bytes from a pipe (the rest stay readable, so the level-triggered epoll set
// reports the pipe again), or the whole eventfd counter, which the read
// resets. 0 means nothing was pending.
func (n *notifier) drain(buf *[notifyBatch]byte) (int, error) {
	for {
		var got int
		var err error
		if n.kind == NotifyEventfd {
			var b [8]byte
			_, err = rawRead(n.rfd, b[:])
			got = int(binary.NativeEndian.Uint64(b[:]))
		} else {
			got, err = rawRead(n.rfd, buf[:])
		}
		switch err {
		case nil:
			return got, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, nil
		default:
			return 0, os.NewSyscallError("read notify", err)
		}
	}
}

func (n *notifier) close() {
	if n.rfd >= 0 {
		_ = unix.Close(n.rfd)
	}
	if n.wfd >= 0 && n.wfd != n.rfd {
		_ = unix.Close(n.wfd)
	}
	n.rfd, n.wfd = -1, -1
}

// newEventfd returns a non-blocking eventfd used as a plain wake-up: the
// Workers' task channel and the Acceptors' stop and re-arm channel.
func newEventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	return fd, nil
}

// kick adds 1 to an eventfd. EAGAIN means the counter is already non-zero,
// so the reader is woken anyway.
func kick(fd int) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	for {
		if _, err := unix.Write(fd, b[:]); err != unix.EINTR {
			return
		}
	}
}

// reset reads an eventfd, setting its counter back to 0.
func reset(fd int) {
	var b [8]byte
	for {
		if _, err := unix.Read(fd, b[:]); err != unix.EINTR {
			return
		}
	}
}

package kernel

import (
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/internal/loopwait"
)

// Event is one ready registration: Events is the mask of In, Out, Err and
// Hup, Fd the registered fd, Pad the tag given to PollCtl. On Linux it is
// epoll's own struct, so PollWait fills the caller's slice directly.
type Event = unix.EpollEvent

// The readiness bits are epoll's; this fails to compile if they are not.
var _ = [1]struct{}{}[In^unix.EPOLLIN|Out^unix.EPOLLOUT|Err^unix.EPOLLERR|Hup^unix.EPOLLHUP]
var _ = [1]struct{}{}[int(Add)^unix.EPOLL_CTL_ADD|int(Del)^unix.EPOLL_CTL_DEL|int(Mod)^unix.EPOLL_CTL_MOD]

// epoll is the Linux kernel. Its loop calls are made without telling the Go
// scheduler (RawSyscall): none can block, since every fd the reactor reads
// or writes is non-blocking, and epoll_ctl and close(2) of a socket without a
// lingering SO_LINGER return at once. unix.Read and the like would call
// entersyscall and exitsyscall around each, costing their time and leaving
// the P where sysmon can retake it and wake a spare thread to run it. The
// calls that block, epoll_wait and poll(2), tell the scheduler.
type epoll struct {
	rawWait bool
	// epoch is Now's zero; immutable.
	epoch time.Time
}

// New returns the Linux kernel.
func New(o Options) (Kernel, error) {
	return &epoll{rawWait: o.RawWait, epoch: time.Now()}, nil
}

func (*epoll) PollCreate() (int, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("epoll_create1", err)
	}
	return fd, nil
}

func (*epoll) PollCtl(ep int, op Op, fd int, events, tag uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(tag)}
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(ep), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (k *epoll) PollWait(ep int, evs []Event, msec int) (int, error) {
	if k.rawWait {
		return loopwait.Wait(ep, evs, msec)
	}
	n, err := unix.EpollWait(ep, evs, msec)
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (*epoll) Eventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("eventfd", err)
	}
	return fd, nil
}

func (*epoll) Pipe() (int, int, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	return p[0], p[1], nil
}

// Accept is accept4(2) itself: x/sys's Accept4 also calls
// getsockopt(SO_PROTOCOL) for every AF_INET peer, to tell L2TP sockets
// apart, a system call per connection that a TCP server does not need.
func (*epoll) Accept(lfd int) (int, Peer, error) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, Peer{}, e
	}
	return int(r), parsePeer(&rsa, l), nil
}

func (*epoll) Read(fd int, p []byte) (int, error) { return rawIO(unix.SYS_READ, fd, p, 0) }

func (*epoll) Write(fd int, p []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, p, 0) }

// Send is send(2) with MSG_NOSIGNAL.
func (*epoll) Send(fd int, p []byte) (int, error) {
	return rawIO(unix.SYS_SENDTO, fd, p, unix.MSG_NOSIGNAL)
}

// rawIO is read(2), write(2) or sendto(2) of p on fd: the three take the
// same first arguments, and sendto's flags and (zero) address follow.
func rawIO(trap uintptr, fd int, p []byte, flags uintptr) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(trap, uintptr(fd), uintptr(ptr), uintptr(len(p)), flags, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func (*epoll) Close(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (*epoll) WaitWritable(fd int, msec int) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	_, err := unix.Poll(fds, msec)
	return err
}

func (k *epoll) Now() int64 { return int64(time.Since(k.epoch)) }

func (*epoll) PeerError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && v != 0 {
		return os.NewSyscallError("read", unix.Errno(v))
	}
	return os.NewSyscallError("read", unix.ECONNRESET)
}

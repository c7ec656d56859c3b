package reactor

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of the hot path, made without telling the Go scheduler.
//
// unix.Read and the like call entersyscall and exitsyscall around the
// syscall, so that the P can be handed to another thread if the call
// blocks. None of these can block: every fd the reactor reads or writes is
// non-blocking, and epoll_ctl and close(2) of a socket without SO_LINGER
// return at once. Marking them as syscalls costs the wrappers' time, and,
// worse, leaves the P in the syscall state where sysmon can retake it and
// wake a spare thread to run it. The one call that blocks, epoll_wait, is
// made by loopWait (wait_linux.go), which has its own reasons.

func rawRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(ptr), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawSend is send(2) with MSG_NOSIGNAL: a peer that is gone makes it fail
// with EPIPE rather than raise SIGPIPE.
func rawSend(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func rawClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

package uring

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Probe reports whether this process can run an io_uring backend: a ring
// can be set up, waits take a timeout (Linux 5.11), MSG_RING posts into a
// ring (5.18), a buffer ring registers (5.19) and a multishot receive
// into it stays armed (6.0). It tries each on a socket pair, so that a
// backend finds out at start, not at its first connection; the error wraps
// ErrUnsupported and says what failed.
func Probe() error {
	r, err := New(8)
	if err != nil {
		return err
	}
	defer r.Close()
	unsupported := func(what string, err error) error {
		return fmt.Errorf("%w: %s: %v", ErrUnsupported, what, err)
	}
	b, err := r.RegisterBufRing(0, 1, 16)
	if err != nil {
		return unsupported("provided buffer ring", err)
	}
	defer b.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("uring: probe: %w", err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	e, _ := r.SQE()
	e.RecvMultishot(fds[0], 0, 1)
	e, _ = r.SQE()
	e.MsgRing(r.Fd(), 7, 2, 3)
	if _, err := unix.Write(fds[1], []byte{'x'}); err != nil {
		return fmt.Errorf("uring: probe: %w", err)
	}
	got := map[uint64]CQE{}
	var cqes [4]CQE
	deadline := time.Now().Add(time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		if _, err := r.Wait(1, 100*time.Millisecond); err != nil && !isTransient(err) {
			return unsupported("io_uring_enter", err)
		}
		for _, c := range cqes[:r.Reap(cqes[:])] {
			got[c.UserData] = c
		}
	}
	switch recv, msg, self := got[1], got[2], got[3]; {
	case recv.Res != 1 || recv.Flags&CQEFMore == 0:
		return unsupported("multishot receive", fmt.Errorf("completion %+v", recv))
	case msg.Res != 7 || self.Res != 0:
		return unsupported("MSG_RING", fmt.Errorf("completions %+v, %+v", msg, self))
	}
	return nil
}

// isTransient reports a wait's errors that only end it early: the timeout
// (ETIME) and a signal (EINTR).
func isTransient(err error) bool {
	return errors.Is(err, unix.ETIME) || errors.Is(err, unix.EINTR)
}

// ProbeRecvLimit reports whether a multishot receive takes a Limit: armed
// with a limit of 2 on a socket holding 3 bytes, it must end with its first
// completion. A kernel that does not know the limit fails the request with
// EINVAL.
func ProbeRecvLimit() bool {
	r, err := New(8)
	if err != nil {
		return false
	}
	defer r.Close()
	b, err := r.RegisterBufRing(0, 2, 16)
	if err != nil {
		return false
	}
	defer b.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte("xyz")); err != nil {
		return false
	}
	e, _ := r.SQE()
	e.RecvMultishot(fds[0], 0, 1)
	e.Limit(2)
	var cqes [1]CQE
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, err := r.Wait(1, 100*time.Millisecond); err != nil && !isTransient(err) {
			return false
		}
		if r.Reap(cqes[:]) == 1 {
			// Ended (no CQEFMore) by the receive that reached the limit;
			// still armed, the kernel ignored it.
			c := cqes[0]
			return c.Res >= 2 && c.Flags&CQEFMore == 0
		}
	}
	return false
}

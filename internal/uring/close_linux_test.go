package uring

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCloseClosesTheFd checks the close a Worker submits in place of
// close(2): its completion reports 0, the number is gone from the
// process, and the peer reads its end of file.
func TestCloseClosesTheFd(t *testing.T) {
	r := newRing(t, 8)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	submit(t, r, func(e *SQE) { e.Close(fds[0], 9) })
	got := reap(t, r, 1)
	if got[0].UserData != 9 || got[0].Res != 0 {
		t.Fatalf("close's completion = %+v, want user data 9, result 0", got[0])
	}
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		unix.Close(fds[0])
		t.Fatalf("fcntl F_GETFD after the ring's close = %v, want EBADF", err)
	}
	pfd := []unix.PollFd{{Fd: int32(fds[1]), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 5000); n != 1 || err != nil {
		t.Fatalf("the peer saw nothing within 5 s of the close: poll = %d, %v", n, err)
	}
	var b [1]byte
	if n, err := unix.Read(fds[1], b[:]); n != 0 || err != nil {
		t.Errorf("the peer read %d, %v after the close; want 0 (end of file)", n, err)
	}
}

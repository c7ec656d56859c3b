package loopwait_test

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/handoffd/handoff/internal/loopwait"
)

// Wait on an epoll set with nothing ready returns when its timeout passes,
// and at once when something is. A signal (the runtime's preemption, for
// one) may interrupt it with EINTR, and the caller waits again, as a loop
// does.
func ExampleWait() {
	ep, _ := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	efd, _ := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	defer unix.Close(ep)
	defer unix.Close(efd)
	_ = unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)})
	evs := make([]unix.EpollEvent, 1)
	wait := func(msec int) (int, error) {
		for {
			n, err := loopwait.Wait(ep, evs, msec)
			if err != unix.EINTR {
				return n, err
			}
		}
	}
	n, err := wait(10)
	fmt.Println("idle:", n, err)
	unix.Write(efd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	n, err = wait(-1)
	fmt.Println("ready:", n, err, evs[0].Fd == int32(efd))
	// Output:
	// idle: 0 <nil>
	// ready: 1 <nil> true
}

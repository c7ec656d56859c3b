package loopwait

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RawMax is the longest a loop waits in a raw epoll_wait before it falls
// back to a blocking one the scheduler knows of. A loop idle this long is
// not under load, and letting its P go costs it little; much longer, and a
// stop-the-world without preemption signals waits that long.
const RawMax = 5 * time.Millisecond

// Wait returns the events ready on epfd, waiting up to msec milliseconds
// for one (-1: without limit, 0: not at all); (0, nil) when msec passes, and
// EINTR when a signal interrupts it.
//
// The rule: wait first in a raw epoll_wait of at most RawMax, then, if
// nothing came, in unix.EpollWait, which tells the scheduler it blocks.
//
// The reason is the runtime's handling of a thread that blocks in a system
// call. Every unix.EpollWait made while the loop is busy costs entersyscall
// and exitsyscall, and, once the loop has run 10 ms on one scheduling tick
// (a locked loop never passes through the scheduler by itself), sysmon takes
// the P from it at its next syscall: the loop wakes without a P, and sysmon
// goes back to polling every 20 µs. A raw epoll_wait keeps the P, so sysmon
// only preempts the loop every 10 ms (and a program must leave a P for its
// other goroutines: reactor.Serve raises GOMAXPROCS to do so). On short
// connections the reactor measured 1.31× the floor's CPU per connection this
// way against 1.40× (make bench's conn mode, before the floors waited this
// way too). A loop idle for RawMax then blocks the usual way, so an idle
// server lets its Ps go and sysmon sleep, as before.
//
// A stop-the-world still reaches a loop in the raw wait: the runtime's
// preemption signal interrupts epoll_wait, and with GODEBUG=asyncpreemptoff=1
// the raw wait ends within RawMax.
func Wait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	raw := int(RawMax / time.Millisecond)
	if msec >= 0 && msec < raw {
		raw = msec
	}
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(raw), 0, 0)
	if e != 0 {
		return 0, e
	}
	if n > 0 || msec == raw {
		return int(n), nil
	}
	if msec > 0 {
		msec -= raw
	}
	return unix.EpollWait(epfd, events, msec)
}

package main

import (
	"os"
	"syscall"
)

// fdLimit is the open-file limit before and after raiseFDLimit.
type fdLimit struct {
	needed, cur, max uint64
	// short: even at the hard limit the process cannot hold needed fds.
	short bool
}

// planFDLimit decides the new soft limit: needed if the hard limit allows
// it, else the hard limit, and short when that is still less than needed. A
// soft limit already at or above needed is left alone.
func planFDLimit(needed, cur, hard uint64) fdLimit {
	l := fdLimit{needed: needed, cur: cur, max: hard}
	if cur >= needed {
		return l
	}
	l.cur = min(needed, hard)
	l.short = l.cur < needed
	return l
}

// raiseFDLimit raises RLIMIT_NOFILE's soft limit towards needed, up to the
// hard limit. memcached refuses to start when it cannot get -c descriptors;
// handoffd starts anyway and the caller warns, because the reactor handles
// EMFILE by pausing the acceptor rather than failing.
func raiseFDLimit(needed uint64) (fdLimit, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fdLimit{}, os.NewSyscallError("getrlimit", err)
	}
	l := planFDLimit(needed, rl.Cur, rl.Max)
	if l.cur == rl.Cur {
		return l, nil
	}
	rl.Cur = l.cur
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		// EPERM cannot happen below the hard limit; any failure leaves the
		// old soft limit in force, which is what the caller reports.
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		l.cur, l.short = rl.Cur, rl.Cur < needed
		return l, os.NewSyscallError("setrlimit", err)
	}
	return l, nil
}

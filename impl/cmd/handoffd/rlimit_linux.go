package main

import (
	"os"
	"syscall"
)

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

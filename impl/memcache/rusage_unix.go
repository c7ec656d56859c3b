//go:build unix

package memcache

import "syscall"

// timeval is a CPU time as getrusage(2) gives it.
type timeval struct{ Sec, Usec int64 }

// cpuTimes is the process's user and system CPU time, for stats'
// rusage_user and rusage_system.
func cpuTimes() (user, sys timeval, ok bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return timeval{}, timeval{}, false
	}
	return timeval{int64(ru.Utime.Sec), int64(ru.Utime.Usec)}, timeval{int64(ru.Stime.Sec), int64(ru.Stime.Usec)}, true
}

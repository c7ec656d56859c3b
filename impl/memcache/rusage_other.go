//go:build !unix

package memcache

// timeval is a CPU time as getrusage(2) gives it.
type timeval struct{ Sec, Usec int64 }

// cpuTimes reports no CPU time where there is no getrusage(2); stats then
// leaves out rusage_user and rusage_system.
func cpuTimes() (user, sys timeval, ok bool) { return timeval{}, timeval{}, false }

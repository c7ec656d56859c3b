package procstat

import "time"

// TicksPerSecond is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which the kernel fixes at 100 for everything it reports to user space,
// whatever CONFIG_HZ it was built with.
const TicksPerSecond = 100

// TicksToDuration converts clock ticks to time.
func TicksToDuration(t int64) time.Duration { return time.Duration(t) * time.Second / TicksPerSecond }

// Status is what /proc/PID/status says of a process's memory and threads.
type Status struct {
	RSS     int64 // resident memory in bytes (VmRSS); 0 when the line is absent, as for a zombie
	Threads int   // OS threads (Threads)
}

package reliability

import (
	"github.com/handoffd/handoff/internal/procstat"
)

// Proc is one sample of a process, read from /proc.
type Proc struct {
	RSS      int64 // resident memory in bytes (VmRSS)
	FDs      int   // open file descriptors (entries of /proc/PID/fd)
	Threads  int   // OS threads (Threads)
	CPUTicks int64 // user+system CPU time in clock ticks (utime+stime of stat)
}

// ClockTicksPerSecond is the rate of a /proc CPU tick.
const ClockTicksPerSecond = procstat.TicksPerSecond

// ReadProc samples pid.
func ReadProc(pid int) (Proc, error) {
	var p Proc
	st, err := procstat.ReadStatus(pid)
	if err != nil {
		return p, err
	}
	p.RSS, p.Threads = st.RSS, st.Threads
	fds, err := procstat.FDs(pid)
	if err != nil {
		return p, err
	}
	p.FDs = len(fds)
	p.CPUTicks, err = procstat.CPUTicks(pid)
	return p, err
}

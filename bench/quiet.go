package main

import (
	"os"
	"runtime"
	"time"

	"github.com/handoffd/handoff/internal/procstat"
)

// otherWork measures the CPU the rest of the machine spends while one run
// measures one server: every process's user and system time (/proc/stat)
// less the server's and the bench's own. A run during which something else
// was busy is not a measurement of the server, however nice its priority:
// on a machine of two cores another process's work shares the cores with
// the server and its client.
type otherWork struct {
	pid                   int
	machine, server, self int64
	start                 time.Time
}

// startOther samples the machine, the server pid (0: none) and the bench.
func startOther(pid int) (otherWork, error) {
	o := otherWork{pid: pid, start: time.Now()}
	var err error
	if o.machine, o.server, o.self, err = sampleOther(pid); err != nil {
		return o, err
	}
	return o, nil
}

// share returns the other work since startOther as a fraction of what the
// machine's cores could have done in that time.
func (o otherWork) share() (float64, error) {
	machine, server, self, err := sampleOther(o.pid)
	if err != nil {
		return 0, err
	}
	other := (machine - o.machine) - (server - o.server) - (self - o.self)
	capacity := time.Since(o.start).Seconds() * float64(runtime.NumCPU()) * procstat.TicksPerSecond
	if capacity <= 0 {
		return 0, nil
	}
	return max(0, float64(other)/capacity), nil
}

func sampleOther(pid int) (machine, server, self int64, err error) {
	if machine, err = procstat.MachineTicks(); err != nil {
		return
	}
	if pid != 0 {
		if server, err = procstat.CPUTicks(pid); err != nil {
			return
		}
	}
	self, err = procstat.CPUTicks(os.Getpid())
	return
}

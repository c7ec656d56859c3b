package main

import (
	"fmt"
	"time"

	"github.com/handoffd/handoff/internal/procstat"
)

// rssBytes returns the process's resident memory, VmRSS of /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	st, err := procstat.ReadStatus(pid)
	if err == nil && st.RSS == 0 {
		err = fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return st.RSS, err
}

// serverMeter samples a server process's CPU time; a zero pid measures
// nothing.
type serverMeter struct {
	pid   int
	start int64
}

func startMeter(pid int) (*serverMeter, error) {
	m := &serverMeter{pid: pid}
	if pid == 0 {
		return m, nil
	}
	t, err := procstat.CPUTicks(pid)
	m.start = t
	return m, err
}

// elapsed returns the CPU time the server used since startMeter (0 without
// a pid).
func (m *serverMeter) elapsed() (time.Duration, error) {
	if m.pid == 0 {
		return 0, nil
	}
	t, err := procstat.CPUTicks(m.pid)
	return procstat.TicksToDuration(t - m.start), err
}

package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// the kernel fixes at 100 for everything it reports to user space,
// whatever CONFIG_HZ it was built with.
const userHZ = 100

// cpuTicks returns the CPU time the process has used, user plus system, in
// clock ticks, from /proc/PID/stat. It counts every thread, exited ones
// included.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces; fields count from
	// the last ')'. utime and stime are fields 14 and 15 of the whole line,
	// so 12 and 13 after the state field.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return u + s, nil
}

// ticksToDuration converts clock ticks to time.
func ticksToDuration(t int64) time.Duration { return time.Duration(t) * time.Second / userHZ }

// rssBytes returns the process's resident memory, VmRSS of /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, rest)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, rest)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
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
	t, err := cpuTicks(pid)
	m.start = t
	return m, err
}

// elapsed returns the CPU time the server used since startMeter (0 without
// a pid).
func (m *serverMeter) elapsed() (time.Duration, error) {
	if m.pid == 0 {
		return 0, nil
	}
	t, err := cpuTicks(m.pid)
	return ticksToDuration(t - m.start), err
}

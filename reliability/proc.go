package reliability

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Proc is one sample of a process, read from /proc.
type Proc struct {
	RSS      int64 // resident memory in bytes (VmRSS)
	FDs      int   // open file descriptors (entries of /proc/PID/fd)
	Threads  int   // OS threads (Threads)
	CPUTicks int64 // user+system CPU time in clock ticks (utime+stime of stat)
}

// ClockTicksPerSecond is the rate of a /proc CPU tick: USER_HZ is 100 on every Linux
// build Go supports.
const ClockTicksPerSecond = 100

// ReadProc samples pid.
func ReadProc(pid int) (Proc, error) {
	var p Proc
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for line := range bytes.Lines(status) {
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			p.RSS = kb << 10
		case "Threads:":
			p.Threads, _ = strconv.Atoi(f[1])
		}
	}
	if p.FDs, err = CountFDs(pid); err != nil {
		return p, err
	}
	p.CPUTicks, err = CPUTicks(pid)
	return p, err
}

// CountFDs counts pid's open file descriptors.
func CountFDs(pid int) (int, error) {
	d, err := os.Open(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	return len(names), err
}

// CPUTicks returns pid's user+system CPU time in clock ticks.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are counted
	// from the last ')'. utime and stime are fields 14 and 15 of stat(5),
	// the 12th and 13th after the name.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return 0, fmt.Errorf("reliability: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("reliability: /proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reliability: /proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return u + s, nil
}

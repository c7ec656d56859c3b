package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTicks returns the CPU time pid has used, user plus system, in clock
// ticks. It counts every thread, exited ones included.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields are counted
	// from the last ')'. utime and stime are fields 14 and 15 of stat(5),
	// the 12th and 13th after the name.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
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

// ReadStatus reads pid's /proc/PID/status.
func ReadStatus(pid int) (Status, error) {
	var st Status
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || len(f) != 3 || f[2] != "kB" {
				return st, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, bytes.TrimSpace(line))
			}
			st.RSS = kb << 10
		case "Threads:":
			if st.Threads, err = strconv.Atoi(f[1]); err != nil {
				return st, fmt.Errorf("/proc/%d/status: Threads %q", pid, f[1])
			}
		}
	}
	return st, nil
}

// FDs lists pid's open file descriptors by number (0 for the calling
// process: /proc/self).
func FDs(pid int) ([]int, error) {
	dir := "/proc/self/fd"
	if pid != 0 {
		dir = fmt.Sprintf("/proc/%d/fd", pid)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	fds := make([]int, 0, len(names))
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// MachineTicks returns the CPU time every process of the machine has used
// since boot, user, nice and system, in clock ticks (the "cpu" line of
// /proc/stat). Interrupt and softirq time are left out: the kernel counts
// there the network work a process causes, which is the process's own.
func MachineTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 4 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	var total int64
	for _, v := range f[1:4] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
		total += n
	}
	return total, nil
}

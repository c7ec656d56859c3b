//go:build !linux

package procstat

import (
	"errors"
	"fmt"
	"runtime"
)

// CPUTicks fails on this system, which has no /proc/PID/stat to read; the
// error wraps errors.ErrUnsupported.
func CPUTicks(pid int) (int64, error) {
	return 0, fmt.Errorf("procstat: CPU time of pid %d on %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}

// ReadStatus fails on this system, which has no /proc/PID/status to read;
// the error wraps errors.ErrUnsupported.
func ReadStatus(pid int) (Status, error) {
	return Status{}, fmt.Errorf("procstat: status of pid %d on %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}

// FDs fails on this system, which has no /proc/PID/fd to list; the error
// wraps errors.ErrUnsupported.
func FDs(pid int) ([]int, error) {
	return nil, fmt.Errorf("procstat: fds of pid %d on %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}

// MachineTicks fails on this system, which has no /proc/stat; the error
// wraps errors.ErrUnsupported.
func MachineTicks() (int64, error) {
	return 0, fmt.Errorf("procstat: machine CPU time on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

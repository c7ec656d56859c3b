//go:build !linux

package reliability

import (
	"errors"
	"fmt"
	"runtime"
)

// execWithNoFile fails on this system: the launcher, like the probes, is
// Linux only. The error wraps errors.ErrUnsupported.
func execWithNoFile(n uint64, prog string, argv, env []string) error {
	return fmt.Errorf("reliability: RLIMIT_NOFILE %d on %s: %w", n, runtime.GOOS, errors.ErrUnsupported)
}

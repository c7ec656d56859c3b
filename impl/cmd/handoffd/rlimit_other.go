//go:build !linux

package main

import (
	"errors"
	"fmt"
	"runtime"
)

// raiseFDLimit is Linux's only: handoffd serves nowhere else (the reactor's
// New refuses first), and other systems spell RLIMIT_NOFILE's types their
// own way.
func raiseFDLimit(needed uint64) (fdLimit, error) {
	return fdLimit{}, fmt.Errorf("open-file limit on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

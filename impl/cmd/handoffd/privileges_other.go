//go:build !linux

package main

import (
	"errors"
	"fmt"
	"runtime"
)

// runningAsRoot is false where handoffd does not serve (the reactor's New
// refuses first).
func runningAsRoot() bool { return false }

// dropPrivileges and daemonize are Linux's only, as handoffd's serving is.
func dropPrivileges(string) error {
	return fmt.Errorf("-u on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func daemonize([]string) (int, error) {
	return 0, fmt.Errorf("-d on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

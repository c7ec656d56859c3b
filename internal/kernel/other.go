//go:build !linux

package kernel

import (
	"errors"
	"fmt"
	"runtime"
)

// Event is one ready registration: Events is the mask of In, Out, Err and
// Hup, Fd the registered fd, Pad the tag given to PollCtl. Its fields are
// Linux's epoll_event's, so that code written against it compiles anywhere.
type Event struct {
	Events uint32
	Fd     int32
	Pad    int32
}

// New fails: the reactor's only kernel today is Linux's epoll.
func New(Options) (Kernel, error) {
	return nil, fmt.Errorf("kernel: no reactor kernel for %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

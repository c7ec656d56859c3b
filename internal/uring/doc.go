// Package uring is an io_uring instance on golang.org/x/sys/unix: the
// submission and completion rings the kernel shares with the process, and
// io_uring_enter to submit to one and wait on the other. It is the system
// call boundary a second reactor backend plugs into; no Go io_uring module
// is used (none is served here) and there is no cgo.
//
// On a Ring: the requests a backend needs (ops_linux.go: multishot accept,
// MSG_RING to another ring, multishot receive into provided buffers, send,
// close, cancel by fd) and a group of provided buffers (BufRing), which
// the kernel fills as receives complete, so that idle connections hold no
// buffer.
//
// A Ring is used by one goroutine at a time, as a reactor Worker uses its
// poll set: the process is the rings' only producer of submissions and only
// consumer of completions, the kernel the other side of each.
//
// Off Linux, New fails with ErrUnsupported.
package uring

import "errors"

// ErrUnsupported reports that this process cannot create a ring: the
// kernel has no io_uring (ENOSYS), a seccomp filter or the
// kernel.io_uring_disabled sysctl forbids it (EPERM), or the system is not
// Linux. A backend falls back to epoll on it.
var ErrUnsupported = errors.New("uring: io_uring is not available")

// ErrFull reports that the submission ring has no free entry: submit what
// it holds first.
var ErrFull = errors.New("uring: submission ring full")

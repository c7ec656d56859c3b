//go:build !linux

package uring

// Ring is an io_uring instance; off Linux there is none.
type Ring struct{}

// New fails off Linux: io_uring is Linux's.
func New(entries uint32) (*Ring, error) { return nil, ErrUnsupported }

// BufRing is a group of provided buffers; off Linux there is none.
type BufRing struct{}

// Probe fails off Linux: io_uring is Linux's.
func Probe() error { return ErrUnsupported }

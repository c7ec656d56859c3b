//go:build !linux

package uring

// Ring is an io_uring instance; off Linux there is none.
type Ring struct{}

// New fails off Linux: io_uring is Linux's.
func New(entries uint32) (*Ring, error) { return nil, ErrUnsupported }

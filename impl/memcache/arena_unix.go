//go:build unix && !race

package memcache

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapArena returns n bytes of anonymous memory outside the Go heap: the
// collector never scans it and the heap target does not grow with it, and
// the kernel backs a page only once it is written, so resident memory
// follows the slab pages the store has used, not -m.
func mapArena(n int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		// ENOMEM: the address space or the overcommit limit cannot take
		// -m; the operator must lower it.
		return nil, fmt.Errorf("memcache: mmap of %d bytes for items: %w", n, err)
	}
	return b, nil
}

// unmapArena gives the arena back; nothing may use it afterwards.
func unmapArena(b []byte) { _ = unix.Munmap(b) }

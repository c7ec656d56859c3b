//go:build !unix || race

package memcache

// mapArena returns n bytes from the Go heap where there is no mmap, and
// under the race detector, which watches only the Go heap: a single
// allocation holding no pointers, which the collector does not scan.
func mapArena(n int) ([]byte, error) { return make([]byte, n), nil }

// unmapArena leaves the arena to the collector.
func unmapArena([]byte) {}

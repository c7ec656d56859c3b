package reactor

import (
	"sync"

	"github.com/handoffd/handoff/internal/kernel"
)

// item is one accepted connection on its way from an Acceptor to a Worker.
type item struct {
	fd   int
	seq  uint64 // global accept sequence number: model.Event.Conn
	peer kernel.Peer
}

// queue is a Worker's connection queue (memcached's CQ): a mutex-guarded FIFO
// ring. The Acceptors push, the Worker pops. Dispatch and Pop trace events are
// emitted by the callers while mu is held, so the recorded order of a
// worker's Dispatch events is its push order (P3 per-worker FIFO).
//
// Its length is bounded by Config.MaxConns (admission counts queued
// connections), and a ring grown past queueKeep is dropped once drained, so
// a burst does not pin memory after it passes.
type queue struct {
	mu sync.Mutex
	// ring holds n items starting at head, wrapping around.
	// Invariant: len(ring) is 0 or a power of two, and 0 <= n <= len(ring).
	ring []item
	head int
	n    int
}

// queueKeep is the largest ring kept after the queue drains.
const queueKeep = 256

// pushLocked appends it; mu must be held.
func (q *queue) pushLocked(it item) {
	if q.n == len(q.ring) {
		q.grow()
	}
	q.ring[(q.head+q.n)&(len(q.ring)-1)] = it
	q.n++
}

// popLocked removes and returns the head; mu must be held.
func (q *queue) popLocked() (item, bool) {
	if q.n == 0 {
		return item{}, false
	}
	it := q.ring[q.head]
	q.ring[q.head] = item{}
	q.head = (q.head + 1) & (len(q.ring) - 1)
	q.n--
	if q.n == 0 {
		q.head = 0
		if len(q.ring) > queueKeep {
			q.ring = nil
		}
	}
	return it, true
}

func (q *queue) grow() {
	size := 2 * len(q.ring)
	if size == 0 {
		size = 16
	}
	ring := make([]item, size)
	for i := 0; i < q.n; i++ {
		ring[i] = q.ring[(q.head+i)&(len(q.ring)-1)]
	}
	q.ring, q.head = ring, 0
}

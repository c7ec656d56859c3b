package reactor

import "sync/atomic"

// balancer picks the Worker for each accepted connection. One balancer is
// shared by all Acceptors.
type balancer struct {
	// leastConns selects least-connections over round-robin; immutable.
	leastConns bool
	workers    []*worker
	// seq is the next global accept sequence number. Taking the number and,
	// for round-robin, the Worker from one atomic increment makes them one
	// step: with K Acceptors, connection k still goes to Worker k mod N
	// (P2 round-robin), and the numbers stay dense 0, 1, 2, ...
	seq atomic.Uint64
}

// pick returns the connection's sequence number and its Worker.
func (b *balancer) pick() (uint64, *worker) {
	n := uint64(len(b.workers))
	k := b.seq.Add(1) - 1
	if !b.leastConns {
		return k, b.workers[k%n]
	}
	// Least connections, counting queued ones; ties go to the first Worker
	// at or after k mod N, so equal loads still rotate. Concurrent Acceptors
	// may read the same loads and pick the same Worker: the balance is
	// approximate, never unsafe.
	best := b.workers[k%n]
	bestLoad := best.load.Load()
	for i := uint64(1); i < n; i++ {
		w := b.workers[(k+i)%n]
		if l := w.load.Load(); l < bestLoad {
			best, bestLoad = w, l
		}
	}
	return k, best
}

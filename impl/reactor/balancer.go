package reactor

import "sync/atomic"

// balancer picks the Worker for each accepted connection. One balancer is
// shared by all Acceptors.
type balancer struct {
	kind    Balance
	workers []*worker
	// seq is the next global accept sequence number. Taking the number and,
	// for round-robin, the Worker from one atomic increment makes them one
	// step: with K Acceptors, connection k still goes to worker k mod N
	// (P2 round-robin), and the numbers stay dense 0, 1, 2, ...
	seq atomic.Uint64
}

// pick returns the connection's sequence number and its Worker.
func (b *balancer) pick() (uint64, *worker) {
	n := uint64(len(b.workers))
	if faultRacyRR {
		k := b.seq.Load()
		faultWindow()
		b.seq.Store(k + 1)
		return k, b.workers[k%n]
	}
	k := b.seq.Add(1) - 1
	if faultBalancerSkipsWorker && n > 1 && k >= n {
		return k, b.workers[(k+1)%n]
	}
	if b.kind != BalanceLeastConns {
		return k, b.workers[k%n]
	}
	// Least connections, counting queued ones; ties go to the first worker
	// at or after k mod N, so equal loads still rotate. Concurrent Acceptors
	// may read the same loads and pick the same worker: the balance is
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

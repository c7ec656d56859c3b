package linearizability

import (
	"slices"

	"github.com/anishathalye/porcupine"
)

// A twin is a recorded history with one seeded defect, the trace of a bug
// the check must refute. Each function returns a changed copy of h and
// leaves h as it is; ok is false when h is too small to seed the defect.

// byConn returns the indices of h's connects ordered by sequence number.
func byConn(h []porcupine.Operation) []int {
	idx := make([]int, len(h))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return int(h[a].Output.(Connect).Conn - h[b].Output.(Connect).Conn)
	})
	return idx
}

// SwappedWorker reports the middle connection as served by the Worker
// after the one that served it: one wrong answer of an n-Worker balancer.
func SwappedWorker(h []porcupine.Operation, n int) ([]porcupine.Operation, bool) {
	if n < 2 || len(h) == 0 {
		return nil, false
	}
	out := slices.Clone(h)
	i := byConn(h)[len(h)/2]
	o := out[i].Output.(Connect)
	o.Worker = (o.Worker + 1) % n
	out[i].Output = o
	return out, true
}

// SkippedWorker is what a balancer that skips a Worker once would have
// answered: from the middle connection k on, connection c goes to worker
// (c+1) mod n instead of c mod n. k is chosen so that the skipped Worker
// also ends up with one connection fewer than round-robin gives it.
func SkippedWorker(h []porcupine.Operation, n int) ([]porcupine.Operation, bool) {
	if n < 2 || len(h) < 2*n {
		return nil, false
	}
	k := len(h) / 2
	if k%n == len(h)%n {
		k++
	}
	out := slices.Clone(h)
	for _, i := range byConn(h)[k:] {
		o := out[i].Output.(Connect)
		o.Worker = int((o.Conn + 1) % int64(n))
		out[i].Output = o
	}
	return out, true
}

// RacyRR is what two Acceptors that read the shared counter at the same
// time (memcached's counter without its lock; model design bug-racy-rr)
// would have answered: of two overlapping connects from the middle of the
// history, the second is served by the first's Worker too.
func RacyRR(h []porcupine.Operation) ([]porcupine.Operation, bool) {
	idx := byConn(h)
	for _, i := range idx[len(idx)/2:] {
		for _, j := range idx[len(idx)/2:] {
			a, b := h[i], h[j]
			if i != j && a.Call <= b.Return && b.Call <= a.Return && a.Output.(Connect).Worker != b.Output.(Connect).Worker {
				out := slices.Clone(h)
				o := b.Output.(Connect)
				o.Worker = a.Output.(Connect).Worker
				out[j].Output = o
				return out, true
			}
		}
	}
	return nil, false
}

// dequeues returns the indices of Worker w's dequeues in h, in call order.
func dequeues(h []porcupine.Operation, w int) []int {
	var idx []int
	for i, op := range h {
		if in := op.Input.(QueueOp); !in.Enqueue && in.Worker == w {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return int(h[a].Call - h[b].Call) })
	return idx
}

// SwappedPops swaps the connections of two successive dequeues of Worker 0
// from the middle of its history: a Worker that registers out of dispatch
// order (P3 per-worker FIFO).
func SwappedPops(h []porcupine.Operation) ([]porcupine.Operation, bool) {
	idx := dequeues(h, 0)
	if len(idx) < 2 {
		return nil, false
	}
	i, j := idx[len(idx)/2-1], idx[len(idx)/2]
	out := slices.Clone(h)
	out[i].Output, out[j].Output = h[j].Output, h[i].Output
	return out, true
}

// PoppedTwice makes the middle dequeue of Worker 0 take the connection its
// previous dequeue took, as a pop without the queue's lock can (model
// design bug-unlocked-pop; P1 exactly-once).
func PoppedTwice(h []porcupine.Operation) ([]porcupine.Operation, bool) {
	idx := dequeues(h, 0)
	if len(idx) < 2 {
		return nil, false
	}
	i, j := idx[len(idx)/2-1], idx[len(idx)/2]
	out := slices.Clone(h)
	out[j].Output = h[i].Output
	return out, true
}

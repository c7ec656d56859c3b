//go:build faults

package reactor

import (
	"os"
	"time"
)

// Seeded faults, for showing that the verification layers catch real bugs
// in the reactor (make mutants, scripts/mutants.sh). Each is switched on by
// its name in the environment variable HANDOFF_FAULT, read once at start;
// at most one is on. The first six are the model's seeded bugs
// (model.Designs), the rest can only happen in an implementation.
var (
	fault = os.Getenv("HANDOFF_FAULT")

	// notify-before-push: the token is written before the push, so a
	// Worker can wake, find nothing, and leave the item stranded (P4).
	faultNotifyBeforePush = fault == "notify-before-push"
	// coalesced-clear-after-drain: the coalesced Worker clears its flag
	// after the drain finds the queue empty; a push in between writes no
	// token (P4).
	faultClearAfterDrain = fault == "coalesced-clear-after-drain"
	// drop-on-full-pipe: the pipe is taken to hold one token, the model's
	// smallest pipe (TIOCINQ tells how many bytes it holds), and a token
	// written while one is pending is dropped, as a non-blocking write that
	// ignores EAGAIN would drop it (P4).
	faultDropOnFullPipe = fault == "drop-on-full-pipe"
	// racy-rr: the shared counter is read and written back in two steps;
	// two Acceptors can take the same number and Worker (P1, P2).
	faultRacyRR = fault == "racy-rr"
	// unlocked-pop: the Worker pops without the queue's lock, reading the
	// head and writing it back in two steps; a concurrent push can be
	// undone (P1).
	faultUnlockedPop = fault == "unlocked-pop"
	// eventfd-pop-one: an eventfd read resets the count but the Worker pops
	// one connection (P4).
	faultEventfdPopOne = fault == "eventfd-pop-one"
	// fd-closed-before-onclose: close(2) runs before OnClose, so the fd may
	// already be another connection's when the handler sees it (P6).
	faultFdClosedBeforeOnClose = fault == "fd-closed-before-onclose"
	// balancer-skips-worker: from the second round on, connection k goes
	// to worker (k+1) mod N: worker 0 is skipped once (P2).
	faultBalancerSkipsWorker = fault == "balancer-skips-worker"
	// registered-twice: a connection is registered twice: the trace and
	// the handler see Register and OnOpen twice (P1).
	faultRegisteredTwice = fault == "registered-twice"
	// newest-first-pop: the Worker pops the newest item of its queue, not
	// the oldest. Every connection still reaches its one Worker, in the
	// round-robin's choice; only the order within a Worker breaks (P3).
	faultNewestFirstPop = fault == "newest-first-pop"
	// fd-leaked: a closed connection's fd is taken out of the epoll set but
	// never closed (P5).
	faultFdLeaked = fault == "fd-leaked"
	// queued-left-open: Shutdown forgets the fds still queued, never
	// registered: they stay open after Serve returns (P5, P7).
	faultQueuedLeftOpen = fault == "queued-left-open"
	// stale-task-runs: an AsyncWrite queued for a connection that has since
	// closed runs on whatever connection now holds its fd number (P6).
	faultStaleTaskRuns = fault == "stale-task-runs"
	// stale-event-delivered: an event is delivered to the connection on its
	// fd whatever the generation it was armed for (P6).
	faultStaleEventDelivered = fault == "stale-event-delivered"
)

// faultWindow widens the window between the two halves of a racy fault,
// so that the race a loaded server would hit now and then is hit in a test
// run of a few hundred connections.
func faultWindow() { time.Sleep(50 * time.Microsecond) }

// popUnlocked is pop without the queue's lock (unlocked-pop): it reads the
// queue, lets the window pass, then writes the shrunk queue back, so a push
// made in between is undone.
func (w *worker) popUnlocked() (item, bool) {
	q := &w.q
	n, head, ring := q.n, q.head, q.ring
	if n == 0 {
		return item{}, false
	}
	it := ring[head]
	faultWindow()
	q.head = (head + 1) & (len(ring) - 1)
	q.n = n - 1
	w.s.tracePop(w.id, it.seq)
	w.stats.queueLen.Store(int64(q.n))
	return it, true
}

// popNewestLocked is popLocked taking the newest item (newest-first-pop).
func (q *queue) popNewestLocked() (item, bool) {
	if q.n < 2 {
		return q.popLocked()
	}
	i := (q.head + q.n - 1) & (len(q.ring) - 1)
	it := q.ring[i]
	q.ring[i] = item{}
	q.n--
	return it, true
}

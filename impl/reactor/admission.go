package reactor

import (
	"sync/atomic"

	"github.com/handoffd/handoff/internal/kernel"
)

// admission is the server's gate: the count of connections admitted against
// MaxConns, whether the server has stopped admitting, and which Acceptors are
// paused on EMFILE, so that a Worker that closes a connection can kick them
// at once rather than leave them to their next 10 ms retry.
type admission struct {
	k   kernel.Kernel
	max int64
	// open counts admitted connections, queued or registered, not yet
	// closed. Invariant: 0 <= open <= max between admit calls, so the
	// queues hold at most max items together.
	open atomic.Int64
	// closed is set once, before the Acceptors are told to stop.
	closed atomic.Bool
	// paused[i] is true while Acceptor i's listeners are out of its poll
	// set; nPaused counts the true ones, so that a closing connection looks
	// no further when none is.
	paused  []atomic.Bool
	nPaused atomic.Int32
	// kicks[i] is Acceptor i's kick eventfd; set by New, immutable after.
	kicks []int
}

// admit takes a slot for a new connection, or reports that MaxConns are
// open.
func (a *admission) admit() bool {
	if a.open.Add(1) > a.max {
		a.open.Add(-1)
		return false
	}
	return true
}

// release is called by a Worker once a connection's fd is closed: the slot
// is free again, and a paused Acceptor may find an fd for its next accept
// now.
func (a *admission) release() {
	a.open.Add(-1)
	if a.nPaused.Load() > 0 && !a.closed.Load() {
		for i := range a.kicks {
			if a.paused[i].Load() {
				kernel.Kick(a.k, a.kicks[i])
			}
		}
	}
}

// pause records that Acceptor i took its listeners out (on) or put them
// back; it is called on each change only.
func (a *admission) pause(i int, on bool) {
	a.paused[i].Store(on)
	if on {
		a.nPaused.Add(1)
	} else {
		a.nPaused.Add(-1)
	}
}

// stop closes the gate for good: the Acceptors return at their next wake-up.
func (a *admission) stop() { a.closed.Store(true) }

// stopped reports whether stop was called.
func (a *admission) stopped() bool { return a.closed.Load() }

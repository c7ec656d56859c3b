package model

import (
	"slices"
	"sync"
)

// Trace records events in the order Record is called. It is safe for
// concurrent use, so Record can be a reactor's Config.Trace hook, which every
// Acceptor and Worker calls at each event's linearization point; that order
// is then a real order of the steps, and Events is what Replay takes.
type Trace struct {
	mu sync.Mutex
	// events is guarded by mu, in the order of the Record calls.
	events []Event
}

// NewTrace returns an empty Trace with room for n events, so that a run of
// known size records without growing its slice under the lock.
func NewTrace(n int) *Trace { return &Trace{events: make([]Event, 0, n)} }

// Record appends e.
func (t *Trace) Record(e Event) {
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
}

// Events returns a copy of the events recorded so far: a recording may go on
// while the caller replays what it has.
func (t *Trace) Events() []Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.events)
}

package reactortest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/handoffd/handoff/model"
)

// Tail keeps the last events of a server's trace, for the message of a test
// that failed: what the server did just before is most of a diagnosis. Set
// Config.Trace to its Record. It is safe for the concurrent calls every
// Worker and Acceptor makes.
type Tail struct {
	mu   sync.Mutex
	ring []model.Event // the last len(ring) events; next is the oldest once full
	next int
	seen int // events recorded in all
	// kinds counts every event recorded, kept or forgotten, by kind.
	kinds map[model.Kind]int
}

// NewTail returns a Tail that keeps the last n events.
func NewTail(n int) *Tail {
	return &Tail{ring: make([]model.Event, 0, n), kinds: map[model.Kind]int{}}
}

// Record appends e, forgetting the oldest event once n are kept.
func (t *Tail) Record(e model.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen++
	t.kinds[e.Kind]++
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, e)
		return
	}
	t.ring[t.next] = e
	t.next = (t.next + 1) % len(t.ring)
}

// Count returns how many events of kind k were recorded, kept or not.
func (t *Tail) Count(k model.Kind) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.kinds[k]
}

// String renders the kept events, oldest first, one per line.
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "last %d of %d trace events:\n", len(t.ring), t.seen)
	for i := range t.ring {
		fmt.Fprintf(&b, "  %v\n", t.ring[(t.next+i)%len(t.ring)])
	}
	return b.String()
}

// Fatalf fails the test with the message, every goroutine's stack and the
// trace's tail: the report of a lifecycle test whose wait ran out or whose
// check failed.
func (t *Tail) Fatalf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Fatalf("%s\n%s\n%s", fmt.Sprintf(format, args...), t, Stacks())
}

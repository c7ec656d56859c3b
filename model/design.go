package model

import "fmt"

// Channel is the kind of a Worker's notify channel.
type Channel uint8

const (
	// Pipe carries one byte per token. It holds at most Bounds.PipeCap bytes
	// (a write to a full pipe blocks, or fails with EAGAIN when non-blocking),
	// and a read takes up to 32 of them, as memcached's worker does.
	Pipe Channel = iota + 1
	// Eventfd is a counter: a write adds 1, a read returns the whole count and
	// resets it to 0. It never fills up within the model's bounds.
	Eventfd
	// Ring is the Worker's io_uring completion queue (CQ). The Acceptor's
	// IORING_OP_MSG_RING posts the connection itself into it as a
	// completion, so the Worker's queue and its notify channel are one
	// FIFO, and the Worker's wait in io_uring_enter returns once it is not
	// empty. The CQ holds Bounds.PipeCap completions; while it is full the
	// kernel holds up to Bounds.Overflow more back in its overflow list
	// (IORING_FEAT_NODROP), in order, and moves them into the CQ when the
	// Worker next enters the kernel; beyond that the MSG_RING fails with
	// EOVERFLOW and nothing is posted.
	Ring
)

// pipeRead is the most tokens one read of a pipe returns (memcached reads
// into a 32-byte buffer).
const pipeRead = 32

// Design is one variant of the hand-off protocol: a way for the Acceptor to
// dispatch a connection and for the Worker to pick it up. The correct designs
// must satisfy P1–P4 on every interleaving; each seeded bug must be refuted
// by the explorer with a counterexample that violates Expect.
type Design struct {
	// Name is the design's name as used by modelcheck -variant and by Replay.
	Name string
	// Expect is the property the explorer must report violated, or "" for a
	// correct design.
	Expect Property
	// Summary says in one line what the design does.
	Summary string
	// Channel is the notify channel's kind.
	Channel Channel

	// coalesced: a token only when the Worker's wake-up flag flips 0→1.
	coalesced bool
	// drain: the Worker pops until its queue is empty after every wake-up,
	// instead of one pop per token read.
	drain bool
	// popOne: one pop per read, however many tokens the read returned.
	popOne bool
	// notifyBeforePush: the token is written before the push.
	notifyBeforePush bool
	// clearAfterDrain: the coalesced Worker clears its flag after draining.
	clearAfterDrain bool
	// dropOnFull: a token written to a full pipe is lost (EAGAIN ignored).
	dropOnFull bool
	// racyRR: the shared counter that gives the number and the Worker is
	// read and written back in two steps.
	racyRR bool
	// unlockedQueue: push and pop read and write the queue without its lock.
	unlockedQueue bool
	// ignoreFailedPost: msgring, but a MSG_RING that failed is taken as
	// done and its fd forgotten.
	ignoreFailedPost bool
	// noRearm: msgring, but a multishot accept the kernel ended is not
	// submitted again.
	noRearm bool
	// acceptors is the design's default number of Acceptors.
	acceptors int
}

// Correct reports whether d is one of the correct designs.
func (d Design) Correct() bool { return d.Expect == "" }

// ExpectText is d's expected outcome as the command line prints it.
func (d Design) ExpectText() string {
	if d.Correct() {
		return "holds"
	}
	return string(d.Expect) + " violated"
}

var designs = []Design{
	{Name: "memcached", Channel: Pipe, acceptors: 1,
		Summary: "pipe, a token per connection, read <= 32, one pop per token"},
	{Name: "eventfd", Channel: Eventfd, acceptors: 1,
		Summary: "eventfd counter, a read returns and resets it, pop that many"},
	{Name: "drain", Channel: Pipe, drain: true, acceptors: 1,
		Summary: "pipe, a token per connection, read the tokens then pop until empty"},
	{Name: "coalesced", Channel: Pipe, coalesced: true, drain: true, acceptors: 1,
		Summary: "token only when the flag flips 0->1; the worker clears the flag, drains, re-checks"},
	{Name: "msgring", Channel: Ring, drain: true, acceptors: 1,
		Summary: "io_uring: MSG_RING posts the fd into the worker's CQ, queue and token in one; a failed post is retried, an ended multishot accept re-armed"},
	{Name: "bug-notify-before-push", Expect: P4, Channel: Pipe, notifyBeforePush: true, acceptors: 1,
		Summary: "memcached, but the token is written before the push"},
	{Name: "bug-coalesced-clear-after-drain", Expect: P4, Channel: Pipe, coalesced: true, drain: true, clearAfterDrain: true, acceptors: 1,
		Summary: "coalesced, but the worker clears its flag after draining"},
	{Name: "bug-drop-on-full-pipe", Expect: P4, Channel: Pipe, dropOnFull: true, acceptors: 1,
		Summary: "memcached, but EAGAIN on a full pipe is ignored and the token lost"},
	{Name: "bug-racy-rr", Expect: P2, Channel: Pipe, racyRR: true, acceptors: 2,
		Summary: "memcached with two acceptors; the shared counter (number and worker) is read and written back in separate steps"},
	{Name: "bug-unlocked-pop", Expect: P1, Channel: Pipe, unlockedQueue: true, acceptors: 1,
		Summary: "memcached, but push and pop read and write a slice-backed queue without the lock"},
	{Name: "bug-eventfd-pop-one", Expect: P4, Channel: Eventfd, popOne: true, acceptors: 1,
		Summary: "eventfd, but the worker pops one connection per read"},
	{Name: "bug-msgring-ignore-full", Expect: P1, Channel: Ring, drain: true, ignoreFailedPost: true, acceptors: 1,
		Summary: "msgring, but a MSG_RING that fails on a full CQ (EOVERFLOW) is ignored and its fd forgotten"},
	{Name: "bug-multishot-not-rearmed", Expect: P4, Channel: Ring, drain: true, noRearm: true, acceptors: 1,
		Summary: "msgring, but a multishot accept that the kernel ends is not submitted again"},
}

// Designs returns every design, the correct ones first, in a fixed order.
func Designs() []Design { return append([]Design(nil), designs...) }

// LookupDesign returns the design called name.
func LookupDesign(name string) (Design, bool) {
	for _, d := range designs {
		if d.Name == name {
			return d, true
		}
	}
	return Design{}, false
}

// DesignOf returns the design a reactor implements with the given notify
// channel ("pipe" or "eventfd") and wake-up policy ("per-conn" or
// "coalesced"), the reactor's Config.Notify and Config.Wakeup: pipe with
// per-conn wake-ups is "memcached", eventfd with per-conn is "eventfd", and
// either channel with coalesced wake-ups is "coalesced", whose Worker drains
// its whole queue per wake-up and so reads any number of tokens alike.
// The io_uring backend, whose MSG_RING is the notify channel and the queue
// at once, is notify "msgring", with any wake-up: "msgring". This
// is the one place the mapping is written; replay, the fuzz targets and the
// spec's map all go through it.
func DesignOf(notify, wakeup string) (Design, error) {
	name := ""
	switch {
	case notify == "msgring":
		name = "msgring"
	case notify != "pipe" && notify != "eventfd":
	case wakeup == "coalesced":
		name = "coalesced"
	case wakeup != "per-conn":
	case notify == "eventfd":
		name = "eventfd"
	default:
		name = "memcached"
	}
	d, ok := LookupDesign(name)
	if !ok {
		return Design{}, fmt.Errorf("model: no design for notify %q with wake-up %q", notify, wakeup)
	}
	return d, nil
}

// Bounds limit the system the explorer enumerates.
type Bounds struct {
	// Workers is the number of Workers. Invariant: 1 <= Workers <= 64.
	Workers int
	// Conns is the number of connections the Acceptors accept in all; 0 or
	// less means no limit (Replay only). Invariant: Conns <= 64 for Explore.
	Conns int
	// Acceptors is the number of Acceptors sharing the sequence counter.
	// Invariant: 1 <= Acceptors <= 16.
	Acceptors int
	// PipeCap is the most tokens a pipe holds, or the most completions a
	// Worker's CQ holds (Ring); ignored for an eventfd. Invariant:
	// PipeCap >= 1.
	PipeCap int
	// Overflow is the most completions the kernel holds back in a Worker's
	// overflow list while its CQ is full (Ring only); 0 is a kernel without
	// IORING_FEAT_NODROP, or one that cannot allocate the entry: a post to a
	// full CQ fails. Invariant: 0 <= Overflow <= 64.
	Overflow int
}

// DefaultBounds are the bounds modelcheck -table checks d at. A correct
// design is checked at the widest system that keeps `make model` within
// seconds: three workers (so P2 is checked mod 3), two acceptors sharing the
// counter, a pipe that fills. A seeded bug is checked at the smallest system
// in which it shows (two conns reach worker 0, whose pipe holds one token),
// so that its counterexample stays short to read.
//
// msgring is checked where its CQ fills: two workers, so that worker 0
// gets three of the five connections, a CQ of one completion and an
// overflow list of one, so that a post lands in the CQ, one is held back
// and one fails.
func (d Design) DefaultBounds() Bounds {
	switch {
	case d.Correct() && d.Channel == Ring:
		return Bounds{Workers: 2, Conns: 5, Acceptors: 2, PipeCap: 1, Overflow: 1}
	case d.Correct():
		return Bounds{Workers: 3, Conns: 5, Acceptors: 2, PipeCap: 2}
	}
	return Bounds{Workers: 2, Conns: 3, Acceptors: d.acceptors, PipeCap: 1}
}

// String renders b as modelcheck prints it; overflow is left out when it
// is 0, as it is for every design but the Ring's.
func (b Bounds) String() string {
	s := fmt.Sprintf("workers=%d conns=%d acceptors=%d pipecap=%d", b.Workers, b.Conns, b.Acceptors, b.PipeCap)
	if b.Overflow > 0 {
		s += fmt.Sprintf(" overflow=%d", b.Overflow)
	}
	return s
}

func (b Bounds) validate(explore bool) error {
	switch {
	case b.Workers < 1 || b.Workers > 64:
		return fmt.Errorf("model: workers=%d, want 1..64", b.Workers)
	case b.Acceptors < 1 || b.Acceptors > 16:
		return fmt.Errorf("model: acceptors=%d, want 1..16", b.Acceptors)
	case b.PipeCap < 1:
		return fmt.Errorf("model: pipecap=%d, want >= 1", b.PipeCap)
	case b.Overflow < 0 || b.Overflow > 64:
		return fmt.Errorf("model: overflow=%d, want 0..64", b.Overflow)
	case explore && (b.Conns < 1 || b.Conns > 64):
		return fmt.Errorf("model: conns=%d, want 1..64", b.Conns)
	}
	return nil
}

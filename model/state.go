package model

// APC is an Acceptor's program counter: the next action it will take.
type APC uint8

const (
	// AIdle: waiting in accept; holds no fd.
	AIdle APC = iota
	// AHold: holds a freshly accepted fd with its number and Worker; next
	// it dispatches it (or, in bug-notify-before-push, notifies first).
	AHold
	// APicked: bug-racy-rr only; holds a freshly accepted fd, has read the
	// shared counter into Acceptor.Conn and has not yet written it back.
	APicked
	// APushRead: bug-unlocked-pop only; has read the target queue into
	// Acceptor.Stale and has not yet written the grown queue back.
	APushRead
	// ANotify: pushed; next it writes the token (or, coalesced, tests the flag).
	ANotify
	// APush: bug-notify-before-push only; notified, next it pushes.
	APush
	// AReserved: Replay only; has taken Acceptor.Conn and its Worker from
	// the shared counter and has not yet emitted its Accept. The reactor
	// emits Accept just after balancer.pick, so another Acceptor's Accept
	// may come in between; its next event must be this Accept.
	AReserved
	// AFlipped: coalesced only; its compare-and-swap flipped the Worker's
	// flag 0→1, and next it writes the token (Notify). The reactor's CAS and
	// its write are two actions, so other Acceptors may find the flag set
	// (no token) before this Acceptor's Notify event.
	AFlipped
)

var apcNames = [...]string{AIdle: "idle", AHold: "holding", APicked: "picked", APushRead: "pushing", ANotify: "notifying", APush: "pushing", AReserved: "reserved", AFlipped: "flipped"}

// WPC is a Worker's program counter.
type WPC uint8

const (
	// WIdle: blocked in epoll_wait on its notify channel.
	WIdle WPC = iota
	// WPop: per-token designs; Worker.Pending tokens are left, each worth one pop.
	WPop
	// WPopRead: bug-unlocked-pop only; has read the queue into Worker.Stale
	// and has not yet written the shrunk queue back.
	WPopRead
	// WRegister: holds Worker.Conn, popped and not yet registered with epoll.
	WRegister
	// WClear: coalesced; woken, has not yet cleared its wake-up flag.
	WClear
	// WCheck: draining designs; about to lock the queue and pop, or find it
	// empty and go back to epoll_wait.
	WCheck
	// WClearAfter: bug-coalesced-clear-after-drain only; found the queue
	// empty and has not yet cleared its flag.
	WClearAfter
)

var wpcNames = [...]string{WIdle: "idle", WPop: "popping", WPopRead: "popping", WRegister: "registering",
	WClear: "clearing flag", WCheck: "draining", WClearAfter: "clearing flag"}

// State is one state of the whole system. A State is a value: a step never
// changes the slices of the State it starts from (queues are replaced, not
// appended to in place), so states may share them.
type State struct {
	// Acceptors, one per acceptor thread.
	Acceptors []Acceptor
	// Seq is the counter shared by all Acceptors (the reactor's
	// balancer.seq): the sequence number the next Accept takes, and with it
	// the Worker Seq mod len(Workers). Invariant, correct designs in
	// exploration: Seq == Next; in Replay, Seq is 1 + the highest number
	// taken, Accept emitted or not.
	Seq int64
	// Next is the number of Accepts so far. In exploration the connection
	// accepted k-th is Conns[k], and P2 wants it numbered k.
	Next int64
	// Workers, one per worker thread.
	Workers []Worker
	// Conns is the explorer's history of each connection, indexed by its
	// sequence number; nil in Replay, which checks history on the side.
	// Invariant (exploration): len(Conns) == Next.
	Conns []ConnGhost
}

// Acceptor is one acceptor thread.
type Acceptor struct {
	PC APC
	// Conn is the fd in hand, by sequence number. Invariant: Conn >= 0 iff PC != AIdle.
	Conn int64
	// Worker is the Worker picked for Conn (Conn mod the number of
	// Workers), -1 when idle.
	Worker int
	// Stale is the copy of the target queue read by an unlocked push
	// (APushRead); nil otherwise.
	Stale []int64
	// Disarmed: msgring only; the kernel ended its multishot accept (a
	// completion without IORING_CQE_F_MORE: EMFILE, ENFILE, its own CQ
	// full) and it has not submitted it again, so no Accept completes.
	// Invariant: Disarmed only when PC == AIdle.
	Disarmed bool
	// Ends counts the times the kernel ended its multishot accept.
	// Invariant: Ends <= maxEnds.
	Ends int
	// Posting is msgring's submission ring: the connections whose
	// MSG_RING the Acceptor submitted (Dispatch) and the kernel has not yet
	// posted, oldest first; the kernel posts them in that order, each into
	// its Worker's CQ (c mod N). Retry holds those whose post failed with
	// EOVERFLOW: the fd is still the Acceptor's, to submit again. Both are
	// replaced, not appended to in place.
	Posting, Retry []int64
}

// Worker is one worker thread with its queue and notify channel.
type Worker struct {
	PC WPC
	// Queue holds the connections dispatched and not yet popped, oldest first.
	Queue []int64
	// Tokens is the number of tokens pending in the notify channel.
	// Invariant: Tokens <= Bounds.PipeCap for a pipe.
	Tokens int
	// Flag is the coalesced designs' wake-up flag: set by the Acceptor whose
	// compare-and-swap flips it 0→1 (that Acceptor then writes the token),
	// cleared by the Worker.
	Flag bool
	// Pending is the number of tokens read and not yet spent on a pop.
	// Invariant: Pending > 0 iff PC is WPop, WPopRead or (per-token) WRegister.
	Pending int
	// Conn is the connection popped and not yet registered, -1 if none.
	Conn int64
	// Stale is the copy of the queue read by an unlocked pop (WPopRead).
	Stale []int64
	// CQ is msgring's count of Queue's oldest completions that are in the
	// Worker's CQ, where it reaps them; the rest of Queue is held back in
	// the kernel's overflow list until the Worker next enters the kernel.
	// Invariant: CQ <= min(len(Queue), Bounds.PipeCap), and CQ < len(Queue)
	// only while the overflow list is not empty. 0 for the other designs.
	CQ int
	// MayIdle is Replay's record that this WCheck Worker found its queue
	// empty since it reached WCheck, so it may be back in epoll_wait. The
	// explorer takes that step explicitly and never sets MayIdle.
	MayIdle bool
	// Registered counts the connections it registered.
	Registered int
	// Dispatched counts the connections dispatched to it.
	Dispatched int
	// LastOrd is 1 + the dispatch position (ConnGhost.Ord) of the connection
	// it registered last, 0 before the first; P3 wants it to grow.
	LastOrd int
}

// ConnGhost is the explorer's record of one connection, used only to check
// the properties.
type ConnGhost struct {
	// Worker it was dispatched to, -1 before Dispatch.
	Worker int
	// Ord is its position among the dispatches to Worker (0 for the first).
	Ord int
	// Handed counts the pops that took it; P1 wants at most 1.
	Handed int
	// HandedTo is the Worker of the first pop, -1 before it.
	HandedTo int
	// Registered is set by Register.
	Registered bool
}

// clone returns a copy of s whose top-level slices may be changed without
// touching s. Queues and stale copies stay shared: steps replace them.
func (s *State) clone() State {
	n := State{Seq: s.Seq, Next: s.Next}
	n.Acceptors = append([]Acceptor(nil), s.Acceptors...)
	n.Workers = append([]Worker(nil), s.Workers...)
	if s.Conns != nil {
		n.Conns = append(make([]ConnGhost, 0, len(s.Conns)+1), s.Conns...)
	}
	return n
}

// pushed returns q with c appended, in a new array.
func pushed(q []int64, c int64) []int64 {
	n := make([]int64, len(q)+1)
	copy(n, q)
	n[len(q)] = c
	return n
}

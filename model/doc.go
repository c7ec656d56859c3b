// Package model is handoff's connection hand-off as a pure state machine:
// the Acceptors, the shared sequence counter, each Worker's queue, notify channel
// and wake-up flag, and what each Worker registered. Nothing here makes a
// system call, reads the clock or touches the network (TestPure refuses an
// import of syscall, golang.org/x/sys, net, os, time or unsafe), so that a
// run is a function of its steps alone: inputs are steps, results are values.
//
// It checks the properties P1 exactly-once, P2 round-robin, P3 per-worker
// FIFO and P4 no lost wake-up on every interleaving, within bounds; and,
// in a second machine composed with the hand-off (LifeMachine), what a
// Worker does with a connection after Register, with P5 no fd leak, P6
// close before reuse, P7 clean shutdown, P8 no lost task, P9 output
// integrity and P10 input integrity. spec/SPEC.md states them and argues
// why they hold, and spec/dispatch.pml is the same two systems for spin.
//
// # Steps
//
// A Machine's step function lists the steps enabled in a State. Steps carry
// the trace vocabulary's names (Kind) and are cut where the implementation's
// actions are atomic: Accept (take the sequence number and, with it, the
// Worker, number mod N, from the counter all Acceptors share) is one step, as
// the reactor's balancer.pick is one atomic add; Dispatch (push onto that
// Worker's queue under its lock) is one, so with several Acceptors pushes may
// land out of number order; a pipe or eventfd write (Notify) is one, a read
// of the channel (Wake) is one, a pop under the lock (Pop) is one. Actions
// the implementation does not trace are hidden steps (Step.Part): the halves
// of a racy or unlocked read-then-write but the one that emits the event, a
// pop that finds the queue empty, a coalesced Acceptor's compare-and-swap of
// the flag (it flips it 0→1, and its token write is the Notify, a step of
// its own; or it finds the flag already set and writes nothing), a Worker
// clearing its flag.
//
// # Designs
//
// Five designs are correct: memcached (a pipe, a token per connection, a
// read of up to 32 tokens, one pop per token), eventfd (a counter that a read
// returns and resets, one pop per token), drain (read the tokens, then pop
// until empty), coalesced (a token only when the flag flips 0→1; the
// Worker clears the flag, drains, re-checks) and msgring (io_uring: the
// Acceptor's MSG_RING posts the connection into the Worker's completion
// queue, which is its queue and its notify channel at once; the kernel
// holds completions back in an overflow list while the CQ is full, a
// MSG_RING it cannot post fails and is retried, and a multishot accept the
// kernel ends is re-armed). Eight are seeded bugs, each of which the
// explorer must refute: bug-notify-before-push,
// bug-coalesced-clear-after-drain, bug-drop-on-full-pipe, bug-racy-rr,
// bug-unlocked-pop, bug-eventfd-pop-one, bug-msgring-ignore-full,
// bug-multishot-not-rearmed. Designs lists them.
//
// # A connection's life
//
// LifeDesigns lists the lifecycle's designs: "life", the reactor's, and
// eleven seeded bugs. A LifeState is the kernel's fd table (the lowest free
// number given first), peers that connect, send, quit, half-close, reset
// and read slowly, the Acceptor (MaxConns, EMFILE), the Worker (epoll_wait's
// level-triggered batch, the notify channel, the task list with its pending
// flag and kick, a connection's flush, read, OnData, settle, MOD, OnClose
// and close(2), the idle timeout, shutdown), the other goroutine that calls
// AsyncWrite and Wake through handles that may be stale, and Shutdown.
// Bytes are units, counted in order; the handler is memcached's (a request
// at a time, stopping while output is pending). ExploreLife searches it as
// Explore does the hand-off; Replay holds a reactor's lifecycle events to
// the same rules (ReplayWith).
//
// # Explorer
//
// Explore enumerates every state breadth-first, keyed by a compact encoding
// (State.Key), and returns the first violation with one of the shortest
// counterexamples; cmd/modelcheck is its command line. P1–P3 are checked at
// every step, P4 (and P1's "never none") in every state where no step is
// enabled.
//
// # Replay
//
// Replay feeds a trace recorded from impl/reactor through a design's step
// function and returns the first event the model refuses. The reactor emits
// Accept just after its pick, so with several Acceptors Accepts may come out
// of number order; Replay takes each pick only when an Accept needs it.
// DesignOf maps the reactor's notify × wake-up combinations onto designs.
// CheckTrace checks P1–P3 on a whole recorded trace directly, for the
// layers that want the property named rather than the refused step.
package model

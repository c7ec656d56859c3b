package model

// A LifeState is a value: its slices are fixed arrays, so that a step copies
// the state with one assignment and never shares memory with the state it
// came from. Counts are int8 (every bound is far below 127); an index that
// may be absent is -1. Fd numbers are 1-based: number i is Fds[i-1]; the
// numbers below them, the process's own fds, are not modelled.
type LifeState struct {
	// Fds is the kernel's fd table: Fds[i] is 1 + the peer whose socket
	// fd number i+1 names, 0 when the number is free.
	Fds [lifeMaxFds]int8
	// Peers, in the order they connect.
	Peers [lifeMaxConns]LifePeer
	// Connected counts the peers that connected; Taken counts those
	// accept4 returned, in the same order (the backlog is the difference).
	Connected, Taken int8

	// Acceptor is the one Acceptor.
	Acceptor LifeAcceptor
	// Open counts the connections admitted and not yet released (MaxConns).
	Open int8
	// NConns is the number of connections numbered so far (Accept).
	NConns int8
	// Conns, by sequence number. Invariant: only Conns[:NConns] are used.
	Conns [lifeMaxConns]LifeConn
	// Queue holds the connections dispatched and not yet popped, oldest
	// first, QLen of them; Tokens are the notify pipe's (memcached design).
	Queue        [lifeMaxConns]int8
	QLen, Tokens int8

	// Worker is the one Worker; Gen is its registration counter (the
	// reactor's worker.gen): the last generation given.
	Worker LifeWorker
	Gen    int8

	// The task list (the reactor's taskList), guarded by its lock: List
	// holds NList tasks; Pending is set while a kick is unread; Closed is
	// set by the stopping Worker. Kicked is the task eventfd's counter
	// (non-zero or not). Locked: the other goroutine holds the lock
	// between its Submit and its Kick.
	List                            [lifeMaxTasks]LifeTask
	NList                           int8
	Pending, Closed, Kicked, Locked bool
	// Async is the other goroutine that calls AsyncWrite and Wake; Made
	// counts its calls.
	Async LifeAsync
	Made  int8
	// Fate is each call's outcome, by call number: what P8 checks.
	Fate [lifeMaxTasks]TaskFate

	// Server is the goroutine that runs Shutdown. Stopped is the admission
	// gate's stop (the Acceptors return at their next wake-up); StopFlag
	// is the Worker's (it shuts down after its current batch).
	Server            ServerPC
	Stopped, StopFlag bool
}

// LifePeer is one client and the kernel's side of its socket.
type LifePeer struct {
	Phase PeerPhase
	// Sent counts the units sent; Quit: the last one is a request to close.
	Sent int8
	Quit bool
	// Fin: the peer half-closed; Rst: it reset the connection.
	Fin, Rst bool
	// Rx is what the server has not read of what it sent; Tx is what the
	// peer has not read of the server's send buffer; Got is what the peer
	// received.
	Rx, Tx, Got int8
	// Closed: the server closed its socket (the peer reads Tx, then EOF);
	// Killed: the server's kernel reset it at that close, because input was
	// left unread, and Tx was lost.
	Closed, Killed bool
	// Conn is the connection number the peer was given, -1 before Accept
	// or if it was rejected at MaxConns.
	Conn int8
}

// PeerPhase is where a peer is.
type PeerPhase uint8

const (
	// PeerAway: not connected yet.
	PeerAway PeerPhase = iota
	// PeerBacklog: connected, in the listener's backlog.
	PeerBacklog
	// PeerAccepted: accept4 returned its socket.
	PeerAccepted
)

// LifeAcceptor is the Acceptor's state.
type LifeAcceptor struct {
	PC LAPC
	// Paused: EMFILE took the listeners out of its poll set.
	Paused bool
}

// LAPC is the lifecycle Acceptor's program counter. Its hand-off (Accept,
// Dispatch, Notify) is one step here: Explore checks every interleaving of
// those three steps with the Worker's Wake, Pop and Register, and nothing
// in a connection's later life depends on them but the order they keep.
type LAPC uint8

const (
	// AccRun: accepting, or in epoll_wait on its listeners.
	AccRun LAPC = iota
	// AccExit: returned (the server is stopping).
	AccExit
)

// LifeConn is one numbered connection: the reactor's Conn and what the
// model keeps beside it to check the properties.
type LifeConn struct {
	Phase ConnPhase
	// Peer is the peer it serves; Fd its number; Gen its generation, 0
	// until Register.
	Peer, Fd, Gen int8
	// ReadOn and WriteOn are its interest in the poll set (In, Out).
	ReadOn, WriteOn bool
	// Closing: the handler called Close; RdClosed: the peer's EOF was read;
	// Err: the failure that will close it at once (CauseNone if none).
	Closing, RdClosed bool
	Err               Cause
	// Held is the input OnData left (c.in); Out the output not yet sent
	// (c.out).
	Held, Out int8

	// Ghosts: units read, consumed and written in all; OnClose calls; the
	// cause it was finalized for; whether close(2) was called on it;
	// whether output it was given was discarded (P9).
	Recv, Used, Wrote int8
	OnClose           int8
	Why               Cause
	FdClosed, Lost    bool
	// Shown: OnData was offered every unit received after the peer's EOF
	// was read, so what it left is what it declined (an incomplete
	// request), not input the Worker dropped.
	Shown bool
}

// ConnPhase is where a connection is in its life.
type ConnPhase uint8

const (
	// ConnQueued: accepted, numbered and in the Worker's queue.
	ConnQueued ConnPhase = iota
	// ConnPopped: the Worker popped it and is registering it.
	ConnPopped
	// ConnOpen: registered (OnOpen ran).
	ConnOpen
	// ConnClosed: finalize began (the reactor's closed and gone): OnClose
	// has run or is running.
	ConnClosed
	// ConnDropped: its fd was closed without OnClose (ADD failed, or still
	// queued at shutdown).
	ConnDropped
)

// LifeTask is one task of the list: an AsyncWrite of one unit, or a Wake,
// for the connection Conn of generation Gen. ID is the call's number.
type LifeTask struct {
	ID, Conn, Gen int8
	Wake          bool
}

// TaskFate is what became of one AsyncWrite or Wake call.
type TaskFate uint8

const (
	// TaskNone: not made yet.
	TaskNone TaskFate = iota
	// TaskRefused: the call returned ErrClosed.
	TaskRefused
	// TaskListed: the call returned nil; the task is in the list or taken.
	TaskListed
	// TaskRan: the Worker ran it on its connection.
	TaskRan
	// TaskDropped: the Worker dropped it, its connection closed.
	TaskDropped
)

// LifeAsync is the other goroutine's program counter and the call it is
// making.
type LifeAsync struct {
	PC LTPC
	// Conn and Gen are the handle it calls through; Wake tells a Wake from
	// an AsyncWrite.
	Conn, Gen int8
	Wake      bool
}

// LTPC is the other goroutine's program counter.
type LTPC uint8

const (
	// AsyncIdle: between calls.
	AsyncIdle LTPC = iota
	// AsyncCheck: in AsyncWrite or Wake, about to test the handle's gone flag.
	AsyncCheck
	// AsyncSubmit: in owner.addTask, about to take the list's lock.
	AsyncSubmit
	// AsyncKick: holds the lock, set pending, about to write the eventfd.
	AsyncKick
)

// ServerPC is the Shutdown goroutine's program counter.
type ServerPC uint8

const (
	// ServerServing: Shutdown not called (yet).
	ServerServing ServerPC = iota
	// ServerJoinAcceptors: stop began; waiting for the Acceptor to return.
	ServerJoinAcceptors
	// ServerJoinWorkers: the Workers were told to stop; waiting for them.
	ServerJoinWorkers
	// ServerDone: Serve returned, and Shutdown with it.
	ServerDone
)

// LifeWorker is the Worker's program counter and the batch and connection
// it is working on.
type LifeWorker struct {
	PC LWPC
	// Batch is what the last epoll_wait returned and the Worker has not
	// handled yet, NBatch events of it.
	Batch  [lifeMaxFds + 2]LifeEvent
	NBatch int8
	// Ev is the event being handled.
	Ev LifeEvent
	// Ctx is what the Worker returns to once it is done with Conn.
	Ctx LifeCtx
	// Conn is the connection being worked on, -1 if none.
	Conn int8
	// Tokens are the notify tokens read and not yet spent on a pop.
	Tokens int8
	// Fresh is what the last read returned, not yet offered; After is
	// where the Worker goes once OnData returns; Mark is the input held
	// before the half-close loop's last offer.
	Fresh int8
	After LWPC
	Mark  int8
	// Why is the cause finalize was called with.
	Why Cause
	// Taken are the tasks taken from the list, NTaken of them, Next the
	// next to run.
	Taken        [lifeMaxTasks]LifeTask
	NTaken, Next int8
	// Shut: the Worker is shutting down.
	Shut bool
}

// LifeEvent is one event of a batch: the notify channel, the task
// eventfd, or a connection's fd with the generation it was armed with and
// what was reported.
type LifeEvent struct {
	Src      EventSrc
	Fd, Gen  int8
	In, Out  bool
	ErrOrHup bool
}

// EventSrc is what a batch event is about.
type EventSrc uint8

const (
	// SrcNotify: the notify pipe is readable.
	SrcNotify EventSrc = iota + 1
	// SrcTasks: the task eventfd is readable.
	SrcTasks
	// SrcConn: a connection's fd.
	SrcConn
)

// LifeCtx is what a Worker goes back to once it is done with a connection.
type LifeCtx uint8

const (
	// CtxEvent: the next event of the batch.
	CtxEvent LifeCtx = iota
	// CtxTask: the next task taken.
	CtxTask
	// CtxIdle: epoll_wait, after an idle close.
	CtxIdle
	// CtxShutdown: the next connection to close at shutdown.
	CtxShutdown
)

// LWPC is the lifecycle Worker's program counter.
type LWPC uint8

const (
	// WPoll: about to call epoll_wait (or to close an idle connection).
	WPoll LWPC = iota
	// WNext: about to take the next event of the batch, or end the batch.
	WNext
	// WWake: reading the notify pipe (Wake).
	WWake
	// WPopNext: a token left to spend: pop (Pop).
	WPopNext
	// WAdd: popped Conn, about to add it to the poll set (Register).
	WAdd
	// WReset: reading the task eventfd (to reset it).
	WReset
	// WSwap: taking the task list under its lock (Tasks).
	WSwap
	// WRun: about to run (or drop) the next task taken.
	WRun
	// WClearPending: bug-task-clear-after-run only: clearing the pending
	// flag after the tasks ran.
	WClearPending
	// WReady: about to check Ev's generation and deliver it (Ready).
	WReady
	// WFlush: onConnEvent: flushing Conn's output (Send).
	WFlush
	// WRead: onConnEvent: reading Conn (Read), if it may.
	WRead
	// WDeliver: offering Conn's held and fresh input to OnData (Data).
	WDeliver
	// WSettle: bringing Conn's interest in line, or finalizing it.
	WSettle
	// WSettleLoop: the half-close loop's check after an offer.
	WSettleLoop
	// WMod: epoll_ctl MOD of Conn's interest.
	WMod
	// WOnClose: finalize: OnClose (bug-close-before-onclose: after close).
	WOnClose
	// WClose: finalize: close(2) (Close).
	WClose
	// WShutQueue: shutdown: closing the fds still queued (Drop).
	WShutQueue
	// WShutTasks: shutdown: closing the task list and taking it (Tasks).
	WShutTasks
	// WShutConn: shutdown: the next connection to flush once and finalize.
	WShutConn
	// WShutFlush: shutdown: the one attempt to flush Conn.
	WShutFlush
	// WExit: returned.
	WExit
)

// freeFd returns the lowest free fd number (1-based), 0 if none.
func (s *LifeState) freeFd(fds int) int8 {
	for i := range fds {
		if s.Fds[i] == 0 {
			return int8(i + 1)
		}
	}
	return 0
}

// onFd returns the registered connection whose fd is n, -1 if none (the
// Worker's conns map).
func (s *LifeState) onFd(n int8) int8 {
	for i := range s.NConns {
		if c := &s.Conns[i]; c.Phase == ConnOpen && c.Fd == n {
			return i
		}
	}
	return -1
}

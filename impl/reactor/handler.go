package reactor

import (
	"log/slog"
	"time"

	"github.com/handoffd/handoff/model"
)

// Handler receives a connection's events. Every call for one connection is
// made on the goroutine of the worker that registered it, never two at once,
// so a handler needs no lock for per-connection state.
type Handler interface {
	// OnOpen runs once, right after the worker registered the connection.
	OnOpen(c *Conn)
	// OnData is offered every byte the connection has received and not yet
	// consumed, and returns how many of them it consumed (0 <= n <= len(in)).
	// The rest is offered again, followed by the next bytes read. in is only
	// valid during the call: it may point into the worker's shared read buffer.
	//
	// While c's output buffer is over Config.MaxOutput the worker stops reading
	// the connection; a handler that wants to stop producing before that
	// returns early and is offered the rest again once the output drains.
	//
	// in is empty only on a call that Conn.Wake asked for while no input
	// was held; such a call must return 0.
	OnData(c *Conn, in []byte) (consumed int)
	// OnClose runs exactly once, before the fd is closed (P6 close before
	// reuse); err is nil for a clean close by either side.
	OnClose(c *Conn, err error)
}

// Notify selects how the Acceptor wakes a Worker.
type Notify string

const (
	// NotifyPipe writes one byte per token to a pipe; the worker reads up to
	// 32 bytes at a time, as memcached does.
	NotifyPipe Notify = "pipe"
	// NotifyEventfd adds 1 to an eventfd counter; a read returns and resets it.
	NotifyEventfd Notify = "eventfd"
)

// Wakeup selects when the Acceptor writes a token.
type Wakeup string

const (
	// WakeupPerConn writes a token for every dispatched connection (memcached).
	WakeupPerConn Wakeup = "per-conn"
	// WakeupCoalesced writes a token only when the worker's wake-up flag flips
	// 0→1; the worker clears the flag, drains its queue, then re-checks it.
	WakeupCoalesced Wakeup = "coalesced"
)

// Balance selects the Worker a new connection is dispatched to.
type Balance string

const (
	// BalanceRoundRobin sends the k-th accepted connection to worker k mod N
	// (P2 round-robin), across all listeners and acceptors.
	BalanceRoundRobin Balance = "rr"
	// BalanceLeastConns sends it to the worker with the fewest connections.
	BalanceLeastConns Balance = "least"
)

// Config configures a Server. The zero value of every field selects its
// default.
type Config struct {
	// Listen is the list of addresses to listen on: "tcp://127.0.0.1:11211",
	// "tcp://[::1]:11211", "unix:///run/handoff.sock"; an address without a
	// scheme is TCP. At least one is required.
	Listen []string
	// Workers is the number of worker event loops; default runtime.NumCPU().
	Workers int
	// Acceptors is the number of acceptor threads; default 1. More than one
	// binds every TCP listener once per acceptor with SO_REUSEPORT; all of them
	// share the round-robin counter.
	Acceptors int
	// Notify is the notify channel; default NotifyPipe.
	Notify Notify
	// Wakeup is the wake-up policy; default WakeupPerConn.
	Wakeup Wakeup
	// Balance is the balancer; default BalanceRoundRobin.
	Balance Balance
	// MaxConns is the most connections open at once (memcached's -c); default
	// 1024. A connection accepted at the limit is sent RejectLine and closed.
	MaxConns int
	// RejectLine is sent to a connection rejected at MaxConns; default
	// "ERROR Too many open connections\r\n".
	RejectLine string
	// Backlog is listen(2)'s backlog; default 1024.
	Backlog int
	// MaxOutput bounds a connection's buffered output; default 4 MiB. Over it
	// the worker stops reading that connection until the output drains.
	MaxOutput int
	// MaxInput bounds a connection's unconsumed input; default 4 MiB. A
	// connection whose handler leaves more than this unconsumed is closed with
	// ErrInputTooLarge.
	MaxInput int
	// ReadBuffer is the size of each worker's shared read buffer; default 64 KiB.
	ReadBuffer int
	// IdleTimeout closes a connection that has received nothing for this long;
	// 0 disables it.
	IdleTimeout time.Duration
	// Trace, when not nil, receives every hand-off event at its linearization
	// point. It is called from acceptor and worker goroutines concurrently and
	// must be safe for that; nil in production costs one nil check per event.
	Trace func(model.Event)
	// Logger receives the server's log records; default slog.Default().
	Logger *slog.Logger
}

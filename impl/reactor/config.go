package reactor

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"time"

	"github.com/handoffd/handoff/model"
)

// Config configures a Server. The zero value of every field selects its
// default; Server.Config returns the values in effect.
type Config struct {
	// Listen is the list of addresses to bind: "tcp://127.0.0.1:11211",
	// "tcp://[::1]:11211", "unix:///run/handoff.sock"; an address without a
	// scheme is TCP, and an empty host is every IPv4 address. Listen and
	// Listeners together must name at least one listener.
	Listen []string
	// Listeners are sockets already listening, to serve as they are: a
	// *net.TCPListener or *net.UnixListener, or one made by net.FileListener
	// from an fd the program inherited (systemd's socket activation passes
	// fd 3 and up). The server serves a duplicate of each, so the caller may
	// close its own whenever it likes; a *net.UnixListener removes its path
	// when closed unless told not to (SetUnlinkOnClose(false)). Socket is
	// applied to the TCP ones.
	Listeners []net.Listener
	// Workers is the number of Worker event loops; default
	// runtime.GOMAXPROCS(0), one per P the program may use, which follows a
	// container's CPU limit.
	Workers int
	// Acceptors is the number of Acceptor threads; default 1. More than one
	// binds every TCP address of Listen once per Acceptor with SO_REUSEPORT;
	// all of them share the round-robin counter. A unix socket and the
	// Listeners belong to Acceptor 0.
	Acceptors int
	// IO is the backend: IOEpoll (default), IOUring or IOAuto. With
	// io_uring, Notify and Wakeup do not apply: the hand-off is an
	// IORING_OP_MSG_RING into the Worker's ring (model/'s msgring).
	IO IO
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
	// "ERROR Too many open connections\r\n", memcached's.
	RejectLine string
	// Backlog is listen(2)'s backlog; default 1024.
	Backlog int
	// MaxOutput bounds a connection's buffered output; default 4 MiB. Over it
	// the Worker stops reading that connection until the output drains.
	MaxOutput int
	// MaxInput bounds a connection's unconsumed input; default 4 MiB. A
	// connection whose handler leaves more than this unconsumed after a call
	// of OnData is closed with ErrInputTooLarge. The bytes of the read that
	// brought them count, so a handler that needs n bytes before it can
	// consume any needs MaxInput >= n-1+ReadBuffer.
	MaxInput int
	// ReadBuffer is the size of each Worker's read buffer, shared by its
	// connections, and so the most one read(2) takes; default 64 KiB.
	ReadBuffer int
	// IdleTimeout closes a connection that has received nothing for this
	// long, with ErrIdleTimeout; 0 disables it.
	IdleTimeout time.Duration
	// Socket holds the options set on the TCP listeners, which every
	// connection they accept inherits.
	Socket SocketOptions
	// RaiseProcs makes Serve raise the process's GOMAXPROCS to
	// Workers+Acceptors+1 when it is lower (never lowering it), and lets the
	// loops wait first in a raw epoll_wait that keeps their P; default false,
	// GOMAXPROCS left alone.
	//
	// A program whose main job is this server sets it: each Acceptor and
	// Worker is a goroutine locked to its thread, and with a P of its own a
	// busy loop never waits for sysmon to hand it one (on 2 cores with 2
	// Workers, 9-10% less server CPU per request and per short connection).
	// A library leaves it off, because GOMAXPROCS is process-wide and
	// setting it also ends the runtime's own updates of it when a
	// container's CPU limit changes. Without it, the raw wait is used only
	// when GOMAXPROCS already leaves every loop a P and one to spare.
	RaiseProcs bool
	// Trace, when not nil, receives every hand-off event at its
	// linearization point, so that a recorded trace is a real order of the
	// steps and replays through the model (spec/DESIGN.md §4). It is called
	// from Acceptor and Worker goroutines concurrently and must be safe for
	// that; nil costs one nil check per event.
	Trace func(model.Event)
	// Logger receives the server's log records; default slog.Default().
	Logger *slog.Logger
}

// SocketOptions are set on every TCP listener; the kernel copies them to
// each connection at accept, so none costs a system call per connection.
// The zero value is memcached's choice.
type SocketOptions struct {
	// Nagle turns Nagle's algorithm back on; default off (TCP_NODELAY): a
	// reactor writes whole replies, and holding one back for an ACK only
	// adds latency.
	Nagle bool
	// KeepAlive is the idle time before TCP keepalive probes, and the
	// interval between them; 0 (default) turns keepalive on with the
	// system's timers (net.ipv4.tcp_keepalive_time, 2 hours by default), as
	// memcached does; negative turns it off. It finds peers that vanished
	// without a FIN; IdleTimeout closes those that are merely quiet.
	KeepAlive time.Duration
	// Linger: 0 (default) lets close(2) return at once while the kernel
	// sends what is left; negative makes close(2) discard unsent output and
	// reset the connection (SO_LINGER with a zero timeout), leaving no
	// TIME_WAIT behind. A positive value is refused: a lingering close blocks
	// the Worker's thread, and so every connection of that Worker.
	Linger time.Duration
	// RecvBuffer and SendBuffer set SO_RCVBUF and SO_SNDBUF when positive;
	// 0 (default) leaves the kernel's autotuning alone.
	RecvBuffer, SendBuffer int
}

// IO selects the system calls the loops are built on.
type IO string

const (
	// IOEpoll is memcached's design: epoll sets, accept4, read and send,
	// and a pipe or eventfd per Worker for the hand-off.
	IOEpoll IO = "epoll"
	// IOUring is io_uring: a multishot accept per listener, the hand-off
	// by MSG_RING into the Worker's ring, multishot receives into a
	// provided buffer ring and sends submitted together, one
	// io_uring_enter per loop turn. New fails if this kernel or process
	// cannot use io_uring (ENOSYS, a seccomp filter, the
	// io_uring_disabled sysctl, a kernel before 6.0).
	IOUring IO = "uring"
	// IOAuto is IOUring where it can be used and IOEpoll elsewhere; New
	// logs which, and Server.Config and Stats report it.
	IOAuto IO = "auto"
)

// Notify selects how an Acceptor wakes a Worker.
type Notify string

const (
	// NotifyPipe writes one byte per token to a pipe; the Worker reads up to
	// 32 bytes at a time, as memcached does.
	NotifyPipe Notify = "pipe"
	// NotifyEventfd adds 1 to an eventfd counter; a read returns and resets
	// it.
	NotifyEventfd Notify = "eventfd"
)

// Wakeup selects when an Acceptor writes a token.
type Wakeup string

const (
	// WakeupPerConn writes a token for every dispatched connection
	// (memcached).
	WakeupPerConn Wakeup = "per-conn"
	// WakeupCoalesced writes a token only when the Worker's notified flag
	// flips 0→1; the Worker clears the flag, drains its queue, then looks
	// again.
	WakeupCoalesced Wakeup = "coalesced"
)

// Balance selects the Worker a new connection is dispatched to.
type Balance string

const (
	// BalanceRoundRobin sends the k-th accepted connection to Worker k mod
	// N (P2 round-robin), across all listeners and Acceptors.
	BalanceRoundRobin Balance = "rr"
	// BalanceLeastConns sends it to the Worker with the fewest connections.
	BalanceLeastConns Balance = "least"
)

// The defaults of Config's zero fields.
const (
	defaultAcceptors  = 1
	defaultMaxConns   = 1024
	defaultRejectLine = "ERROR Too many open connections\r\n"
	defaultBacklog    = 1024
	defaultMaxOutput  = 4 << 20
	defaultMaxInput   = 4 << 20
	defaultReadBuffer = 64 << 10
)

// WithDefaults returns cfg with its zero fields set to their defaults, as
// New applies them, or an error naming the first field no default can
// repair. A program that derives one setting from another (a handler's
// input bound from ReadBuffer, say) reads them here before New rather than
// copying the defaults.
func (cfg Config) WithDefaults() (Config, error) {
	if len(cfg.Listen) == 0 && len(cfg.Listeners) == 0 {
		return cfg, fmt.Errorf("reactor: Config.Listen and Config.Listeners are both empty")
	}
	for i, ln := range cfg.Listeners {
		if ln == nil {
			return cfg, fmt.Errorf("reactor: Config.Listeners[%d] is nil", i)
		}
	}
	for _, f := range []struct {
		v    *int
		d    int
		name string
	}{
		{&cfg.Workers, runtime.GOMAXPROCS(0), "Workers"},
		{&cfg.Acceptors, defaultAcceptors, "Acceptors"},
		{&cfg.MaxConns, defaultMaxConns, "MaxConns"},
		{&cfg.Backlog, defaultBacklog, "Backlog"},
		{&cfg.MaxOutput, defaultMaxOutput, "MaxOutput"},
		{&cfg.MaxInput, defaultMaxInput, "MaxInput"},
		{&cfg.ReadBuffer, defaultReadBuffer, "ReadBuffer"},
		{&cfg.Socket.RecvBuffer, 0, "Socket.RecvBuffer"},
		{&cfg.Socket.SendBuffer, 0, "Socket.SendBuffer"},
	} {
		if *f.v < 0 {
			return cfg, fmt.Errorf("reactor: Config.%s is negative: %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	if cfg.IdleTimeout < 0 {
		return cfg, fmt.Errorf("reactor: Config.IdleTimeout is negative: %v", cfg.IdleTimeout)
	}
	if cfg.Socket.Linger > 0 {
		return cfg, fmt.Errorf("reactor: Config.Socket.Linger is positive (%v): a lingering close would block a Worker", cfg.Socket.Linger)
	}
	switch cfg.IO {
	case "":
		cfg.IO = IOEpoll
	case IOEpoll, IOUring, IOAuto:
	default:
		return cfg, fmt.Errorf("reactor: unknown Config.IO %q (want %q, %q or %q)", cfg.IO, IOEpoll, IOUring, IOAuto)
	}
	if err := choose(&cfg.Notify, "Notify", NotifyPipe, NotifyEventfd); err != nil {
		return cfg, err
	}
	if err := choose(&cfg.Wakeup, "Wakeup", WakeupPerConn, WakeupCoalesced); err != nil {
		return cfg, err
	}
	if err := choose(&cfg.Balance, "Balance", BalanceRoundRobin, BalanceLeastConns); err != nil {
		return cfg, err
	}
	if cfg.RejectLine == "" {
		cfg.RejectLine = defaultRejectLine
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg, nil
}

// choose sets an empty *v to def and accepts def or other; anything else is
// an error naming Config's field and both choices.
func choose[T ~string](v *T, field string, def, other T) error {
	switch *v {
	case "":
		*v = def
	case def, other:
	default:
		return fmt.Errorf("reactor: unknown Config.%s %q (want %q or %q)", field, *v, def, other)
	}
	return nil
}

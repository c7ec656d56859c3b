// Package kernel is the reactor's system-call boundary: the few calls its
// Acceptors and Workers make (epoll, eventfd and pipe, accept4, read, send,
// close), behind one interface, so that another kernel can stand in for
// Linux's without a change to the loops. Nothing here decides anything about
// connections: no buffering, no retry policy, no state beyond the fds it
// hands out; those are the reactor's.
//
// The one implementation today is Linux's epoll (New); on other systems New
// returns an error wrapping errors.ErrUnsupported, and everything else in this
// package still compiles, so the reactor's own code does too.
package kernel

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Kernel is the set of system calls a reactor makes.
//
// The calls of the loops (Poll*, Accept, Read, Write, Send, Close,
// WaitWritable) return a bare syscall.Errno on failure, never a wrapped
// error: the loops switch on EAGAIN and EINTR at every call, and a wrapped
// error would cost an allocation each time. The caller wraps an error once,
// where it reports it (os.NewSyscallError with the call's name). The set-up
// calls (Listen*, Inherit, LocalAddr, PeerError's result) return errors
// already wrapped with the call's name.
//
// Every method may be called from any goroutine; an fd is used by one
// goroutine at a time, as the reactor's ownership rules say.
type Kernel interface {
	// PollCreate returns a new, empty readiness set (epoll_create1).
	PollCreate() (int, error)
	// PollCtl adds fd to the set ep, changes its interest, or removes it
	// (op Add, Mod, Del). events is a mask of In, Out, Err and Hup; tag is
	// returned in every Event of this registration (the reactor's
	// connection generation).
	PollCtl(ep int, op Op, fd int, events, tag uint32) error
	// PollWait fills evs with the ready registrations of ep, waiting up to
	// msec milliseconds for one (-1: without limit, 0: not at all). It
	// returns (0, nil) when msec passes and EINTR when a signal interrupts.
	PollWait(ep int, evs []Event, msec int) (int, error)

	// Eventfd returns a non-blocking counter: a Write of 8 bytes adds to it,
	// a Read of 8 bytes returns the count and resets it.
	Eventfd() (int, error)
	// Pipe returns a non-blocking pipe's read and write ends.
	Pipe() (r, w int, err error)

	// Accept takes the next connection of the listening socket lfd,
	// non-blocking and close-on-exec, with its peer's address.
	Accept(lfd int) (fd int, peer Peer, err error)
	// Read reads into p; 0 bytes and a nil error mean end of input.
	Read(fd int, p []byte) (int, error)
	// Write writes p to a pipe or an eventfd.
	Write(fd int, p []byte) (int, error)
	// Send writes p to a socket. A peer that is gone makes it fail with
	// EPIPE; it never raises SIGPIPE, which a program may have asked to
	// receive for its own reasons.
	Send(fd int, p []byte) (int, error)
	// Close releases fd. It is never retried on EINTR: the fd is released
	// whatever the result, and a retry could close a number another
	// goroutine has just been given.
	Close(fd int) error
	// WaitWritable waits up to msec milliseconds for fd to take a write.
	WaitWritable(fd int, msec int) error
	// Now is the kernel's monotonic clock, in nanoseconds from an arbitrary
	// start: the loops' only clock, so that a kernel that simulates time
	// also decides when idle connections time out.
	Now() int64

	// PeerError returns a socket's pending error (SO_ERROR), or ECONNRESET
	// when it has none to give for a hang-up; wrapped as a read error.
	PeerError(fd int) error
	// LocalAddr is the socket's own address (getsockname).
	LocalAddr(fd int) (net.Addr, error)
	// PeerAddr is a connected socket's peer (getpeername), for a
	// connection accepted without its address; ENOTCONN once the peer
	// has reset it.
	PeerAddr(fd int) (net.Addr, error)
	// ListenTCP binds and listens on ap with opt, setting SO_REUSEPORT when
	// reusePort is true, and returns the socket and its bound address (port
	// 0 resolved).
	ListenTCP(ap netip.AddrPort, backlog int, reusePort bool, opt SockOpts) (int, netip.AddrPort, error)
	// ListenUnix binds and listens on a unix socket at path.
	ListenUnix(path string, backlog int) (int, error)
	// Inherit takes a listening stream socket the program was given (by a
	// parent, by systemd socket activation, or from a net.Listener's File),
	// as a duplicate fd it owns, non-blocking and close-on-exec, with opt
	// applied when it is TCP; f stays the caller's to close.
	Inherit(f *os.File, opt SockOpts) (int, net.Addr, error)
}

// Options configure the kernel New returns.
type Options struct {
	// RawWait makes PollWait wait first in a raw epoll_wait of at most
	// loopwait.RawMax that keeps the thread's P (loopwait.Wait), then in one
	// the scheduler knows of. It pays only when every polling thread has a P
	// of its own and one is left for the rest of the program; with fewer Ps,
	// the other goroutines wait up to RawMax for one.
	RawWait bool
}

// Op is a PollCtl operation.
type Op int

// The PollCtl operations; their values are epoll_ctl's.
const (
	Add Op = 1
	Del Op = 2
	Mod Op = 3
)

// The readiness bits of Event.Events and PollCtl's events; their values are
// epoll's (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP), so the Linux kernel passes
// them through unchanged.
const (
	In  uint32 = 0x1
	Out uint32 = 0x4
	Err uint32 = 0x8
	Hup uint32 = 0x10
)

// SockOpts are the options set on a TCP listener, which the connections it
// accepts inherit: set once per listener, not once per connection.
type SockOpts struct {
	// Nagle leaves Nagle's algorithm on; false sets TCP_NODELAY.
	Nagle bool
	// KeepAlive: 0 turns SO_KEEPALIVE on with the system's timers; > 0 also
	// sets the idle time and the probe interval to it; < 0 leaves it off.
	KeepAlive time.Duration
	// Abort sets SO_LINGER with a zero timeout: close(2) discards unsent
	// output and resets the connection instead of a FIN.
	Abort bool
	// RecvBuffer and SendBuffer, when > 0, set SO_RCVBUF and SO_SNDBUF.
	RecvBuffer, SendBuffer int
}

// Peer is a connection's remote address, decoded once at accept and turned
// into a net.Addr only when asked.
type Peer struct {
	// AP is a TCP peer's address; invalid for a unix peer.
	AP netip.AddrPort
	// Zone is an IPv6 peer's scope id, 0 if none; named only by Addr,
	// since naming it takes a system call.
	Zone uint32
	// Path is a unix peer's path: "" when unnamed, "@name" when abstract.
	Path string
}

// Addr returns p as a *net.TCPAddr or a *net.UnixAddr.
func (p Peer) Addr() net.Addr {
	if p.AP.IsValid() {
		a := net.TCPAddrFromAddrPort(p.AP)
		if p.Zone != 0 {
			if ifi, err := net.InterfaceByIndex(int(p.Zone)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	}
	return &net.UnixAddr{Name: p.Path, Net: "unix"}
}

// Kick adds 1 to the eventfd fd, waking whoever polls it. EAGAIN means the
// counter is already at its maximum, so the reader is woken anyway; any other
// failure means fd is closed, and so has no reader left to wake.
func Kick(k Kernel, fd int) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], 1)
	for {
		if _, err := k.Write(fd, b[:]); err != syscall.EINTR {
			return
		}
	}
}

// Reset reads the eventfd fd, setting its counter back to 0.
func Reset(k Kernel, fd int) {
	var b [8]byte
	for {
		if _, err := k.Read(fd, b[:]); err != syscall.EINTR {
			return
		}
	}
}

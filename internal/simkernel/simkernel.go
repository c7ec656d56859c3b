// Package simkernel is a simulated kernel for the reactor's tests: an fd
// table that hands out the lowest free number, sockets with small bounded
// buffers, listen backlogs, level-triggered poll sets, pipes and eventfds,
// a clock that moves only when told, and peers that the test drives. It
// implements internal/kernel.Kernel, so the reactor's real Acceptor and
// Worker code runs on it unchanged, on one goroutine, in an order the test
// chooses.
//
// Nothing in it blocks, sleeps or reads the real clock: PollWait returns at
// once with what is ready, so a run is a function of the test's choices and
// a seed, and replays exactly. It is for tests only, and for schedules the
// real kernel cannot be made to take; it is not safe for concurrent use.
package simkernel

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"syscall"

	"github.com/handoffd/handoff/internal/kernel"
)

// Kernel is the simulated kernel.
type Kernel struct {
	// files is the fd table; an fd is free when it has no entry.
	files map[int]file
	// MaxFDs is RLIMIT_NOFILE: Accept fails with EMFILE, and the other
	// calls that make an fd with EMFILE too, once this many are open.
	MaxFDs int
	// SockBuf is each direction's buffer of a new socket, in bytes: small,
	// so that short writes and EAGAIN are common.
	SockBuf int
	// Faults, when set, is asked before a call whether to fail it.
	Faults Faults
	now    int64
	nextID int
	ports  int
	// Between, when set, is called as each call of the loops begins (accept,
	// read, write, send, close, pollctl, pollwait), before it takes effect:
	// the test's chance to act there as another goroutine or a peer would,
	// in the middle of a loop's pass. Calls it makes itself do not call it
	// again.
	Between   func(call string)
	inBetween bool
	// Shuffle, when set, orders each PollWait's ready events (rand.Shuffle's
	// contract); unset, they come in fd order. epoll reports them in the
	// order they became ready, which a loop must not depend on.
	Shuffle func(n int, swap func(i, j int))
	// Violations are misuses no correct reactor makes: closing an fd that
	// is not open, reading or writing one, registering one twice.
	Violations []string
	// Closed counts every socket close(2) by the reactor, by socket id.
	Closed map[int]int
}

// Faults decides which calls fail; nil fails none.
type Faults interface {
	// Fail returns the errno call should fail with, or 0. call is one of
	// "accept", "read", "send", "write", "pollctl add", "pollctl mod",
	// "pollwait".
	Fail(call string) syscall.Errno
	// Short returns how many of n bytes a read or send may move (1..n).
	Short(call string, n int) int
}

// New returns an empty kernel with room for maxFDs fds and sockets of
// sockBuf bytes each way.
func New(maxFDs, sockBuf int) *Kernel {
	return &Kernel{files: map[int]file{}, MaxFDs: maxFDs, SockBuf: sockBuf, Closed: map[int]int{}, ports: 40000}
}

var _ kernel.Kernel = (*Kernel)(nil)

// file is what an fd refers to.
type file interface {
	// ready is the file's readiness as In, Out, Err and Hup bits.
	ready() uint32
}

func (k *Kernel) violation(format string, a ...any) {
	k.Violations = append(k.Violations, fmt.Sprintf(format, a...))
}

// alloc gives f the lowest free fd, from 3 up (0–2 are stdio), or fails
// with EMFILE.
func (k *Kernel) alloc(f file) (int, error) {
	if len(k.files) >= k.MaxFDs {
		return -1, syscall.EMFILE
	}
	fd := 3
	for k.files[fd] != nil {
		fd++
	}
	k.files[fd] = f
	return fd, nil
}

// Open lists the fds open now, in order.
func (k *Kernel) Open() []int {
	var fds []int
	for fd := range k.files {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	return fds
}

// SocketID returns the id of the socket on fd (the same for the socket's
// whole life, whatever fd numbers come and go), or -1 if fd holds none.
func (k *Kernel) SocketID(fd int) int {
	if s, ok := k.files[fd].(*sock); ok {
		return s.id
	}
	return -1
}

// Advance moves the clock by d nanoseconds.
func (k *Kernel) Advance(d int64) { k.now += d }

func (k *Kernel) Now() int64 { return k.now }

// enter runs Between for call, unless a call of Between's own is entering.
func (k *Kernel) enter(call string) {
	if k.Between == nil || k.inBetween {
		return
	}
	k.inBetween = true
	defer func() { k.inBetween = false }()
	k.Between(call)
}

func (k *Kernel) fail(call string) error {
	if k.Faults == nil {
		return nil
	}
	if e := k.Faults.Fail(call); e != 0 {
		return e
	}
	return nil
}

func (k *Kernel) PollCreate() (int, error) { return k.alloc(&pollSet{regs: map[int]*reg{}}) }

func (k *Kernel) Eventfd() (int, error) { return k.alloc(&counter{}) }

func (k *Kernel) Pipe() (int, int, error) {
	p := &pipe{cap: 64}
	r, err := k.alloc(&pipeEnd{p: p})
	if err != nil {
		return -1, -1, err
	}
	w, err := k.alloc(&pipeEnd{p: p, write: true})
	if err != nil {
		delete(k.files, r)
		return -1, -1, err
	}
	return r, w, nil
}

func (k *Kernel) PollCtl(ep int, op kernel.Op, fd int, events, tag uint32) error {
	k.enter("pollctl")
	ps, ok := k.files[ep].(*pollSet)
	if !ok {
		k.violation("epoll_ctl on fd %d, not a poll set", ep)
		return syscall.EBADF
	}
	f := k.files[fd]
	if f == nil {
		k.violation("epoll_ctl %d of fd %d, not open", op, fd)
		return syscall.EBADF
	}
	if op == kernel.Add {
		if err := k.fail("pollctl add"); err != nil {
			return err
		}
	}
	if op == kernel.Mod {
		if err := k.fail("pollctl mod"); err != nil {
			return err
		}
	}
	r := ps.regs[fd]
	if r != nil && r.f != f {
		r = nil // the registration of an fd since closed: gone with it
		delete(ps.regs, fd)
	}
	switch op {
	case kernel.Add:
		if r != nil {
			return syscall.EEXIST
		}
		ps.regs[fd] = &reg{f: f, events: events, tag: tag}
	case kernel.Mod:
		if r == nil {
			return syscall.ENOENT
		}
		r.events, r.tag = events, tag
	case kernel.Del:
		if r == nil {
			return syscall.ENOENT
		}
		delete(ps.regs, fd)
	}
	return nil
}

// PollWait never blocks: it returns the registrations ready now, in fd
// order; msec is the caller's business (the test moves the clock).
func (k *Kernel) PollWait(ep int, evs []kernel.Event, msec int) (int, error) {
	k.enter("pollwait")
	ps, ok := k.files[ep].(*pollSet)
	if !ok {
		k.violation("epoll_wait on fd %d, not a poll set", ep)
		return 0, syscall.EBADF
	}
	if err := k.fail("pollwait"); err != nil {
		return 0, err
	}
	n := 0
	for _, fd := range ps.sorted() {
		if n == len(evs) {
			break
		}
		r := ps.regs[fd]
		if k.files[fd] != r.f {
			delete(ps.regs, fd) // closed: the kernel drops it
			continue
		}
		if got := r.f.ready() & (r.events | kernel.Err | kernel.Hup); got != 0 {
			evs[n] = kernel.Event{Events: got, Fd: int32(fd), Pad: int32(r.tag)}
			n++
		}
	}
	if k.Shuffle != nil {
		k.Shuffle(n, func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	}
	return n, nil
}

func (k *Kernel) Accept(lfd int) (int, kernel.Peer, error) {
	k.enter("accept")
	ln, ok := k.files[lfd].(*listener)
	if !ok {
		k.violation("accept on fd %d, not a listener", lfd)
		return -1, kernel.Peer{}, syscall.EBADF
	}
	if len(ln.backlog) == 0 {
		return -1, kernel.Peer{}, syscall.EAGAIN
	}
	if err := k.fail("accept"); err != nil {
		return -1, kernel.Peer{}, err
	}
	s := ln.backlog[0]
	fd, err := k.alloc(s)
	if err != nil {
		return -1, kernel.Peer{}, err
	}
	ln.backlog = ln.backlog[1:]
	s.accepted = true
	return fd, kernel.Peer{AP: s.peerAP()}, nil
}

func (k *Kernel) Read(fd int, p []byte) (int, error) {
	k.enter("read")
	switch f := k.files[fd].(type) {
	case *counter:
		if f.n == 0 {
			return 0, syscall.EAGAIN
		}
		if len(p) < 8 {
			return 0, syscall.EINVAL
		}
		binary.NativeEndian.PutUint64(p, f.n)
		f.n = 0
		return 8, nil
	case *pipeEnd:
		if f.write {
			return 0, syscall.EBADF
		}
		if len(f.p.buf) == 0 {
			return 0, syscall.EAGAIN
		}
		n := copy(p, f.p.buf)
		f.p.buf = f.p.buf[n:]
		return n, nil
	case *sock:
		if err := k.fail("read"); err != nil {
			return 0, err
		}
		return f.read(p, k)
	case nil:
		k.violation("read of fd %d, not open", fd)
		return 0, syscall.EBADF
	}
	return 0, syscall.EINVAL
}

func (k *Kernel) Write(fd int, p []byte) (int, error) {
	k.enter("write")
	switch f := k.files[fd].(type) {
	case *counter:
		if len(p) != 8 {
			return 0, syscall.EINVAL
		}
		f.n += binary.NativeEndian.Uint64(p)
		return 8, nil
	case *pipeEnd:
		if !f.write {
			return 0, syscall.EBADF
		}
		if err := k.fail("write"); err != nil {
			return 0, err
		}
		room := f.p.cap - len(f.p.buf)
		if room == 0 {
			return 0, syscall.EAGAIN
		}
		n := min(room, len(p))
		f.p.buf = append(f.p.buf, p[:n]...)
		return n, nil
	case nil:
		k.violation("write of fd %d, not open", fd)
		return 0, syscall.EBADF
	}
	return 0, syscall.EINVAL
}

func (k *Kernel) Send(fd int, p []byte) (int, error) {
	k.enter("send")
	s, ok := k.files[fd].(*sock)
	if !ok {
		k.violation("send on fd %d, not a socket", fd)
		return 0, syscall.EBADF
	}
	if err := k.fail("send"); err != nil {
		return 0, err
	}
	return s.send(p, k)
}

func (k *Kernel) Close(fd int) error {
	k.enter("close")
	f := k.files[fd]
	if f == nil {
		k.violation("close of fd %d, not open", fd)
		return syscall.EBADF
	}
	delete(k.files, fd)
	switch f := f.(type) {
	case *sock:
		k.Closed[f.id]++
		f.close()
	case *pipeEnd:
		if f.write {
			f.p.writerGone = true
		}
	}
	return nil
}

func (k *Kernel) WaitWritable(fd int, msec int) error { return nil }

func (k *Kernel) PeerError(fd int) error {
	if s, ok := k.files[fd].(*sock); ok && s.reset {
		return os.NewSyscallError("read", syscall.ECONNRESET)
	}
	return os.NewSyscallError("read", syscall.ECONNRESET)
}

func (k *Kernel) LocalAddr(fd int) (net.Addr, error) {
	if s, ok := k.files[fd].(*sock); ok {
		return s.local, nil
	}
	return nil, os.NewSyscallError("getsockname", syscall.ENOTSOCK)
}

func (k *Kernel) PeerAddr(fd int) (net.Addr, error) {
	if s, ok := k.files[fd].(*sock); ok {
		return net.TCPAddrFromAddrPort(s.peerAP()), nil
	}
	return nil, os.NewSyscallError("getpeername", syscall.ENOTSOCK)
}

func (k *Kernel) ListenTCP(ap netip.AddrPort, backlog int, reusePort bool, opt kernel.SockOpts) (int, netip.AddrPort, error) {
	if ap.Port() == 0 {
		k.ports++
		ap = netip.AddrPortFrom(ap.Addr(), uint16(k.ports))
	}
	fd, err := k.alloc(&listener{addr: net.TCPAddrFromAddrPort(ap), max: backlog})
	return fd, ap, err
}

func (k *Kernel) ListenUnix(path string, backlog int) (int, error) {
	return k.alloc(&listener{addr: &net.UnixAddr{Name: path, Net: "unix"}, max: backlog})
}

func (k *Kernel) Inherit(f *os.File, opt kernel.SockOpts) (int, net.Addr, error) {
	return -1, nil, fmt.Errorf("simkernel: no inherited listeners")
}

// peerAP is the address a sock's peer dialled from.
func (s *sock) peerAP() netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+s.id))
}

// Dial queues a new connection on the listener at fd and returns its peer,
// or nil when the backlog is full (the real kernel would drop the SYN).
func (k *Kernel) Dial(lfd int) *Peer {
	ln, ok := k.files[lfd].(*listener)
	if !ok || len(ln.backlog) >= ln.max {
		return nil
	}
	k.nextID++
	s := &sock{id: k.nextID, cap: k.SockBuf, local: ln.addr}
	s.peer = &Peer{s: s}
	ln.backlog = append(ln.backlog, s)
	return s.peer
}

// Listeners lists the fds of the listeners open now, in order.
func (k *Kernel) Listeners() []int {
	var fds []int
	for _, fd := range k.Open() {
		if _, ok := k.files[fd].(*listener); ok {
			fds = append(fds, fd)
		}
	}
	return fds
}
